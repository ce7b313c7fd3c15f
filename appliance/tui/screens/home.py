"""Home: the vault's state (encrypted, size, last audit verification), the models (verified or not), recent jobs,
export requests and the privacy budget left per seed set. Refreshed in a worker because verifying models hashes
their files."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.markup import escape
from textual.widgets import DataTable, Static

from appliance.service import tasks as task_service
from appliance.service.overview import Overview, overview
from appliance.tui.components.plain_table import PlainTable
from appliance.tui.screens.base import AppScreen


class HomeScreen(AppScreen):
    NAME = "home"
    TITLE = "Home"
    BINDINGS = [Binding("r", "refresh", "Refresh"), Binding("m", "verify_models", "Verify models")]
    verified = False

    def body(self) -> ComposeResult:
        with VerticalScroll(id="home"):
            yield Static("Loading…", id="vault-status")
            yield Static("Models", classes="section")
            yield PlainTable(id="models", cursor_type="row")
            yield Static("Recent jobs", classes="section")
            yield PlainTable(id="jobs", cursor_type="row")
            yield Static("Export requests", classes="section", id="exports-title")
            yield PlainTable(id="exports", cursor_type="row")
            yield Static("Privacy budget per seed set (default policy)", classes="section", id="budgets-title")
            yield PlainTable(id="budgets", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#models", DataTable).add_columns("model", "state", "license", "detail")
        self.query_one("#jobs", DataTable).add_columns("job", "task", "method", "status", "batches", "by", "started")
        self.query_one("#exports", DataTable).add_columns("export", "job", "status", "requested by", "decided by")
        self.query_one("#budgets", DataTable).add_columns("seed set", "spent ε", "budget ε", "left ε", "spent δ",
                                                          "charges")
        if not self.session.can("ledger.read"):
            self.query_one("#budgets-title").display = self.query_one("#budgets").display = False

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def action_refresh(self, verify: bool = False) -> None:
        """Vault, jobs and exports; the models are verified on the first visit and on request (it takes seconds)."""
        self.background(overview, self.session, self.home, verify=verify or not self.verified, done=self._show)

    def action_verify_models(self) -> None:
        self.action_refresh(verify=True)

    def _show(self, ov: Overview) -> None:
        st = ov.status
        enc = f"encrypted (AES-256-{st['cipher']})" if st["encrypted"] else "NOT ENCRYPTED"
        lv = ov.last_verification
        if lv:
            ok = "OK" if lv["params"].get("ok") else "FAILED"
            verified = f"last audit verification {lv['ts'][:19]}: {ok} ({lv['params'].get('entries')} entries)"
        elif self.session.can("audit.read"):
            verified = "audit log never verified (Audit screen, Ctrl+V)"
        else:
            verified = "audit verification: reviewers and admins"
        c = st["counts"]
        self.query_one("#vault-status", Static).update(
            f"[b]Vault[/b] {escape(str(st['home']))} · {enc} · {st['database_bytes'] / 1e6:.1f} MB\n"
            f"{verified}\n"
            f"{c['tasks']} tasks · {c['seed_sets']} seed sets · {c['jobs']} jobs · {c['records']} records · "
            f"{c['exports']} exports · signed in as {st['user']} ({st['role']})"
        )
        if ov.models is None:
            return self._show_lists(ov)
        self.verified = True
        models = self.query_one("#models", DataTable)
        models.clear()
        for m in ov.models:
            state = "verified" if m.state == "ok" else m.state
            models.add_row(m.entry.name, state, m.entry.license, m.detail[:40])
        self._show_lists(ov)

    def _show_lists(self, ov: Overview) -> None:
        jobs = self.query_one("#jobs", DataTable)
        jobs.clear()
        tasks = {}
        if self.session.can("task.read"):
            tasks = {t["id"]: t["name"] for t in task_service.list_tasks(self.session)}
        for j in ov.jobs:
            jobs.add_row(str(j["id"]), tasks.get(j["task_id"], str(j["task_id"])), j["method"], j["status"],
                         str(j["units_done"]), j["created_by"], j["created_at"][:16])
        exports = self.query_one("#exports", DataTable)
        exports.clear()
        for e in ov.exports:
            exports.add_row(str(e["id"]), str(e["job_id"]), e["status"], e["requested_by"], e["decided_by"] or "–")
        budgets = self.query_one("#budgets", DataTable)
        budgets.clear()
        for b in ov.budgets:
            budgets.add_row(b.seed_set, f"{b.spent_epsilon:.2f}", f"{b.budget_epsilon:g}", f"{b.left_epsilon:.2f}",
                            f"{b.spent_delta:.2g}", str(b.charges))
