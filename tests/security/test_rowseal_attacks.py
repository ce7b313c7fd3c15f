"""Attacks on a record's status, label and job by raw SQL: an admin or auditor holds the database key, so they can
edit any column of ``records``; only holders of the records key (authors, reviewers) can seal a row. Every edit below
must be refused, naming the record and never its text, by the author's record list, the reviewer's review queue and
an export; the legitimate paths (gate, review, label filter, export, key rotation) keep every row verifying.
The last tests edit a job's own row (status, configuration, summary), which its audit entries hold (``joblog``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from appliance.errors import IntegrityError
from appliance.service import export, review
from appliance.service.session import Session
from appliance.vault import rowseal
from appliance.vault.store import Vault
from tests.export.export_helpers import CLEAN, QUARANTINED_MARK, REJECTED_MARK, make_job, open_as
from tests.security.rowseal_helpers import PASSPHRASES, assert_refused, raw_sql, record_ids

INSIDERS = {"root": "admin", "olga": "auditor"}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, int, dict[str, int]]:
    """The export tests' vault (accepted, quarantined, released and rejected records), an auditor, and a second job:
    built once (its users' key derivations are most of a test's time), copied for each test."""
    home = tmp_path_factory.mktemp("rowseal") / "home"
    job_id = make_job(home)
    with open_as(home, "root") as v:
        v.add_user("olga", "auditor", PASSPHRASES["olga"])
    with open_as(home, "alice") as v:
        other = v.create_job(v.get_job(job_id)["task_id"], "zerogen", v.get_job(job_id)["config"])
        v.add_records(other, [{"text": "another job's only record", "label": "cardiology"}])
        v.finish_job(other, "succeeded", {})
    return home, job_id, other, record_ids(home, job_id)


@pytest.fixture
def vault(template, tmp_path: Path) -> tuple[Path, int, int, dict[str, int]]:
    """A fresh copy of the template vault: every test edits its own."""
    src, job_id, other, ids = template
    home = tmp_path / "home"
    shutil.copytree(src, home, symlinks=True)
    return home, job_id, other, ids


@pytest.mark.parametrize("insider", list(INSIDERS))
def test_a_quarantined_record_set_accepted_is_refused(vault, insider: str) -> None:
    home, job_id, _, ids = vault
    raw_sql(home, insider, "UPDATE records SET status = 'accepted' WHERE id = ?", [ids[QUARANTINED_MARK]])
    assert_refused(home, job_id, ids[QUARANTINED_MARK])


@pytest.mark.parametrize("insider", list(INSIDERS))
def test_a_rejected_record_set_accepted_is_refused(vault, insider: str) -> None:
    home, job_id, _, ids = vault
    raw_sql(home, insider, "UPDATE records SET status = 'accepted', reviewed_by = NULL WHERE id = ?",
            [ids[REJECTED_MARK]])
    assert_refused(home, job_id, ids[REJECTED_MARK])


@pytest.mark.parametrize("insider", list(INSIDERS))
def test_a_changed_label_is_refused(vault, insider: str) -> None:
    home, job_id, _, ids = vault
    raw_sql(home, insider, "UPDATE records SET label = 'orthopedics' WHERE id = ?", [ids[CLEAN[0][0]]])
    assert_refused(home, job_id, ids[CLEAN[0][0]])


@pytest.mark.parametrize("insider", list(INSIDERS))
def test_two_rows_with_their_labels_swapped_are_refused(vault, insider: str) -> None:
    home, job_id, _, ids = vault
    a, b = ids[CLEAN[0][0]], ids[CLEAN[1][0]]
    raw_sql(home, insider, "UPDATE records SET label = CASE id WHEN ? THEN ? ELSE ? END WHERE id IN (?, ?)",
            [a, CLEAN[1][1], CLEAN[0][1], a, b])
    assert_refused(home, job_id, a)  # the first row read is named


@pytest.mark.parametrize("insider", list(INSIDERS))
def test_a_record_moved_to_another_job_is_refused_there(vault, insider: str) -> None:
    home, job_id, other, ids = vault
    raw_sql(home, insider, "UPDATE records SET job_id = ? WHERE id = ?", [other, ids[CLEAN[0][0]]])
    with Session(open_as(home, "alice")) as s:
        for read in (lambda: s.vault.list_records(other), lambda: export.request_export(s, other)):
            with pytest.raises(IntegrityError, match=f"^record {ids[CLEAN[0][0]]} does not verify"):
                read()
    with Session(open_as(home, "rita")) as s, pytest.raises(IntegrityError, match=f"^record {ids[CLEAN[0][0]]} "):
        review.quarantined(s, other)


@pytest.mark.parametrize("insider", list(INSIDERS))
def test_a_removed_seal_is_refused_and_never_rebuilt(vault, insider: str) -> None:
    home, job_id, _, ids = vault
    raw_sql(home, insider, "UPDATE records SET seal = NULL, status = 'accepted' WHERE id = ?", [ids[QUARANTINED_MARK]])
    assert_refused(home, job_id, ids[QUARANTINED_MARK])  # those sign-ins (author, reviewer) sealed nothing
    with open_as(home, "root") as v:
        assert len(v.audit_entries(action="records.seal")) == 1  # the one of the first sign-in, long before


@pytest.mark.parametrize("insider", list(INSIDERS))
def test_a_seal_copied_from_another_row_is_refused(vault, insider: str) -> None:
    home, job_id, _, ids = vault
    raw_sql(home, insider, "UPDATE records SET seal = (SELECT seal FROM records WHERE id = ?) WHERE id = ?",
            [ids[CLEAN[0][0]], ids[CLEAN[1][0]]])
    assert_refused(home, job_id, ids[CLEAN[1][0]])


def test_a_whole_row_copied_over_another_is_refused(vault) -> None:
    home, job_id, _, ids = vault
    a, b = ids[CLEAN[0][0]], ids[CLEAN[1][0]]
    raw_sql(home, "root", "UPDATE records SET label = src.label, text = src.text, seal = src.seal FROM "
            "(SELECT label, text, seal FROM records WHERE id = ?) AS src WHERE records.id = ?", [a, b])
    assert_refused(home, job_id, b)


def test_a_rejected_record_put_back_to_its_sealed_quarantined_state_is_refused(vault) -> None:
    """A replay: the row as the gate sealed it names no decision, the log holds the reviewer's."""
    home, job_id, _, ids = vault
    rid = ids[QUARANTINED_MARK]
    before = raw_sql(home, "olga", "SELECT status, seal FROM records WHERE id = ?", [rid])[0]
    with open_as(home, "rita") as v:
        v.review_record(rid, False, "rejected after all")
    raw_sql(home, "root", "UPDATE records SET status = ?, reviewed_by = NULL, review_note = NULL, seal = ? "
            "WHERE id = ?", [*before, rid])
    assert_refused(home, job_id, rid)


def test_a_filtered_record_put_back_to_its_sealed_accepted_state_is_refused(vault) -> None:
    """A replay: the row as the gate sealed it names no decision, the log holds the label filter's."""
    home, job_id, _, ids = vault
    rid = ids[CLEAN[2][0]]
    before = raw_sql(home, "olga", "SELECT status, reasons, seal FROM records WHERE id = ?", [rid])[0]
    with open_as(home, "alice") as v:
        v.apply_label_filter(job_id, "cleanlab", {rid: "label issue"})
    raw_sql(home, "olga", "UPDATE records SET status = ?, reasons = ?, seal = ? WHERE id = ?", [*before, rid])
    assert_refused(home, job_id, rid)


def test_an_approved_export_is_not_written_after_an_edit(vault, tmp_path: Path) -> None:
    home, job_id, _, ids = vault
    with Session(open_as(home, "alice")) as s:
        export_id = export.request_export(s, job_id)["export_id"]
    with Session(open_as(home, "rita")) as s:
        export.decide_export(s, export_id, True, "fit for release")
    raw_sql(home, "olga", "UPDATE records SET status = 'accepted' WHERE id = ?", [ids[REJECTED_MARK]])
    out = tmp_path / "out"
    with Session(open_as(home, "alice")) as s, pytest.raises(IntegrityError, match=f"^record {ids[REJECTED_MARK]} "):
        export.write_export(s, export_id, "jsonl", out)
    assert not out.exists()


def test_a_writer_does_not_seal_over_an_edit(vault) -> None:
    """The label filter and the review re-seal the rows they change: an edited row makes them refuse, not launder."""
    home, job_id, _, ids = vault
    raw_sql(home, "root", "UPDATE records SET label = 'orthopedics' WHERE id = ?", [ids[CLEAN[0][0]]])
    with open_as(home, "alice") as v, pytest.raises(IntegrityError, match=f"^record {ids[CLEAN[0][0]]} "):
        v.apply_label_filter(job_id, "cleanlab", {})
    raw_sql(home, "root", "UPDATE records SET review_note = 'looks fine' WHERE id = ?", [ids[QUARANTINED_MARK]])
    with open_as(home, "rita") as v, pytest.raises(IntegrityError, match=f"^record {ids[QUARANTINED_MARK]} "):
        v.review_record(ids[QUARANTINED_MARK], True, "ok")
    with open_as(home, "alice") as v, pytest.raises(IntegrityError):
        v.list_records(job_id)


@pytest.mark.parametrize("insider", [*INSIDERS, "alice"])
@pytest.mark.parametrize("mark", [QUARANTINED_MARK, CLEAN[0][0]])
def test_a_deleted_record_is_refused_as_missing(vault, insider: str, mark: str) -> None:
    """A quarantined record deleted so that nobody reviews it, or an accepted one so that an export leaves it out: the
    job's ``job.finish`` entry keeps its records' ids, so even an author (who could seal rows) is caught."""
    home, job_id, _, ids = vault
    raw_sql(home, insider, "DELETE FROM records WHERE id = ?", [ids[mark]])
    n = len(ids)
    assert_refused(home, job_id, None, match=f"^job {job_id} has {n - 1} records, not the {n} it finished with ")
    with Vault.open(home, "olga", PASSPHRASES["olga"]) as v:  # the auditor, who cannot read a record, sees it too
        result = v.verify_audit()
    assert not result.ok and str(result).startswith("audit log FAILED at entry ")
    assert f"job {job_id} has {n - 1} records, not the {n} it finished with" in str(result)


def test_a_finished_job_set_running_again_by_sql_takes_no_new_record(vault) -> None:
    """An author who sets a finished job back to 'running' in the database cannot add a sealed record to it: the batch
    writer holds the job's row to the log first (it used to seal the record, which only the finish's digest then
    caught). Set back to 'succeeded', the job reads as it finished."""
    home, job_id, _, ids = vault
    raw_sql(home, "alice", "UPDATE jobs SET status = 'running' WHERE id = ?", [job_id])
    with open_as(home, "alice") as v, pytest.raises(IntegrityError, match=f"^job {job_id} has a status that differs"):
        v.add_records(job_id, [{"text": "a record slipped in after the review", "label": "cardiology"}])
    raw_sql(home, "alice", "UPDATE jobs SET status = 'succeeded' WHERE id = ?", [job_id])
    with open_as(home, "alice") as v:
        assert sorted(r["id"] for r in v.list_records(job_id)) == sorted(ids.values())


def _cancelled_job(home: Path, like: int, text: str) -> int:
    """A third job, of ``like``'s task and configuration, with one record, cancelled through the app."""
    with open_as(home, "alice") as v:
        job = v.get_job(like)
        third = v.create_job(job["task_id"], "zerogen", job["config"])
        v.add_records(third, [{"text": text, "label": "cardiology"}])
        v.finish_job(third, "cancelled", {})
    return third


def test_a_resumed_job_may_add_records_until_it_finishes_again(vault) -> None:
    """The legitimate path: a cancelled job resumed through the app adds records and finishes with the new set."""
    home, job_id, _, _ = vault
    third = _cancelled_job(home, job_id, "a record of the first run")
    with open_as(home, "alice") as v:
        v.reopen_job(third)
        v.add_records(third, [{"text": "a record of the resumed run", "label": "cardiology"}])
        assert len(v.list_records(third)) == 2  # running: no finished set to hold it to yet
        v.finish_job(third, "succeeded", {})
        assert len(v.list_records(third)) == 2 and v.get_job(third)["status"] == "succeeded"


def test_an_entry_from_before_the_digest_holds_the_job_to_its_count() -> None:
    """Vaults whose ``job.finish`` entries kept only counts by status: the total must still match."""
    dec = {7: (12, {"records": {"accepted": 2, "quarantined": 1}})}  # rowseal.held_sets' shape
    rowseal.check_complete(dec, 7, [{"id": 1}, {"id": 2}, {"id": 3}])
    with pytest.raises(IntegrityError, match="^job 7 has 2 records, not the 3 it finished with .audit entry 12."):
        rowseal.check_complete(dec, 7, [{"id": 1}, {"id": 3}])
    rowseal.check_complete(dec, 8, [])  # a job with no finish entry (running, or crashed) is not held to a set


# -- a job's own row (``appliance/vault/joblog.py``)

def _job_readers(home: Path, job_id: int, listed: bool = False) -> None:
    """The job's page and an export request (and the job list, when the column edited is one it shows) each refuse
    the edited job, naming it."""
    readers = [lambda s: s.vault.get_job(job_id), lambda s: export.request_export(s, job_id)]
    for read in readers + ([lambda s: s.vault.list_jobs()] if listed else []):
        with Session(open_as(home, "alice")) as s, pytest.raises(IntegrityError, match=f"^job {job_id} ") as e:
            read(s)
        assert e.value.exit_code == 3 and "\n" not in str(e.value) and "outside the app" in str(e.value)


@pytest.mark.parametrize("insider", list(INSIDERS))
def test_a_jobs_configuration_edited_is_refused(vault, insider: str) -> None:
    """The configuration goes into an export's manifest: a DP job's ε changed there would misstate the release."""
    home, job_id, _, _ = vault
    raw_sql(home, insider, "UPDATE jobs SET config = ? WHERE id = ?", ['{"epsilon":1.0,"n":6}', job_id])
    _job_readers(home, job_id)


def test_a_cancelled_job_marked_succeeded_is_refused(vault) -> None:
    """Only a succeeded job can be exported: a partial run marked 'succeeded' by an admin is not."""
    home, job_id, _, _ = vault
    third = _cancelled_job(home, job_id, "a record of a run cut short")
    raw_sql(home, "root", "UPDATE jobs SET status = 'succeeded' WHERE id = ?", [third])
    _job_readers(home, third, listed=True)


def test_an_edited_summary_or_a_label_filter_taken_out_of_it_is_refused(vault) -> None:
    home, job_id, _, ids = vault
    with open_as(home, "alice") as v:
        v.apply_label_filter(job_id, "cleanlab", {ids[CLEAN[0][0]]: "off-label"})
        assert v.get_job(job_id)["summary"]["label_filter"]["name"] == "cleanlab"  # the path that writes it holds
    before = raw_sql(home, "root", "SELECT summary FROM jobs WHERE id = ?", [job_id])[0][0]
    # (DuckDB has no json_remove: the summary without its label filter is written back whole.)
    without = json.dumps({k: v for k, v in json.loads(before).items() if k != "label_filter"}, separators=(",", ":"))
    raw_sql(home, "root", "UPDATE jobs SET summary = ? WHERE id = ?", [without, job_id])
    _job_readers(home, job_id)
    raw_sql(home, "root", "UPDATE jobs SET summary = ? WHERE id = ?", [before.replace('"cleanlab"', '"judge"'), job_id])
    _job_readers(home, job_id)


def test_a_job_row_inserted_by_sql_is_refused(vault) -> None:
    home, job_id, _, _ = vault
    raw_sql(home, "root", "INSERT INTO jobs SELECT 99, task_id, method, config, status, summary, created_at, "
            "created_by, finished_at, units_done FROM jobs WHERE id = ?", [job_id])
    with open_as(home, "alice") as v, pytest.raises(IntegrityError, match="^job 99 has no job.start entry"):
        v.get_job(99)


@pytest.mark.parametrize("insider", list(INSIDERS))
def test_a_task_spec_edited_under_its_jobs_is_refused(vault, insider: str) -> None:
    """A spec's labels or prompts changed by raw SQL (and its stored digest with them) would change what a resume
    generates and what evaluation scores against: the task.add entry's digest refuses it."""
    home, job_id, _, _ = vault
    with open_as(home, "alice") as v:
        task_id = v.get_job(job_id)["task_id"]
    raw_sql(home, insider, "UPDATE tasks SET spec_toml = replace(spec_toml, 'neurology', 'oncology'), "
            "sha256 = sha256(replace(spec_toml, 'neurology', 'oncology')) WHERE id = ?", [task_id])
    with open_as(home, "alice") as v, pytest.raises(IntegrityError, match=f"^task {task_id}'s spec is not the one"):
        v.get_task(task_id)
