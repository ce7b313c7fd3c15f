"""Audit (reviewers and admins): the signed log in a table filtered by user and action, verification of the hash
chain, signatures and checkpoint, and export of the filtered entries as JSON Lines."""

from __future__ import annotations

import json

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Input, Static

from appliance.service import audit as audit_service
from appliance.tui.components.plain_table import PlainTable
from appliance.tui.screens.base import AppScreen


class AuditScreen(AppScreen):
    NAME = "audit"
    TITLE = "Audit"
    BINDINGS = [Binding("ctrl+v", "verify", "Verify log"), Binding("ctrl+s", "export_jsonl", "Export JSONL"),
                Binding("ctrl+r", "reload", "Reload")]

    def body(self) -> ComposeResult:
        with Vertical(id="audit"):
            with Horizontal(classes="row"):
                yield Input(placeholder="user", id="audit-user", classes="filter")
                yield Input(placeholder="action, e.g. export.*", id="audit-action", classes="filter")
                yield Button("Verify", id="verify", variant="primary")
            yield Static("", id="audit-result")
            yield PlainTable(id="audit-log", cursor_type="row")
            with Horizontal(classes="row"):
                yield Input(placeholder="export the shown entries to… (path.jsonl)", id="audit-path")
                yield Button("Export", id="export-jsonl")

    def on_mount(self) -> None:
        self.query_one("#audit-log", DataTable).add_columns("seq", "time", "user", "role", "action", "objects", "params")

    def on_screen_resume(self) -> None:
        self.action_reload()

    def _filters(self) -> dict:
        return {"user": self.query_one("#audit-user", Input).value.strip() or None,
                "action": self.query_one("#audit-action", Input).value.strip() or None}

    def on_input_changed(self, event: Input.Changed) -> None:
        if "filter" in event.input.classes:
            self.action_reload()

    def action_reload(self) -> None:
        table = self.query_one("#audit-log", DataTable)
        table.clear()
        entries = self.guard(audit_service.entries, self.session, **self._filters()) or []
        for e in reversed(entries):  # newest first
            ids = " ".join(f"{k}={v}" for k, v in sorted(e["object_ids"].items()) if v is not None)
            params = json.dumps(e["params"], sort_keys=True, ensure_ascii=False)[:60] if e["params"] else ""
            table.add_row(str(e["seq"]), e["ts"][:19], e["user"], e["role"], e["action"], ids, params)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "verify":
            self.action_verify()
        elif event.button.id == "export-jsonl":
            self.action_export_jsonl()

    def action_verify(self) -> None:
        self.query_one("#audit-result", Static).update("verifying…")
        self.background(audit_service.verify, self.session, done=self._verified)

    def _verified(self, result) -> None:
        out = self.query_one("#audit-result", Static)
        out.set_class(not result.ok, "error")
        out.update(("✓ " if result.ok else "✗ ") + str(result))
        self.notify(str(result), severity="information" if result.ok else "error")
        self.action_reload()

    def action_export_jsonl(self) -> None:
        path = self.query_one("#audit-path", Input).value.strip()
        if not path:
            self.notify("type a path for the JSON Lines file", severity="warning")
            return
        n = self.guard(audit_service.export_jsonl, self.session, path, **self._filters())
        if n is not None:
            self.notify(f"{n} entries written to {path}")
            self.action_reload()
