"""Review: a job's quarantined records with their reason codes, every PII finding (blocking or not) and the flagged
spans highlighted (red blocks the record, yellow is redacted on export even after a release); a reviewer releases or
rejects each with a justification. Other roles see the records; the vault refuses their decisions (and audits the
refusal), which shows here as a notification."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Input, Select, Static

from appliance.service import jobs as job_service
from appliance.service import review as review_service
from appliance.tui.components.plain_table import PlainTable
from appliance.tui.screens.base import AppScreen


class ReviewScreen(AppScreen):
    NAME = "review"
    TITLE = "Review"
    BINDINGS = [Binding("ctrl+l", "release", "Release"), Binding("ctrl+t", "reject", "Reject"),
                Binding("ctrl+r", "reload", "Reload")]

    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, dict] = {}

    def body(self) -> ComposeResult:
        with Vertical(id="review"):
            yield Select([], id="review-job", prompt="job")
            yield PlainTable(id="quarantine", cursor_type="row")
            yield Static("", id="review-text")
            with Horizontal(classes="row"):
                yield Input(placeholder="justification (required)", id="review-note")
                yield Button("Release", id="release", variant="success")
                yield Button("Reject", id="reject", variant="error")

    def on_mount(self) -> None:
        self.query_one("#quarantine", DataTable).add_columns("record", "label", "reasons", "findings", "text")

    def on_screen_resume(self) -> None:
        jobs = self.guard(job_service.list_jobs, self.session) or []
        select = self.query_one("#review-job", Select)
        current = select.value
        select.set_options([(f"job {j['id']} · {j['method']} · {j['status']}", j["id"]) for j in jobs])
        if current is not Select.NULL and any(j["id"] == current for j in jobs):
            select.value = current
        elif jobs:
            select.value = jobs[0]["id"]

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "review-job":
            self.action_reload()

    def action_reload(self) -> None:
        job = self.query_one("#review-job", Select).value
        table = self.query_one("#quarantine", DataTable)
        table.clear()
        self.records = {}
        self.query_one("#review-text", Static).update("")
        if job is Select.NULL:
            return
        for r in self.guard(review_service.quarantined, self.session, int(job)) or []:
            self.records[str(r["id"])] = r
            table.add_row(str(r["id"]), r["label"] or "", r["reason_text"], r["finding_text"],
                          " ".join(r["text"].split())[:80], key=str(r["id"]))
        if not self.records:
            self.query_one("#review-text", Static).update(f"No quarantined records in job {job}.")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id != "quarantine" or event.row_key is None:
            return
        r = self.records.get(str(event.row_key.value))
        if r is None:
            return
        self.query_one("#review-text", Static).update(Text.assemble(
            f"record {r['id']} · {r['reason_text']}\nfindings: {r['finding_text']}\n", review_service.highlighted(r)))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id in ("release", "reject"):
            self._decide(event.button.id == "release")

    def action_release(self) -> None:
        self._decide(True)

    def action_reject(self) -> None:
        self._decide(False)

    def _decide(self, release: bool) -> None:
        table = self.query_one("#quarantine", DataTable)
        if not self.records or table.cursor_row is None or table.cursor_row < 0:
            self.notify("no quarantined record selected", severity="warning")
            return
        key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        note = self.query_one("#review-note", Input).value
        status = self.guard(review_service.decide, self.session, int(key), release, note)
        if status is not None:
            self.notify(f"record {key}: {status}")
            self.query_one("#review-note", Input).value = ""
            self.action_reload()
