"""The legitimate paths keep every record's seal verifying (gate, review, label filter, export, a key rotation after
a user's removal), and a vault from before the seals gets them once, from a records-key holder, without giving an
insider a way to have a removed seal rebuilt over an edit."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.errors import IntegrityError
from appliance.service import export, review
from appliance.service.session import Session
from appliance.vault import roles, rowseal
from appliance.vault.jobs import JobsMixin
from tests.export.export_helpers import CLEAN, QUARANTINED_MARK, RELEASED, make_job, open_as
from tests.security.rowseal_helpers import assert_refused, raw_sql, record_ids

SEAL_ENTRY = rowseal.SEALED_ACTION


def seals(home: Path) -> list[str | None]:
    return [r[0] for r in raw_sql(home, "root", "SELECT seal FROM records ORDER BY id")]


def test_gate_review_filter_and_export_round_trip(tmp_path: Path) -> None:
    home = tmp_path / "home"
    job_id = make_job(home)  # the gate's verdicts, then a reviewer's release and rejection
    ids = record_ids(home, job_id)
    with Session(open_as(home, "rita")) as s:
        assert [r["id"] for r in review.quarantined(s, job_id)] == [ids[QUARANTINED_MARK]]
        review.decide(s, ids[QUARANTINED_MARK], True, "a phone number of the clinic, not a patient")
    with open_as(home, "alice") as v:
        assert v.apply_label_filter(job_id, "cleanlab", {ids[CLEAN[0][0]]: "label issue"})["newly_filtered"] == 1
        assert v.apply_label_filter(job_id, "cleanlab", {ids[CLEAN[1][0]]: "label issue"})["restored"] == 1
    with Session(open_as(home, "alice")) as s:
        export_id = export.request_export(s, job_id)["export_id"]
    with Session(open_as(home, "rita")) as s:
        export.decide_export(s, export_id, True, "fit for release")
    out = tmp_path / "out"
    with Session(open_as(home, "alice")) as s:
        export.write_export(s, export_id, "jsonl", out)
        by_status = {r["id"]: r["status"] for r in s.vault.list_records(job_id)}
    export.verify(out, home=home)
    exported = (out / "data.jsonl").read_text()
    assert CLEAN[0][0] in exported and CLEAN[1][0] not in exported  # restored by the second filter, filtered by it
    assert by_status[ids[QUARANTINED_MARK]] == by_status[ids[RELEASED]] == by_status[ids[CLEAN[0][0]]] == "accepted"
    assert by_status[ids[CLEAN[1][0]]] == "filtered"
    with open_as(home, "alice") as v:
        gen = v._kf.current(roles.RECORDS)
    assert all(s is not None and s.startswith(gen + ":") for s in seals(home))


def test_a_key_rotation_after_a_removal_keeps_every_row_verifying_and_an_edited_row_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    job_id = make_job(home)
    ids = record_ids(home, job_id)
    raw_sql(home, "root", "UPDATE records SET label = 'orthopedics' WHERE id = ?", [ids[CLEAN[0][0]]])
    with open_as(home, "root") as v:
        v.remove_user("bob")  # bob held the records key: it rotates at the next holder's sign-in
    with open_as(home, "alice") as v:  # rotates
        gen = v._kf.current(roles.RECORDS)
    with open_as(home, "root") as v:
        rotated = [e["params"]["generation"] for e in v.audit_entries(action="key.room.rotate")
                   if e["object_ids"]["room"] == roles.RECORDS]
        assert rotated == [gen]
    assert_refused(home, job_id, ids[CLEAN[0][0]])  # rotation re-sealed the others, not the edited row
    raw_sql(home, "root", "UPDATE records SET label = ? WHERE id = ?", [CLEAN[0][1], ids[CLEAN[0][0]]])
    assert_refused(home, job_id, ids[CLEAN[0][0]])  # even undone: its seal is of a key nobody holds any more
    raw_sql(home, "root", "DELETE FROM records WHERE id = ?", [ids[CLEAN[0][0]]])
    with open_as(home, "rita") as v, pytest.raises(IntegrityError, match=f"^job {job_id} has {len(ids) - 1} records"):
        v.list_records(job_id)  # the rest verify under the new key, but the job lost a record
    assert all(s.startswith(gen + ":") for s in seals(home))


def legacy_vault(home: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """A vault as written before rows had seals: no ``records.seal`` entry, no seal column."""
    with monkeypatch.context() as mp:
        mp.setattr(JobsMixin, "_seal_unsealed_records", lambda self: None)
        job_id = make_job(home)
    raw_sql(home, "root", "ALTER TABLE records DROP COLUMN seal")
    return job_id


def test_an_older_vault_is_sealed_once_by_the_first_records_key_holder(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    job_id = legacy_vault(home, monkeypatch)
    with open_as(home, "root") as v:  # an admin adds the column but holds no records key: seals nothing
        assert v.audit_entries(action=SEAL_ENTRY) == []
    assert set(seals(home)) == {None}
    with open_as(home, "rita") as v:
        (entry,) = v.audit_entries(action=SEAL_ENTRY)
        assert entry["user"] == "rita" and entry["params"] == {"records": 8}
        assert len(v.list_records(job_id)) == 8
    assert None not in seals(home)
    rid = record_ids(home, job_id)[QUARANTINED_MARK]
    raw_sql(home, "root", "UPDATE records SET seal = NULL, status = 'accepted' WHERE id = ?", [rid])
    assert_refused(home, job_id, rid)  # the sign-ins since sealed nothing again
    with open_as(home, "root") as v:
        assert len(v.audit_entries(action=SEAL_ENTRY)) == 1


def test_an_older_vault_whose_log_does_not_verify_is_not_sealed(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Deleting the ``records.seal`` entry to have rows sealed again breaks the log; then nothing is sealed."""
    home = tmp_path / "home"
    job_id = legacy_vault(home, monkeypatch)
    raw_sql(home, "root", "DELETE FROM audit WHERE seq = 5")
    with open_as(home, "alice") as v, pytest.raises(IntegrityError, match=r"^record \d+ has no seal: "):
        v.list_records(job_id)
    assert raw_sql(home, "root", "SELECT count(*) FROM audit WHERE action = ?", [SEAL_ENTRY]) == [(0,)]
