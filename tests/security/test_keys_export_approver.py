"""An admin alone cannot push an export through under a strict policy: the approving reviewer must have been a user
before the job started, and the manifest names who created the requester and the approver."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance.errors import UserError
from appliance.service import export
from appliance.service.session import Session
from appliance.vault import Vault, keys
from tests.export.export_helpers import FAST_KDF, make_job, open_as


@pytest.fixture(autouse=True)
def _fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys, "default_kdf_params", lambda: FAST_KDF)


def test_a_reviewer_created_after_the_job_cannot_approve_under_a_strict_policy(tmp_path: Path) -> None:
    home = tmp_path / "home"
    job_id = make_job(home, policy="hipaa-safe-harbor")
    with open_as(home, "root") as v:  # the admin makes a fresh reviewer for the job already in the vault
        v.add_user("newrev", "reviewer", "newrev-passphrase")
    with Session(open_as(home, "alice")) as s:
        export_id = export.request_export(s, job_id)["export_id"]
    with Session(Vault.open(home, "newrev", "newrev-passphrase")) as s:
        with pytest.raises(UserError, match="needs a reviewer who was a user before job"):
            export.decide_export(s, export_id, True, "looks fine")
    with Session(open_as(home, "rita")) as s:  # a reviewer who predates the job may
        assert export.decide_export(s, export_id, True, "checked") == "approved"
    with Session(open_as(home, "alice")) as s:
        out = tmp_path / "out"
        export.write_export(s, export_id, "jsonl", out)
    approval = json.loads((out / "manifest.json").read_text())["approval"]
    assert (approval["requested_by"], approval["requested_by_created_by"]) == ("alice", "root")
    assert (approval["approved_by"], approval["approved_by_created_by"]) == ("rita", "root")
    with open_as(home, "rita") as v:
        denied = [e for e in v.audit_entries(action="access.denied") if e["user"] == "newrev"]
    assert denied and denied[0]["params"]["reason"] == "approver created after the job started"


def test_the_default_policy_lets_a_later_reviewer_approve(tmp_path: Path) -> None:
    home = tmp_path / "home"
    job_id = make_job(home)
    with open_as(home, "root") as v:
        v.add_user("newrev", "reviewer", "newrev-passphrase")
    with Session(open_as(home, "alice")) as s:
        export_id = export.request_export(s, job_id)["export_id"]
    with Session(Vault.open(home, "newrev", "newrev-passphrase")) as s:
        assert export.decide_export(s, export_id, True, "checked") == "approved"
