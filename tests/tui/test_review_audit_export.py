"""Review, audit and export across roles: an author is refused a release (notification, audited), a reviewer
releases with a justification; the reviewer verifies the audit log; an author requests an export and a different
user, a reviewer, approves it."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Select, Static

from appliance.vault import Vault
from tests.conftest import TASKS
from tests.tui.conftest import drive
from tests.vault.vault_helpers import PASSPHRASES


def _job_with_quarantine(home: Path) -> int:
    """A finished job with one accepted and two quarantined records (as the privacy gate would leave them)."""
    with Vault.open(home, "alice", PASSPHRASES["alice"]) as v:
        task_id = v.add_task("sst2_sentiment", (TASKS / "sst2_sentiment.toml").read_text(encoding="utf-8"))
        job_id = v.create_job(task_id, "zerogen", {"request": {"n": 3}})
        v.add_records(job_id, [
            {"text": "A fine film.", "label": "positive"},
            {"text": "Call Dana Whitlock on 555-0142 about it.", "label": "negative", "status": "quarantined",
             "reasons": [{"code": "pii.PHONE_NUMBER", "start": 25, "end": 33}],
             "findings": [{"entity": "PERSON", "start": 5, "end": 18, "score": 0.85, "action": "redact"}]},
            {"text": "Dana Whitlock hated it.", "label": "negative", "status": "quarantined",
             "reasons": [{"code": "pii.PERSON", "start": 0, "end": 13}]},
        ], unit=1)
        v.finish_job(job_id, "succeeded", {})
    return job_id


def test_release_refused_for_author_allowed_for_reviewer(home: Path) -> None:
    job_id = _job_with_quarantine(home)

    async def scenario(d) -> None:
        await d.sign_in("alice")
        await d.go("f6")
        assert d.q("#review-job", Select).value == job_id
        assert d.q("#quarantine").row_count == 2
        d.q("#review-note", Input).value = "looks harmless"
        await d.click("#release")
        await d.pilot.pause()
        assert any("permission denied: user alice (author) may not review quarantined records" in m for m in d.errors())
        assert d.q("#quarantine").row_count == 2

        await d.sign_out()
        await d.sign_in("rita")
        await d.go("f6")
        shown = d.q("#review-text", Static).render()
        assert "pii.PHONE_NUMBER[25:33]" in str(shown)
        assert "findings: PERSON[5:18] 0.85 redact" in str(shown)  # the name that does not block is shown too...
        marked = {str(shown)[sp.start:sp.end]: repr(sp.style) for sp in shown.spans}
        assert "Dana Whitlock" in marked and len(set(marked.values())) == 2  # ...and highlighted, unlike a blocking span
        await d.click("#release")  # no justification yet
        await d.pilot.pause()
        assert any("justification is required" in m for m in d.errors())
        d.q("#review-note", Input).value = "fictional number from the 555 range"
        await d.click("#release")
        await d.pilot.pause()
        assert d.q("#quarantine").row_count == 1, d.notes

    drive(home, scenario)
    with Vault.open(home, "rita", PASSPHRASES["rita"]) as v:
        released = [r for r in v.list_records(job_id) if r["reviewed_by"] == "rita"]
        refusals = v.audit_entries(action="access.denied", user="alice")
    assert [(r["status"], r["review_note"]) for r in released] == [("accepted", "fictional number from the 555 range")]
    assert any(e["params"]["permission"] == "record.review" for e in refusals)


def test_audit_verify_and_export_jsonl(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit.jsonl"

    async def scenario(d) -> None:
        await d.sign_in("rita")
        await d.go("f8")
        assert d.q("#audit-log").row_count > 0
        await d.click("#verify")
        await d.settle()
        assert str(d.q("#audit-result", Static).render()).startswith("✓ audit log OK:")
        d.q("#audit-action", Input).value = "user.*"
        await d.pilot.pause()
        assert d.q("#audit-log").row_count == 3  # alice, bob, rita added
        d.q("#audit-path", Input).value = str(out)
        await d.click("#export-jsonl")
        await d.pilot.pause()

    drive(home, scenario)
    assert len(out.read_text(encoding="utf-8").splitlines()) == 3


def test_export_requested_by_author_approved_by_reviewer_written(home: Path, tmp_path: Path) -> None:
    job_id = _job_with_quarantine(home)
    out = tmp_path / "export-out"

    async def scenario(d) -> None:
        await d.sign_in("alice")
        await d.go("f9")
        d.q("#export-job", Select).value = job_id
        await d.click("#request")
        await d.pilot.pause()
        assert d.q("#exports").row_count == 1
        await d.sign_out()

        await d.sign_in("rita")
        await d.go("f9")
        d.q("#export-reason", Input).value = "de-identified, purpose fits"
        await d.click("#approve")
        await d.pilot.pause()
        assert any("export 1: approved" in m for m, _ in d.notes)
        await d.sign_out()

        await d.sign_in("alice")
        await d.go("f9")
        d.q("#export-to", Input).value = str(out)
        await d.click("#write")
        await d.settle()
        assert any("export 1: 1 records written to" in m for m, _ in d.notes), d.notes

    drive(home, scenario)
    with Vault.open(home, "rita", PASSPHRASES["rita"]) as v:
        e = v.get_export(1)
    assert (e["status"], e["requested_by"], e["decided_by"]) == ("approved", "alice", "rita")
    assert e["manifest"]["records"] == 1
    assert out.is_dir() and any(out.iterdir())
