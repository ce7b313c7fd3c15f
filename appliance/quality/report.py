"""The dataset report: a terminal summary, a JSON body for machines and a self-contained HTML page with plots.

Reports hold aggregates and per-record scores only, never record texts, so writing one to a file discloses no
record. The HTML embeds its matplotlib figures as base64 PNGs (no external files, scripts or fonts).
"""

from __future__ import annotations

import base64
import html
import io
import math
from typing import Any

REPORT_KIND = "quality"
HTML_KIND = "quality_html"
EVAL_KIND = "evaluation"


def build_body(job: dict[str, Any], task_name: str, metrics: dict[str, Any], evaluation: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "job_id": job["id"],
        "task": task_name,
        "method": job["method"],
        "model": job["config"].get("model"),
        "model_sha256": job["config"].get("model_sha256"),
        "metrics": metrics,
        "evaluation": evaluation,
    }


# ------------------------------------------------------------------ terminal


def _fmt(x: Any, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{100 * x:.1f}" if pct else (f"{x:.3f}" if isinstance(x, float) else str(x))


def eval_table(evaluation: dict[str, Any]):
    from rich.table import Table

    t = Table("task model", "trained on", "n_train", "accuracy %", "macro-F1 %", title=f"on {evaluation.get('real_path', 'real data')} ({evaluation['n_real']} rows)")
    for r in evaluation["rows"]:
        t.add_row(r["task_model"], r["method"], str(r["n_train"]), _fmt(r["accuracy"], True), _fmt(r["macro_f1"], True))
    t.add_row("majority class", "–", "–", _fmt(evaluation["majority_baseline"], True), "–")
    return t


def label_filter_table(lf: dict[str, Any]):
    """A label filter's effect: records removed by label, and each task model's accuracy without and with it."""
    from rich.table import Table

    removed = ", ".join(f"{lab} {n}" for lab, n in lf["removed_by_label"].items())
    t = Table("task model", "n without", "accuracy % without", "n with", "accuracy % with", "macro-F1 % without / with",
              title=f"label filter {lf['name']}: removes {lf['removed']} of {lf['records']} records ({removed})")
    for r in lf.get("rows", []):
        t.add_row(r["task_model"], str(r["n_without"]), _fmt(r["accuracy_without"], True), str(r["n_with"]),
                  _fmt(r["accuracy_with"], True), f"{_fmt(r['macro_f1_without'], True)} / {_fmt(r['macro_f1_with'], True)}")
    return t


def leak_line(leak: dict[str, Any] | None) -> str:
    """One line: the share of records that spell out their own label's description or a verbalizer."""
    if not leak or leak.get("fraction") is None:
        return "label leak: –"
    per = ", ".join(f"{lab} {_fmt(v['fraction'], True)}%" for lab, v in leak["per_label"].items() if v["records"])
    return f"label leak: {_fmt(leak['fraction'], True)}% of records contain their label's description or a verbalizer ({per})"


def judge_filter_note(correctness: dict[str, Any]) -> str:
    """What the judge's agreement means after a label filter that chose by the same judge (``judge``): the filter
    removed the records the judge disagreed with, so the agreement on the rest reads (near) 100% by construction. The
    note says so and gives the agreement before the filter; empty when no such filter ran. Every place that shows the
    agreement (terminal, HTML, the TUI's Quality screen) appends it."""
    b = correctness.get("before_label_filter")
    if not b:
        return ""
    return (f" · after label filter {b['label_filter']}, which removed the {b['removed']} records this judge "
            f"disagreed with (so high by construction); before it, on all {b['records']}: "
            f"{_fmt(b['agreement'], True)}% (calibrated {_fmt(b['agreement_calibrated'], True)}%)")


def print_summary(console, body: dict[str, Any]) -> None:
    from rich.table import Table

    m = body["metrics"]
    console.print(f"[bold]Quality report · job {body['job_id']} · {body['task']} · {body['method']} · {m['n_records']} accepted records", soft_wrap=True)
    t = Table("label", "records")
    for lab, n in m["label_counts"].items():
        t.add_row(lab, str(n))
    console.print(t)
    d = m["diversity"]
    emb = d.get("embedding_cosine") or {}
    console.print(
        f"diversity: distinct-1/2/3 {_fmt(d['distinct_1'])} / {_fmt(d['distinct_2'])} / {_fmt(d['distinct_3'])} · vocabulary "
        f"{d['vocabulary']} · Self-BLEU-1..4 {' / '.join(_fmt(d[f'self_bleu_{n}']) for n in range(1, 5))} "
        f"(sample {d['self_bleu_sample']}) · embedding cosine within labels {_fmt(emb.get('within_label'))}, "
        f"across labels {_fmt(emb.get('across_labels'))}",
        soft_wrap=True,
    )
    c = m.get("correctness") or {}
    if "agreement" in c:
        console.print(f"correctness: verbalizer judge agrees with the intended label on {_fmt(c['agreement'], True)}% "
                      f"(calibrated {_fmt(c['agreement_calibrated'], True)}%){judge_filter_note(c)}", soft_wrap=True,
                      markup=False)
    if "oracle" in c:
        console.print(f"correctness: oracle classifier (trained on {c['oracle']['n_real']} real rows) agrees on "
                      f"{_fmt(c['oracle']['agreement'], True)}%", soft_wrap=True)
    n = m.get("naturalness")
    if n:
        p = n["perplexity"]
        console.print(f"naturalness: perplexity mean {p['mean']:.1f}, median {p['median']:.1f}, p90 {p['p90']:.1f} "
                      f"(model {body.get('scoring_model') or body.get('model')})", soft_wrap=True)
    if m.get("filter"):
        f = m["filter"]
        console.print(f"quality filter {f['rules']}: keeps {f['kept']}, drops {f['dropped']} · reasons {f['reasons'] or 'none'}", soft_wrap=True)
    if "label_leak" in m:
        console.print(leak_line(m["label_leak"]), soft_wrap=True)
    for w in m.get("prompt_warnings") or []:
        console.print(f"warning: {w}", soft_wrap=True, markup=False)
    if m.get("label_filter"):
        lf = m["label_filter"]
        console.print(f"label filter {lf['name']}: removes {lf['removed']} of {lf['records']} records · by label "
                      f"{lf['removed_by_label']}", soft_wrap=True, markup=False)
    if body.get("evaluation"):
        console.print(eval_table(body["evaluation"]))
        if body["evaluation"].get("label_filter"):
            console.print(label_filter_table(body["evaluation"]["label_filter"]))


# ------------------------------------------------------------------ HTML


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _bar(title: str, counts: dict[str, int]) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 0.4 * max(3, len(counts)) + 0.8))
    keys = list(counts)
    ax.barh(keys, [counts[k] for k in keys], color="#4878a8")
    ax.invert_yaxis()
    ax.set_title(title)
    ax.set_xlabel("records")
    return _png(fig)


def _hist(title: str, values: list[float], xlabel: str, log: bool = False) -> str:
    import matplotlib.pyplot as plt

    v = [x for x in values if x is not None and not (isinstance(x, float) and math.isnan(x))]
    fig, ax = plt.subplots(figsize=(6, 3))
    if log:
        v = [math.log10(x) for x in v if x > 0]
        xlabel = f"log10 {xlabel}"
    ax.hist(v, bins=30, color="#6a9f58")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("records")
    return _png(fig)


def _curve(curve: list[dict[str, Any]], rows: list[dict[str, Any]]) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name in sorted({r["task_model"] for r in curve}):
        pts = sorted((r["n_train"], r["accuracy"]) for r in curve if r["task_model"] == name)
        ax.plot([p[0] for p in pts], [100 * p[1] for p in pts], marker="o", label=name)
    for r in rows:
        if r["method"] == "prompting":
            ax.axhline(100 * r["accuracy"], linestyle="--", linewidth=1, color="gray" if r["task_model"] == "prompting" else "black",
                       label=r["task_model"])
    ax.set_xscale("log")
    ticks = sorted({r["n_train"] for r in curve})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("synthetic training records")
    ax.set_ylabel("accuracy on real data (%)")
    ax.set_title("accuracy vs. synthetic data size")
    ax.legend(fontsize=8)
    return _png(fig)


def render_html(body: dict[str, Any]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    m = body["metrics"]
    e = html.escape
    figs: list[tuple[str, str]] = [("Labels", _bar("records per label", m["label_counts"]))]
    for name, counts in m.get("attribute_counts", {}).items():
        figs.append((f"Attribute: {name}", _bar(f"records per {name}", counts)))
    figs.append(("Length", _hist("record length", m["lengths_words"], "words")))
    c = m.get("correctness") or {}
    if c.get("margins_calibrated"):
        figs.append(("Verbalizer judge margin", _hist("intended label's log-score minus best other (calibrated; > 0 agrees)", c["margins_calibrated"], "margin")))
    n = m.get("naturalness")
    if n:
        figs.append(("Perplexity", _hist("perplexity under the scoring model", n["perplexities"], "perplexity", log=True)))
    ev = body.get("evaluation")
    if ev and ev.get("curve"):
        figs.append(("Accuracy vs. size", _curve(ev["curve"], ev["rows"])))

    d = m["diversity"]
    emb = d.get("embedding_cosine") or {}
    metric_rows = [
        ("records (accepted)", m["n_records"]),
        ("distinct-1 / 2 / 3", f"{_fmt(d['distinct_1'])} / {_fmt(d['distinct_2'])} / {_fmt(d['distinct_3'])}"),
        ("vocabulary", d["vocabulary"]),
        (f"Self-BLEU-1..4 (sample {d['self_bleu_sample']}; lower is more diverse)", " / ".join(_fmt(d[f"self_bleu_{k}"]) for k in range(1, 5))),
        ("embedding cosine within labels / across labels", f"{_fmt(emb.get('within_label'))} / {_fmt(emb.get('across_labels'))}"),
    ]
    if "agreement" in c:
        metric_rows.append(("verbalizer judge agreement (raw / calibrated)", f"{_fmt(c['agreement'], True)}% / {_fmt(c['agreement_calibrated'], True)}%{judge_filter_note(c)}"))
    if "oracle" in c:
        metric_rows.append((f"oracle classifier agreement ({c['oracle']['n_real']} real rows)", f"{_fmt(c['oracle']['agreement'], True)}%"))
    if n:
        p = n["perplexity"]
        metric_rows.append(("perplexity mean / median / p90", f"{p['mean']:.1f} / {p['median']:.1f} / {p['p90']:.1f}"))
    if m.get("filter"):
        f = m["filter"]
        metric_rows.append((f"quality filter {f['rules']}", f"keeps {f['kept']}, drops {f['dropped']}: {f['reasons'] or 'none'}"))
    if "label_leak" in m:
        metric_rows.append(("label leak (records spelling out their label's description or a verbalizer)",
                            leak_line(m["label_leak"]).removeprefix("label leak: ")))
    for w in m.get("prompt_warnings") or []:
        metric_rows.append(("spec warning", w))
    if m.get("label_filter"):
        lf = m["label_filter"]
        metric_rows.append((f"label filter {lf['name']}", f"removes {lf['removed']} of {lf['records']}; by label "
                            f"{lf['removed_by_label']}"))
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Quality report · job {body['job_id']}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}"
        "th{background:#f2f2f2}figure{margin:1.5em 0}img{max-width:100%}</style></head><body>",
        f"<h1>Quality report · job {body['job_id']}</h1>",
        f"<p>Task <b>{e(body['task'])}</b> · method <b>{e(body['method'])}</b> · model {e(str(body.get('model')))}"
        f" (sha256 {e(str(body.get('model_sha256'))[:12])}…). Aggregates only: no record text is included.</p>",
        "<h2>Metrics</h2><table>",
        *[f"<tr><th>{e(str(k))}</th><td>{e(str(v))}</td></tr>" for k, v in metric_rows],
        "</table>",
    ]
    if ev:
        parts.append(f"<h2>Utility on real data</h2><p>{e(str(ev.get('real_path', '')))} · {ev['n_real']} rows · "
                     f"task models trained on {ev['n_synthetic']} synthetic records only.</p><table>"
                     "<tr><th>task model</th><th>trained on</th><th>n_train</th><th>accuracy %</th><th>macro-F1 %</th></tr>")
        for r in ev["rows"]:
            parts.append(f"<tr><td>{e(r['task_model'])}</td><td>{e(r['method'])}</td><td>{r['n_train']}</td>"
                         f"<td>{_fmt(r['accuracy'], True)}</td><td>{_fmt(r['macro_f1'], True)}</td></tr>")
        parts.append(f"<tr><td>majority class</td><td>–</td><td>–</td><td>{_fmt(ev['majority_baseline'], True)}</td><td>–</td></tr></table>")
        lf = ev.get("label_filter")
        if lf:
            removed = ", ".join(f"{e(lab)} {n}" for lab, n in lf["removed_by_label"].items())
            parts.append(f"<h3>Label filter {e(lf['name'])}</h3><p>removes {lf['removed']} of {lf['records']} records "
                         f"({removed}); removed records stay in the vault as 'filtered' and are not exported.</p><table>"
                         "<tr><th>task model</th><th>n without</th><th>accuracy % without</th><th>n with</th>"
                         "<th>accuracy % with</th></tr>")
            for r in lf.get("rows", []):
                parts.append(f"<tr><td>{e(r['task_model'])}</td><td>{r['n_without']}</td><td>{_fmt(r['accuracy_without'], True)}</td>"
                             f"<td>{r['n_with']}</td><td>{_fmt(r['accuracy_with'], True)}</td></tr>")
            parts.append("</table>")
    parts.append("<h2>Plots</h2>")
    for title, png in figs:
        parts.append(f"<figure><figcaption><b>{e(title)}</b></figcaption><img alt='{e(title)}' src='data:image/png;base64,{png}'></figure>")
    parts.append("</body></html>")
    return "\n".join(parts)
