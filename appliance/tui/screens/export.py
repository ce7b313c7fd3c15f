"""Export: an author requests an export of a job; a reviewer (never the requester) approves or denies it with a
reason; the author then writes the approved export (``appliance.service.export``: a final gate pass under the
export policy, a signed manifest, a data card) into a new folder."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Input, Select, Static

from appliance.export.formats import FORMATS
from appliance.service import export as export_service
from appliance.service import jobs as job_service
from appliance.tui.components.plain_table import PlainTable
from appliance.tui.screens.base import AppScreen


class ExportScreen(AppScreen):
    NAME = "export"
    TITLE = "Export"
    BINDINGS = [Binding("ctrl+n", "request", "Request"), Binding("ctrl+a", "approve", "Approve"),
                Binding("ctrl+d", "deny", "Deny"), Binding("ctrl+w", "write", "Write")]

    def body(self) -> ComposeResult:
        with Vertical(id="export"):
            with Horizontal(classes="row", id="request-row"):
                yield Select([], id="export-job", prompt="job to export")
                yield Select([], id="export-policy", prompt="the job's own policy")
                yield Button("Request", id="request", variant="primary")
            yield PlainTable(id="exports", cursor_type="row")
            yield Static("", id="export-detail")
            with Horizontal(classes="row", id="decide-row"):
                yield Input(placeholder="reason for the decision", id="export-reason")
                yield Button("Approve", id="approve", variant="success")
                yield Button("Deny", id="deny", variant="error")
            with Horizontal(classes="row", id="write-row"):
                yield Select([(f, f) for f in FORMATS.names()], id="export-format", value="jsonl", allow_blank=False)
                yield Input(placeholder="write to… (a new folder)", id="export-to")
                yield Button("Write", id="write")

    def on_mount(self) -> None:
        self.query_one("#exports", DataTable).add_columns("export", "job", "status", "records", "policy", "requested by",
                                                          "decided by", "reason")
        from appliance.service import catalog

        self.query_one("#export-policy", Select).set_options([(p, p) for p in catalog.policy_names()])
        self.query_one("#request-row").display = self.session.can("export.request")
        self.query_one("#decide-row").display = self.session.can("export.decide")
        self.query_one("#write-row").display = self.session.can("export.request")

    def on_screen_resume(self) -> None:
        if self.session.can("export.request"):
            jobs = self.guard(job_service.finished_jobs, self.session) or []
            self.query_one("#export-job", Select).set_options([(f"job {j['id']} · {j['method']}", j["id"]) for j in jobs])
        self.reload()

    def reload(self) -> None:
        table = self.query_one("#exports", DataTable)
        table.clear()
        for e in self.guard(export_service.list_exports, self.session) or []:
            table.add_row(str(e["id"]), str(e["job_id"]), e["status"], str(e.get("records") or "–"), e.get("policy") or "–",
                          e["requested_by"], e["decided_by"] or "–", (e["decision_reason"] or "")[:30], key=str(e["id"]))

    def _selected(self) -> int | None:
        table = self.query_one("#exports", DataTable)
        if not table.row_count:
            self.notify("no export selected", severity="warning")
            return None
        return int(table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is None:
            return
        e = self.guard(export_service.get_export, self.session, int(event.row_key.value))
        if e:
            self.query_one("#export-detail", Static).update(
                f"export {e['id']} of job {e['job_id']}: {e['status']} · manifest {e['manifest']}")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"request": self.action_request, "approve": self.action_approve, "deny": self.action_deny,
                   "write": self.action_write}
        if event.button.id in actions:
            actions[event.button.id]()

    def action_request(self) -> None:
        job = self.query_one("#export-job", Select).value
        if job is Select.NULL:
            self.notify("choose a job to export", severity="warning")
            return
        policy = self.query_one("#export-policy", Select).value
        req = self.guard(export_service.request_export, self.session, int(job),
                         None if policy is Select.NULL else str(policy))
        if req is not None:
            need = "a reviewer must approve it" if req["policy"].get("requires_approval") else "no approval needed"
            self.notify(f"export {req['export_id']} requested ({req['records']} records); {need}")
            self.reload()

    def _decide(self, approve: bool) -> None:
        export_id = self._selected()
        if export_id is None:
            return
        reason = self.query_one("#export-reason", Input).value
        status = self.guard(export_service.decide_export, self.session, export_id, approve, reason)
        if status is not None:
            self.notify(f"export {export_id}: {status}")
            self.query_one("#export-reason", Input).value = ""
            self.reload()

    def action_approve(self) -> None:
        self._decide(True)

    def action_deny(self) -> None:
        self._decide(False)

    def action_write(self) -> None:
        export_id = self._selected()
        to = self.query_one("#export-to", Input).value.strip()
        if export_id is None or not to:
            self.notify("select an approved export and type a new folder to write it to", severity="warning")
            return
        fmt = str(self.query_one("#export-format", Select).value)
        self.notify(f"writing export {export_id}…")
        self.background(export_service.write_export, self.session, export_id, fmt, to, done=self._written)

    def _written(self, r) -> None:
        left = f", {r.left_out} left out by the final gate" if r.left_out else ""
        self.notify(f"export {r.export_id}: {r.records} records written to {r.path}{left}", timeout=10)
        self.reload()
