"""Attacks on the label filters' effect in the vault: records a filter removes keep their row as 'filtered' with the
reason and never reach an export (not even when flipped back with raw SQL after the request); only authors may
change statuses, never of a quarantined or rejected record, never while the job runs; every change is audited; an
unknown filter name is one line and exit 2 before anything is asked or read."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from tests.key_helpers import reseal_records, share_keys
from tests.quality.filter_data import planted_set

from appliance.cli import main as cli_main
from appliance.errors import AccessDenied, BadInput, UserError
from appliance.service import export
from appliance.service import quality as quality_service
from appliance.service.session import Session
from appliance.vault import Vault
from appliance.vault.jobs import record_ids_sha256
from appliance.vault.keys import KdfParams

REPO = Path(__file__).resolve().parents[2]
FAST_KDF = KdfParams(memory_kib=1024, iterations=1, lanes=1)
PW = {"root": "root-passphrase-1", "alice": "alice-passphrase-1", "rita": "rita-passphrase-1",
      "audrey": "audrey-passphrase-1"}
ROLES = {"alice": "author", "rita": "reviewer", "audrey": "auditor"}
QUARANTINED = "QUARANTINEDMARKER a lovely film, call 555-867-5309 for tickets"
REAL = [("a wonderful and gripping film", "positive"), ("a dull and tedious film", "negative"),
        ("charming and superb", "positive"), ("awful and lifeless", "negative")] * 3


def open_as(home: Path, user: str) -> Vault:
    return Vault.open(home, user, PW[user])


def make_job(home: Path, n: int = 200, finish: bool = True) -> tuple[int, list[str]]:
    """A finished sst2 job holding the planted set (its flipped records' texts returned) and one quarantined record."""
    from appliance.engine.registry import Registry
    from appliance.guard.policy import load_policy

    with Vault.create(home, "root", PW["root"], kdf_params=FAST_KDF) as v:
        for name, role in ROLES.items():
            v.add_user(name, role, PW[name])
    share_keys(home, "alice", PW["alice"], ["rita"])
    entry, pol = Registry(home).get(None), load_policy("default")
    texts, labels, flipped = planted_set(n)
    with open_as(home, "alice") as v:
        task_id = v.add_task("sst2_sentiment", (REPO / "tasks" / "sst2_sentiment.toml").read_text())
        job_id = v.create_job(task_id, "zerogen", {"model": entry.name, "model_sha256": entry.sha256,
                                                   "policy": pol.describe()})
        rows = [{"text": t, "label": lab} for t, lab in zip(texts, labels)]
        rows.append({"text": QUARANTINED, "label": "positive", "status": "quarantined",
                     "reasons": [{"code": "PII_PHONE_NUMBER"}]})
        v.add_records(job_id, rows, unit=1)
        if finish:
            v.finish_job(job_id, "succeeded", {"gate": {"policy": pol.name, "checked": n + 1, "quarantined": 1,
                                                         "reasons": {"PII_PHONE_NUMBER": 1}}})
    return job_id, [texts[i] for i in flipped]


def real_file(tmp_path: Path) -> Path:
    f = tmp_path / "real.csv"
    f.write_text("text,label\n" + "".join(f"{t},{lab}\n" for t, lab in REAL))
    return f


def evaluate(home: Path, job_id: int, real: Path, user: str = "alice", label_filter: str | None = "cleanlab") -> dict:
    with Session(open_as(home, user)) as s:
        return quality_service.evaluate_job(s, home, job_id, real, "text", "label", prompting=False,
                                            task_models=["tfidf_lr"], label_filter=label_filter, sizes=(1.0,))


def statuses(home: Path, job_id: int) -> dict[str, list[dict]]:
    with open_as(home, "alice") as v:
        recs = v.list_records(job_id)
    out: dict[str, list[dict]] = {}
    for r in recs:
        out.setdefault(r["status"], []).append(r)
    return out


@pytest.fixture()
def job(tmp_path: Path) -> tuple[Path, int, list[str]]:
    home = tmp_path / "home"
    job_id, flipped = make_job(home)
    return home, job_id, flipped


def test_removed_records_stay_in_the_vault_with_their_reason_and_are_not_exported(job, tmp_path: Path) -> None:
    home, job_id, flipped = job
    ev = evaluate(home, job_id, real_file(tmp_path))
    lf = ev["label_filter"]
    assert lf["name"] == "cleanlab" and lf["records"] == 200 and lf["removed"] == len(flipped)
    assert lf["rows"][0]["n_without"] == 200 and lf["rows"][0]["n_with"] == 200 - lf["removed"]
    by_status = statuses(home, job_id)
    filtered = by_status["filtered"]
    assert len(filtered) == lf["removed"] and len(by_status["accepted"]) == 200 - lf["removed"]
    assert {r["text"] for r in filtered} == set(flipped)  # the planted flips, kept, not deleted
    for r in filtered:
        (reason,) = r["reasons"]
        assert reason.startswith("label filter cleanlab: label issue (likely ")
    assert [r["text"] for r in by_status["quarantined"]] == [QUARANTINED]  # never touched
    with open_as(home, "alice") as v:
        job_row = v.get_job(job_id)
        assert job_row["summary"]["label_filter"]["name"] == "cleanlab"
        assert job_row["summary"]["label_filter"]["report_id"] == ev["report_id"]
        assert v.get_report(ev["report_id"])["body"]["label_filter"]["removed"] == lf["removed"]

    with Session(open_as(home, "alice")) as s:
        export_id = export.request_export(s, job_id)["export_id"]
        assert export.get_export(s, export_id)["manifest"]["records"] == 200 - lf["removed"]
    with Session(open_as(home, "rita")) as s:
        export.decide_export(s, export_id, True, "filtered set reviewed")
    out = tmp_path / "out"
    with Session(open_as(home, "alice")) as s:
        export.write_export(s, export_id, "jsonl", out)
    texts = [json.loads(ln)["text"] for ln in (out / "data.jsonl").read_text().splitlines()]
    assert not {r["text"] for r in filtered} & set(texts) and QUARANTINED not in texts
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["label_filter"]["name"] == "cleanlab" and manifest["label_filter"]["removed"] == lf["removed"]
    assert manifest["label_filter"]["rows"][0]["task_model"] == "tfidf_lr"
    assert manifest["records"]["filtered"] == lf["removed"] and manifest["records"]["exported"] == len(texts)


def test_every_change_of_status_is_audited_and_none_puts_the_records_back(job, tmp_path: Path) -> None:
    home, job_id, _ = job
    real = real_file(tmp_path)
    ev = evaluate(home, job_id, real)
    removed = {int(i) for i in ev["label_filter"]["removed_record_ids"]}
    ev2 = evaluate(home, job_id, real, label_filter="none")
    assert ev2["label_filter"]["removed"] == 0 and ev2["n_synthetic"] == 200
    assert "filtered" not in statuses(home, job_id)
    with open_as(home, "audrey") as v:  # the auditor reads what changed (counts by label, digests), not the records
        entries = [e for e in v.audit_entries() if e["action"] == "record.filter"]
        assert v.verify_audit().ok
    assert [e["params"]["filter"] for e in entries] == ["cleanlab", "none"]
    first, second = (e["params"] for e in entries)
    nothing = {"records": 0, "by_label": {}, "record_ids_sha256": record_ids_sha256([])}
    with open_as(home, "alice") as v:
        labels = {r["id"]: r["label"] for r in v.list_records(job_id)}
    removed_set = {"records": len(removed), "by_label": dict(sorted(Counter(labels[i] for i in removed).items())),
                   "record_ids_sha256": record_ids_sha256(removed)}  # the ids held in the vault's report give the digest
    assert first["filtered"] == first["newly_filtered"] == removed_set and first["restored"] == nothing
    assert second["restored"] == removed_set and second["filtered"] == second["newly_filtered"] == nothing
    assert record_ids_sha256(sorted(removed, reverse=True)) == removed_set["record_ids_sha256"]  # order-free
    for r in statuses(home, job_id)["accepted"]:
        assert not any(str(x).startswith("label filter") for x in r["reasons"])


def test_a_filter_of_every_record_keeps_its_audit_entry_small_and_names_no_record(job) -> None:
    """A big job's filter once listed every record id in the audit entry; the entry is now the same size whatever
    the number of records: counts by label and a digest."""
    home, job_id, _ = job
    with open_as(home, "alice") as v:
        ids = [r["id"] for r in v.list_records(job_id, status="accepted")]
        v.apply_label_filter(job_id, "cleanlab", {rid: "label issue" for rid in ids})
    with open_as(home, "audrey") as v:
        (entry,) = [e for e in v.audit_entries() if e["action"] == "record.filter"]
        assert v.verify_audit().ok
    params = entry["params"]
    assert params["filtered"] == {"records": 200, "by_label": {"negative": 99, "positive": 101},  # 3 flipped to positive, 2 to negative
                                  "record_ids_sha256": record_ids_sha256(ids)} == params["newly_filtered"]
    assert len(json.dumps(params)) < 600 and not any(isinstance(x, list) for d in params.values()
                                                      if isinstance(d, dict) for x in d.values())


@pytest.mark.parametrize("user", ["rita", "audrey"])
def test_only_an_author_may_filter_and_a_refusal_changes_nothing(job, tmp_path: Path, user: str) -> None:
    home, job_id, _ = job
    with pytest.raises(AccessDenied):
        evaluate(home, job_id, real_file(tmp_path), user=user)
    target = statuses(home, job_id)["accepted"][0]["id"]  # a record the filter could really mark
    with open_as(home, user) as v, pytest.raises(AccessDenied):
        v.apply_label_filter(job_id, "cleanlab", {target: "label issue"})
    assert target in {r["id"] for r in statuses(home, job_id)["accepted"]}


def test_a_quarantined_record_can_be_neither_filtered_nor_released_by_a_filter(job) -> None:
    home, job_id, _ = job
    q = statuses(home, job_id)["quarantined"][0]["id"]
    with open_as(home, "alice") as v:
        with pytest.raises(BadInput, match=f"record {q} is not an accepted or filtered record of job {job_id}"):
            v.apply_label_filter(job_id, "cleanlab", {q: "label issue"})
        with pytest.raises(BadInput, match="is not an accepted or filtered record"):
            v.apply_label_filter(job_id, "cleanlab", {10**9: "label issue"})  # another job's or no record
    assert statuses(home, job_id)["quarantined"][0]["status"] == "quarantined"


def test_a_running_job_is_not_filtered(tmp_path: Path) -> None:
    home = tmp_path / "home"
    job_id, _ = make_job(home, n=20, finish=False)
    with open_as(home, "alice") as v, pytest.raises(BadInput, match="still running"):
        v.apply_label_filter(job_id, "cleanlab", {})


def test_hostile_filter_names_and_reasons_are_data_not_sql(job) -> None:
    home, job_id, _ = job
    rid = statuses(home, job_id)["accepted"][0]["id"]
    name = "x'); DROP TABLE records; --"
    with open_as(home, "alice") as v:
        v.apply_label_filter(job_id, name, {rid: "label issue'); DELETE FROM jobs; --"})
        for bad in ("two\nlines", "esc \x1b[31m"):
            with pytest.raises(ValueError, match="one-line"):
                v.apply_label_filter(job_id, "cleanlab", {rid: bad})
        with pytest.raises(BadInput, match="invalid label filter"):
            v.apply_label_filter(job_id, "bad\x1bname", {})
    by_status = statuses(home, job_id)
    assert len(by_status["accepted"]) + len(by_status["filtered"]) == 200
    assert by_status["filtered"][0]["reasons"] == [f"label filter {name}: label issue'); DELETE FROM jobs; --"]


def test_a_filtered_record_flipped_back_with_raw_sql_after_the_request_is_not_exported(job, tmp_path: Path) -> None:
    home, job_id, _ = job
    evaluate(home, job_id, real_file(tmp_path))
    with Session(open_as(home, "alice")) as s:
        export_id = export.request_export(s, job_id)["export_id"]
    with Session(open_as(home, "rita")) as s:
        export.decide_export(s, export_id, True, "reviewed")
    rid = statuses(home, job_id)["filtered"][0]["id"]
    with open_as(home, "rita") as v:  # an insider with the records key puts a filtered record back and re-seals it
        v._con.execute("UPDATE records SET status = 'accepted' WHERE id = ?", [rid])
        reseal_records(v, [rid])  # (without the key the row's seal refuses it: tests/security/test_rowseal_*.py)
    with Session(open_as(home, "alice")) as s, pytest.raises(UserError, match="changed since export"):
        export.write_export(s, export_id, "jsonl", tmp_path / "x")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("command", ["evaluate", "report"])
def test_an_unknown_label_filter_is_one_line_and_exit_2_before_a_passphrase(command: str, tmp_path: Path, capsys,
                                                                            monkeypatch) -> None:
    real = real_file(tmp_path)
    monkeypatch.setenv("APPLIANCE_HOME", str(tmp_path / "no-home"))
    extra = ["--real", str(real), "--text-column", "text", "--label-column", "label"] if command == "evaluate" else []
    rc = cli_main([command, "1", *extra, "--label-filter", "clean'lab;", "--user", "alice"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    assert err == "appliance: error: unknown label filter: clean'lab; (known: cleanlab, cleanlab_embedding, judge, none)\n"


def test_report_with_a_label_filter_describes_the_kept_records_and_records_the_choice(job) -> None:
    home, job_id, flipped = job
    with Session(open_as(home, "alice")) as s:
        body, html = quality_service.report_job(s, home, job_id, use_model=False, label_filter="cleanlab", sample=20)
        with pytest.raises(BadInput, match="label filter judge needs the scoring model"):
            quality_service.report_job(s, home, job_id, use_model=False, label_filter="judge")
    m = body["metrics"]
    assert m["label_filter"]["removed"] == len(flipped) and m["n_records"] == 200 - len(flipped)
    assert m["label_leak"]["records"] == 200 - len(flipped) and m["prompt_warnings"] == []
    assert "label filter cleanlab" in html and "label leak" in html
    assert not any(flip in html for flip in flipped)  # aggregates only: no record text in the report
    with open_as(home, "alice") as v:
        assert v.get_job(job_id)["summary"]["label_filter"]["report_id"] == body["report_id"]
        assert v.count_records(job_id, "filtered") == len(flipped)


class _Counting:
    """Stand-ins for the generator's verbalizer scoring and the embedder that count the texts they are given (each
    scores a text by its words: the planted set's texts carry only their original label's words)."""

    def __init__(self) -> None:
        self.scored: list[int] = []
        self.embedded: list[int] = []
        self.name = "counting-embedder"

    @staticmethod
    def _leaning(text: str) -> float:
        from tests.quality.filter_data import POSITIVE

        return 1.0 if any(w in POSITIVE for w in text.split()) else -1.0

    def run_prompting(self, model, task, texts, report=None, step=""):
        import numpy as np

        from appliance.quality.prompting import PromptingResult

        self.scored.append(len(texts))
        scores = np.array([[self._leaning(t), -self._leaning(t)] for t in texts])
        pred = [task.label_ids[int(i)] for i in scores.argmax(axis=1)]
        return PromptingResult(scores, np.zeros(2), pred, pred)

    def encode(self, texts, batch_size: int = 64, progress=None):
        import numpy as np

        self.embedded.append(len(texts))
        return np.array([[self._leaning(t), 1.0 - self._leaning(t), 0.01 * (i % 7)] for i, t in enumerate(texts)])


@pytest.fixture()
def counting(monkeypatch) -> _Counting:
    """The report's models replaced by counters: no GGUF or MiniLM is loaded, so these tests stay fast."""
    from types import SimpleNamespace

    from appliance.quality import embed, naturalness, prompting

    c = _Counting()
    monkeypatch.setattr(prompting, "run_prompting", c.run_prompting)
    monkeypatch.setattr(naturalness, "perplexities", lambda model, texts, progress=None: [20.0] * len(texts))
    monkeypatch.setattr(embed, "get_embedder", lambda: c)
    fake = SimpleNamespace(model=SimpleNamespace(close=lambda: None), entry=SimpleNamespace(name="fake-scorer"))
    monkeypatch.setattr(quality_service, "_load_scorer", lambda session, home, name: fake)
    return c


def test_a_report_computes_what_its_label_filter_computed_only_once_and_says_why_agreement_is_high(job,
                                                                                                   counting) -> None:
    """The embedding filter's embeddings serve the diversity metrics; the judge filter and the report's correctness
    section share one scoring pass; the agreement after the judge filter (100% by construction) is shown with the
    agreement before it, in the terminal and the HTML (and the TUI, through the same ``judge_filter_note``)."""
    from rich.console import Console

    from appliance.quality.report import judge_filter_note, print_summary

    home, job_id, flipped = job
    with Session(open_as(home, "alice")) as s:
        body, _ = quality_service.report_job(s, home, job_id, use_model=False, label_filter="cleanlab_embedding",
                                             sample=20)
    assert counting.embedded == [200]  # once, over every record: the kept ones' rows are taken from it
    m = body["metrics"]
    assert m["label_filter"]["removed"] == len(flipped) and m["n_records"] == 195
    assert m["diversity"]["embedding_cosine"]["within_label"] is not None and "correctness" not in m

    with Session(open_as(home, "alice")) as s:
        body, html = quality_service.report_job(s, home, job_id, label_filter="judge", sample=20)
    assert counting.scored == [200]  # once, over every record: not again over the kept ones
    c = body["metrics"]["correctness"]
    assert body["metrics"]["label_filter"]["removed"] == len(flipped) and body["metrics"]["n_records"] == 195
    assert c["agreement_calibrated"] == 1.0 and len(c["margins_calibrated"]) == 195
    assert c["before_label_filter"] == {"label_filter": "judge", "records": 200, "removed": len(flipped),
                                        "agreement": 0.975, "agreement_calibrated": 0.975}
    note = judge_filter_note(c)
    assert note.startswith(" · after label filter judge, which removed the 5 records this judge disagreed with")
    assert note.endswith("before it, on all 200: 97.5% (calibrated 97.5%)")
    assert html.count("before it, on all 200: 97.5%") == 1
    console = Console(record=True, width=400)
    print_summary(console, body)
    assert "correctness: verbalizer judge agrees with the intended label on 100.0% (calibrated 100.0%) · after label " \
           "filter judge" in console.export_text()
    assert judge_filter_note({"agreement": 0.9, "agreement_calibrated": 0.9}) == ""  # no judge filter, no note
