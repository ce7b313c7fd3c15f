"""Quality: a job's stored report (metrics, label distribution, accuracy-vs-size curve when an evaluation on real
data exists), computing a new report (authors; in a worker: it loads the embedder and the scoring model) and saving
the HTML report to a file."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.markup import escape
from textual.widgets import Button, DataTable, Input, Select, SelectionList, Static

from appliance.service import jobs as job_service
from appliance.quality.labelfilters import label_filter_names
from appliance.quality.report import judge_filter_note
from appliance.quality.taskmodels import TASK_MODELS, task_model_names
from appliance.service import quality as quality_service
from appliance.tui.components.plain_table import PlainTable
from appliance.tui.components.size_curve import SizeCurve
from appliance.tui.screens.base import AppScreen


def _pct(x: Any) -> str:
    return f"{100 * x:.1f}%" if isinstance(x, (int, float)) else "–"


def _num(x: Any) -> str:
    return f"{x:.3f}" if isinstance(x, float) else ("–" if x is None else str(x))


class QualityScreen(AppScreen):
    NAME = "quality"
    TITLE = "Quality"
    BINDINGS = [Binding("ctrl+b", "compute", "Compute report"), Binding("ctrl+s", "save_html", "Save HTML")]

    def body(self) -> ComposeResult:
        with VerticalScroll(id="quality"):
            with Horizontal(classes="row"):
                yield Select([], id="quality-job", prompt="job")
                yield Button("Compute", id="compute")
            with Horizontal(classes="row"):  # evaluation on real data: which task models, which label filter
                yield Input(placeholder="real labelled file (path; read, never stored)", id="real-path")
                yield Input(placeholder="text column", id="real-text")
                yield Input(placeholder="label column", id="real-label")
            with Horizontal(classes="row"):
                # every task model is offered; the slow ones (trained only when named) start unticked
                yield SelectionList[str](*[(n, n, TASK_MODELS.get(n).default) for n in task_model_names(every=True)],
                                         id="task-models")
                yield Select([(n, n) for n in label_filter_names()], id="label-filter", prompt="label filter: off")
                yield Button("Evaluate", id="evaluate")
            yield Static("Choose a job.", id="quality-summary")
            yield PlainTable(id="label-counts", cursor_type="row")
            yield PlainTable(id="eval-table", cursor_type="row")
            yield SizeCurve(id="size-curve")
            with Horizontal(classes="row"):
                yield Input(placeholder="save the HTML report to… (path)", id="html-path")
                yield Button("Save HTML", id="save-html")

    def on_mount(self) -> None:
        self.query_one("#label-counts", DataTable).add_columns("label", "records")
        self.query_one("#eval-table", DataTable).add_columns("task model", "trained on", "n", "accuracy", "macro-F1")
        self.query_one("#size-curve").display = False
        self.query_one("#compute", Button).display = self.session.can("report.write")
        self.query_one("#evaluate", Button).display = self.session.can("report.write")
        models = self.query_one("#task-models", SelectionList)
        models.border_title = "task models"
        models.styles.width, models.styles.height = "1fr", len(task_model_names(every=True)) + 2

    def on_screen_resume(self) -> None:
        jobs = self.guard(job_service.finished_jobs, self.session) or []
        select = self.query_one("#quality-job", Select)
        current = select.value
        select.set_options([(f"job {j['id']} · {j['method']}", j["id"]) for j in jobs])
        if current is not Select.NULL and any(j["id"] == current for j in jobs):
            select.value = current

    def _job(self) -> int | None:
        v = self.query_one("#quality-job", Select).value
        return None if v is Select.NULL else int(v)

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "quality-job" and self._job() is not None:
            self.show(self.guard(quality_service.latest_report, self.session, self._job()))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "compute":
            self.action_compute()
        elif event.button.id == "evaluate":
            self.action_evaluate()
        elif event.button.id == "save-html":
            self.action_save_html()

    def action_compute(self) -> None:
        job = self._job()
        if job is None:
            self.notify("choose a job first", severity="warning")
            return
        self.query_one("#quality-summary", Static).update(f"computing the report for job {job}…")
        self.background(quality_service.report_job, self.session, self.home, job, label_filter=self._label_filter(),
                        done=lambda res: self.show(res[0]))

    def _label_filter(self) -> str | None:
        v = self.query_one("#label-filter", Select).value
        return None if v is Select.NULL else str(v)

    def action_evaluate(self) -> None:
        """Train the chosen task models on the job's records (after the chosen label filter) and score them on the
        real file; the result is the job's newest evaluation, shown with the report it is attached to."""
        job = self._job()
        path, text, label = (self.query_one(f"#{i}", Input).value.strip() for i in ("real-path", "real-text", "real-label"))
        models = list(self.query_one("#task-models", SelectionList).selected)
        if job is None or not (path and text and label) or not models:
            self.notify("choose a job, a real file with its text and label columns, and a task model", severity="warning")
            return
        self.query_one("#quality-summary", Static).update(f"evaluating job {job} on {escape(path)}…")
        self.background(quality_service.evaluate_job, self.session, self.home, job, path, text, label, drop_unmapped=True,
                        task_models=models, label_filter=self._label_filter(), done=self.show_evaluation)

    def show_evaluation(self, ev: dict[str, Any]) -> None:
        """The evaluation's rows, and the label filter's effect on each task model."""
        evals = self.query_one("#eval-table", DataTable)
        evals.clear()
        for r in ev.get("rows", []):
            evals.add_row(r["task_model"], r["method"], str(r["n_train"]), _pct(r["accuracy"]), _pct(r.get("macro_f1")))
        lines = [f"evaluation stored as report {ev.get('report_id')} · {ev['n_real']} real rows"]
        lf = ev.get("label_filter")
        if lf:
            removed = ", ".join(f"{lab} {n}" for lab, n in lf["removed_by_label"].items())
            lines.append(f"label filter {lf['name']}: removed {lf['removed']} of {lf['records']} ({escape(removed)})")
            lines += [f"  {r['task_model']}: accuracy {_pct(r['accuracy_without'])} without → {_pct(r['accuracy_with'])} with"
                      for r in lf.get("rows", [])]
        leak = (ev.get("label_leak") or {}).get("fraction")
        lines.append(f"label leak: {_pct(leak)} of records spell out their label")
        self.query_one("#quality-summary", Static).update("\n".join(lines))

    def action_save_html(self) -> None:
        job, path = self._job(), self.query_one("#html-path", Input).value.strip()
        if job is None or not path:
            self.notify("choose a job and type a path", severity="warning")
            return
        written = self.guard(quality_service.save_html_report, self.session, job, path)
        if written is not None:
            self.notify(f"HTML report written to {written}")

    def show(self, body: dict[str, Any] | None) -> None:
        summary = self.query_one("#quality-summary", Static)
        counts = self.query_one("#label-counts", DataTable)
        evals = self.query_one("#eval-table", DataTable)
        curve = self.query_one("#size-curve", SizeCurve)
        counts.clear()
        evals.clear()
        curve.display = False
        if body is None:
            summary.update("No report for this job yet." + (" Compute one (Ctrl+B)." if self.session.can("report.write") else ""))
            return
        m = body["metrics"]
        d = m.get("diversity") or {}
        c = m.get("correctness") or {}
        n = (m.get("naturalness") or {}).get("perplexity") or {}
        summary.update(
            f"[b]job {body['job_id']}[/b] · {escape(str(body['task']))} · {body['method']} · {m.get('n_records')} accepted records\n"
            f"diversity: distinct-1/2 {_num(d.get('distinct_1'))}/{_num(d.get('distinct_2'))} · "
            f"Self-BLEU-4 {_num(d.get('self_bleu_4'))} · vocabulary {d.get('vocabulary', '–')}\n"
            f"correctness: judge agrees {_pct(c.get('agreement'))}{escape(judge_filter_note(c))} · naturalness: perplexity median "
            f"{_num(n.get('median'))}"
        )
        for label, k in (m.get("label_counts") or {}).items():
            counts.add_row(label, str(k))
        ev = body.get("evaluation")
        if ev:
            for r in ev.get("rows", []):
                evals.add_row(r["task_model"], r["method"], str(r["n_train"]), _pct(r["accuracy"]), _pct(r.get("macro_f1")))
            if ev.get("curve"):
                curve.display = True
                curve.show_curve(ev["curve"])
