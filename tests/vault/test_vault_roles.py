"""Roles are enforced below the user interface, and every refusal is audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from vault_helpers import PASSPHRASES, open_as

from appliance.errors import UserError
from appliance.service import Session
from appliance.vault import roles


def _seeded(home: Path) -> int:
    with open_as(home, "alice") as v:
        task_id = v.add_task("t", "[task]\nname = 't'\n")
        v.import_seeds("clinic", [("patient note one", "a"), ("patient note two", "b")], task_id=task_id)
        job_id = v.create_job(task_id, "zerogen", {})
        v.add_records(job_id, [{"text": "ok"}, {"text": "held back", "status": "quarantined", "reasons": ["near-duplicate"]}])
        v.finish_job(job_id, "succeeded", {})
    return job_id


def _denials(home: Path) -> list[dict]:
    with open_as(home, "rita") as v:
        return v.audit_entries(action="access.denied")


def test_reviewer_cannot_read_raw_seeds(populated: Path) -> None:
    _seeded(populated)
    with open_as(populated, "rita") as v:
        with pytest.raises(UserError, match="rita \\(reviewer\\) may not read raw seed records"):
            v.list_seeds("clinic")
        assert [s["name"] for s in v.list_seed_sets()] == ["clinic"]  # names and sizes only: the ledger needs them
    denied = _denials(populated)
    assert [(d["user"], d["params"]["permission"]) for d in denied] == [("rita", "seed.read")]


def test_reviewer_reviews_quarantined_records(populated: Path) -> None:
    job_id = _seeded(populated)
    with open_as(populated, "rita") as v:
        held = v.list_records(job_id, status="quarantined")
        assert [r["text"] for r in held] == ["held back"]
        assert v.review_record(held[0]["id"], release=False, note="too close to a seed") == "rejected"
        assert v.count_records(job_id, "rejected") == 1
    with open_as(populated, "alice") as v:
        with pytest.raises(UserError, match="may not review quarantined records"):
            v.review_record(held[0]["id"], release=True)


def test_admin_manages_users_but_reads_no_data(populated: Path) -> None:
    _seeded(populated)
    with open_as(populated, "root") as v:
        with pytest.raises(UserError, match="may not read raw seed records"):
            v.list_seeds("clinic")
        with pytest.raises(UserError, match="may not read generated records"):
            v.list_records(1)
        with pytest.raises(UserError, match="may not define tasks"):
            v.add_task("x", "")


def test_author_cannot_manage_users_rotate_or_read_audit(populated: Path) -> None:
    with open_as(populated, "alice") as v:
        for call, phrase in (
            (lambda: v.add_user("eve", "admin", "eve-passphrase"), "manage users"),
            (v.rotate_key, "rotate the vault key"),
            (v.verify_audit, "verify the audit log"),
        ):
            with pytest.raises(UserError, match=phrase):
                call()
    assert [d["params"]["permission"] for d in _denials(populated)] == ["user.manage", "key.rotate", "audit.verify"]


def test_author_cannot_approve_own_export(populated: Path) -> None:
    job_id = _seeded(populated)
    with open_as(populated, "alice") as v:
        export_id = v.request_export(job_id, {"records": 1, "format": "jsonl"})
        with pytest.raises(UserError, match="may not approve or deny exports"):
            v.decide_export(export_id, approve=True)
    with open_as(populated, "rita") as v:
        assert v.decide_export(export_id, approve=True, reason="checked") == "approved"
        with pytest.raises(UserError, match="already decided"):
            v.decide_export(export_id, approve=False)


def test_requester_can_never_approve_own_export() -> None:
    # The four-eyes check itself, for any future role that could both request and decide.
    with pytest.raises(UserError, match="requested this export and cannot approve it"):
        roles.check_not_own_export("alice", "alice")
    roles.check_not_own_export("rita", "alice")


def test_self_approval_refusal_is_audited(populated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = _seeded(populated)
    with open_as(populated, "alice") as v:
        export_id = v.request_export(job_id, {})
    # Suppose a policy let authors decide exports: the four-eyes rule must still refuse alice.
    monkeypatch.setitem(roles.PERMISSIONS, "export.decide", ("approve or deny exports", frozenset({"author", "reviewer"})))
    with Session.open(populated, "alice", PASSPHRASES["alice"]) as s:
        with pytest.raises(UserError, match="cannot approve it"):
            s.check_export_approval(export_id)
    denied = _denials(populated)
    assert denied[-1]["user"] == "alice" and denied[-1]["params"] == {"permission": "export.decide", "reason": "own export"}


def test_session_require_audits_refusals(populated: Path) -> None:
    with Session.open(populated, "rita", PASSPHRASES["rita"]) as s:
        assert s.role == "reviewer" and s.can("audit.read") and not s.can("seed.import")
        with pytest.raises(UserError, match="may not import seed records"):
            s.require("seed.import")
    assert _denials(populated)[-1]["params"]["permission"] == "seed.import"


def test_refusal_inside_a_rolled_back_transaction_is_still_audited(populated: Path) -> None:
    with open_as(populated, "rita") as v:
        with pytest.raises(UserError):
            with v.transaction():
                v.audit("noise")
                v.require("seed.import")
        actions = [e["action"] for e in v.audit_entries()]
    assert "noise" not in actions
    assert actions[-1] == "access.denied"


def test_every_permission_has_at_least_one_role() -> None:
    for perm, (_phrase, allowed) in roles.PERMISSIONS.items():
        assert allowed and allowed <= set(roles.ROLES), perm
