"""Generation from the TUI with the real small model: accepted records stream into the table while the job runs;
a cancelled job keeps its committed batches and Resume finishes it."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Select, Static

from appliance.vault import Vault
from tests.tui.conftest import drive
from tests.vault.vault_helpers import PASSPHRASES

pytestmark = pytest.mark.model


@pytest.fixture(autouse=True)
def small_and_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPLIANCE_THREADS", "1")
    monkeypatch.setenv("APPLIANCE_COMPUTE_TYPE", "source")  # no q8_0 copy per test home: the pinned file as is


def test_generate_streams_records_then_cancel_and_resume(home: Path) -> None:
    async def scenario(d) -> None:
        await d.sign_in("alice")
        await d.go("f5")
        d.q("#gen-task", Select).value = "example:sst2_sentiment"
        d.q("#gen-n", Input).value = "8"
        await d.click("#start")
        await d.settle()
        stats = str(d.q("#gen-stats", Static).render())
        assert stats.startswith("job 1 done: "), (stats, d.notes)
        table = d.q("#gen-records")
        assert table.row_count >= 1
        screen = d.app.screen
        assert table.row_count == len([r for r in screen.session.vault.list_records(1) if r["status"] == "accepted"])

        # Cancel before the first batch is kept: the job is closed as cancelled, and Resume finishes it.
        d.q("#gen-n", Input).value = "2"
        await d.click("#start")
        d.app.screen.action_cancel_job()
        await d.settle()
        assert "cancelled" in str(d.q("#gen-stats", Static).render()), d.notes
        assert d.q("#gen-resume", Select).value is Select.NULL
        d.q("#gen-resume", Select).value = 2
        await d.click("#resume")
        await d.settle()
        assert str(d.q("#gen-stats", Static).render()).startswith("job 2 done: "), d.notes

    drive(home, scenario)
    with Vault.open(home, "rita", PASSPHRASES["rita"]) as v:
        assert [v.get_job(j)["status"] for j in (1, 2)] == ["succeeded", "succeeded"]
        resumed = [e for e in v.audit_entries(action="job.resume")]
    assert [e["params"]["previous_status"] for e in resumed] == ["cancelled"]
