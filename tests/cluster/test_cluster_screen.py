"""The Generate screen's scale-out fields: the cluster address and the worker count reach the request, a malformed
address is refused with its one line before anything starts, and a cluster job's workers fill the worker table."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input, Select

from appliance.errors import UserError
from tests.tui.conftest import drive, fast_kdf, home  # noqa: F401  (fixtures of the TUI tests)


def test_cluster_fields_reach_the_request_and_workers_are_shown(home: Path, monkeypatch) -> None:  # noqa: F811
    from appliance.generate.base import Progress
    from appliance.service import generation

    asked = []

    def run_generation(session, home, req, on_progress=None, **kw):  # stands in for the job
        asked.append(req)
        on_progress(Progress(accepted=1, target=2, tokens=10, workers=[
            {"node": "n1 (10.0.0.1)", "pid": 11, "threads": 1, "tokens": 10, "tokens_per_s": 5.0, "state": "busy"},
            {"node": "[b]n2[/b]", "pid": 12, "threads": 1, "tokens": 0, "tokens_per_s": 0.0, "state": "dead"}]))
        raise UserError("stopped by the test")

    monkeypatch.setattr(generation, "run_generation", run_generation)

    async def scenario(d) -> None:
        await d.sign_in("alice")
        await d.go("f5")
        d.q("#gen-task", Select).value = "example:sst2_sentiment"
        assert not d.q("#gen-workers-table", DataTable).display  # no cluster: no worker table
        d.q("#gen-cluster", Input).value = "10.0.0.5:99999"
        await d.click("#start")
        await d.settle()
        assert any("port must be 1..65535" in e for e in d.errors()) and not asked, d.notes
        d.q("#gen-cluster", Input).value, d.q("#gen-workers", Input).value = "10.0.0.5:6379", "3"
        await d.click("#start")
        await d.settle()
        assert [(r.cluster, r.workers) for r in asked] == [("10.0.0.5:6379", 3)]
        table = d.q("#gen-workers-table", DataTable)
        assert table.display and table.row_count == 2
        assert [str(c) for c in table.get_row_at(1)] == ["[b]n2[/b]", "12", "0", "dead"]  # names shown as typed

    drive(home, scenario)
