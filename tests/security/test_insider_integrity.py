"""An insider against the checks that hold a job's rows, a job's own row and a task's spec to the audit log
(``rowseal.check_complete``, ``joblog``, ``tasks.get_task``), and the legitimate paths those checks must not refuse.

Every user signs their own audit entries, so besides raw SQL an insider can append a *validly signed* entry of their
own (``forge``): ``audit verify`` accepts it, so only the readers can tell that an admin or auditor never runs jobs
or defines tasks, and that the app never finishes a job twice without a resume."""

from __future__ import annotations

import json
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from appliance.errors import IntegrityError
from appliance.vault.audit import AuditLog, VerifyResult
from appliance.vault.rowseal import record_ids_sha256
from appliance.vault.store import Vault
from tests.export.export_helpers import CLEAN, QUARANTINED_MARK, make_job, open_as
from tests.security.rowseal_helpers import PASSPHRASES, assert_refused, raw_db, raw_sql, record_ids

SPEC_TEXT = 'name = "insider-probe"\n'


def forge(home: Path, user: str, action: str, object_ids: Any, params: Any, role: str = "author") -> None:
    """What ``user`` can add to the log with their passphrase and the files alone: an entry signed with their own key,
    claiming ``role``, chained to the head and with a fresh signed checkpoint (so ``audit verify`` accepts it)."""
    with raw_db(home, user) as (con, kf, unlocked):
        log = AuditLog(con, home, kf.installation_id)
        con.execute("BEGIN")
        log.append(unlocked.sign_key, user, role, action, object_ids, params)
        con.execute("COMMIT")
        assert log.write_checkpoint(unlocked.sign_key, user)


def last_finish(home: Path, job_id: int) -> dict[str, Any]:
    row = raw_sql(home, "root", "SELECT params FROM audit WHERE action = 'job.finish' AND object_ids = ? "
                  "ORDER BY seq DESC LIMIT 1", [json.dumps({"job_id": job_id}, separators=(",", ":"))])
    return json.loads(row[0][0])


def verify_as_auditor(home: Path) -> VerifyResult:
    with Vault.open(home, "olga", PASSPHRASES["olga"]) as v:
        return v.verify_audit()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, dict[str, int]]:
    """The export tests' vault, an auditor and a cancelled job of two records: built once, copied for each test."""
    home = tmp_path_factory.mktemp("insider") / "home"
    job_id = make_job(home)
    with open_as(home, "root") as v:
        v.add_user("olga", "auditor", PASSPHRASES["olga"])
    with open_as(home, "alice") as v:
        job = v.get_job(job_id)
        cancelled = v.create_job(job["task_id"], "zerogen", job["config"])
        v.add_records(cancelled, [{"text": "first of a run cut short", "label": "cardiology"},
                                  {"text": "second of a run cut short", "label": "cardiology"}])
        v.finish_job(cancelled, "cancelled", {"stopped": "by the author"})
    return home, job_id, cancelled


@pytest.fixture
def vault(template, tmp_path: Path) -> tuple[Path, int, int]:
    src, job_id, cancelled = template
    home = tmp_path / "home"
    shutil.copytree(src, home, symlinks=True)
    return home, job_id, cancelled


# -- holes: an insider's own signed entries

@pytest.mark.parametrize("insider", ["root", "olga", "rita"])
def test_an_insiders_own_signed_finish_does_not_cover_a_deleted_row(vault, insider: str) -> None:
    """Delete a record, then append a job.finish of one's own with the digest of the rows left: the log still
    verifies (it is signed by its writer), but an admin, auditor or reviewer never finishes a job, so the entry
    explains nothing and the job stays held to the set it finished with."""
    home, job_id, _ = vault
    victim = record_ids(home, job_id)[QUARANTINED_MARK]
    raw_sql(home, insider, "DELETE FROM records WHERE id = ?", [victim])
    left = [r[0] for r in raw_sql(home, insider, "SELECT id FROM records WHERE job_id = ?", [job_id])]
    prm = last_finish(home, job_id) | {"records_total": len(left), "record_ids_sha256": record_ids_sha256(left)}
    forge(home, insider, "job.finish", {"job_id": job_id}, prm)
    assert_refused(home, job_id, None, match=f"^job {job_id} has {len(left)} records, not the {len(left) + 1} ")
    result = verify_as_auditor(home)
    assert not result.ok and f"job {job_id} has {len(left)} records" in result.problem


def test_an_admins_own_signed_finish_does_not_make_a_cancelled_job_succeeded(vault) -> None:
    home, _, cancelled = vault
    raw_sql(home, "root", "UPDATE jobs SET status = 'succeeded' WHERE id = ?", [cancelled])
    forge(home, "root", "job.finish", {"job_id": cancelled}, last_finish(home, cancelled) | {"status": "succeeded"})
    with open_as(home, "alice") as v, pytest.raises(IntegrityError, match=f"^job {cancelled} has a status "):
        v.get_job(cancelled)


def test_an_admins_own_task_row_and_signed_task_add_are_refused(vault) -> None:
    """A newer version of a task slipped in by an admin (row and entry) is what ``find_task`` returns: refused."""
    home, job_id, _ = vault
    with open_as(home, "alice") as v:
        task = v.get_task(v.get_job(job_id)["task_id"])
    text = task["spec_toml"].replace("neurology", "oncology")
    raw_sql(home, "root", "INSERT INTO tasks SELECT 77, name, ?, sha256(?), created_at, 'alice' FROM tasks "
            "WHERE id = ?", [text, text, task["id"]])
    forge(home, "root", "task.add", {"task_id": 77}, {"name": task["name"], "sha256": raw_sql(
        home, "root", "SELECT sha256 FROM tasks WHERE id = 77")[0][0]})
    with open_as(home, "alice") as v, pytest.raises(IntegrityError, match="^task 77's spec is not the one"):
        v.find_task(task["name"])


def test_entries_and_rows_with_odd_json_are_refused_not_a_traceback(vault) -> None:
    """Signed entries whose object ids or params are not JSON objects, and a job row whose configuration is not JSON
    or whose label filter is not an object: each reader answers with an IntegrityError or ignores the entry."""
    home, job_id, cancelled = vault
    forge(home, "alice", "task.add", [1, 2], {"name": "x"})
    forge(home, "alice", "job.finish", {"job_id": job_id}, ["succeeded"])
    forge(home, "alice", "job.resume", "7", None)
    with open_as(home, "alice") as v:
        v.get_task(v.get_job(job_id)["task_id"])  # the odd entries explain nothing and break nothing
        assert len(v.list_records(job_id)) > 0 and v.list_jobs()
        v.apply_label_filter(job_id, "cleanlab", {})
    raw_sql(home, "root", "UPDATE jobs SET config = 'not json {' WHERE id = ?", [cancelled])
    summary = json.loads(raw_sql(home, "root", "SELECT summary FROM jobs WHERE id = ?", [job_id])[0][0])
    summary["label_filter"] = "x"
    raw_sql(home, "root", "UPDATE jobs SET summary = ? WHERE id = ?", [json.dumps(summary), job_id])
    for job, column in ((cancelled, "config"), (job_id, "label filter")):
        with open_as(home, "alice") as v, pytest.raises(IntegrityError, match=f"^job {job} (has a|names a) {column}"):
            v.get_job(job)


def test_a_label_filters_report_edited_is_refused(vault) -> None:
    """A filter applied without a report, whose summary is then made to name one (a report that does not explain it)."""
    home, job_id, _ = vault
    off = record_ids(home, job_id)[CLEAN[0][0]]
    with open_as(home, "alice") as v:
        v.apply_label_filter(job_id, "cleanlab", {off: "off-label"})
    raw_sql(home, "root", "UPDATE jobs SET summary = replace(summary, '\"report_id\":null', '\"report_id\":1') "
            "WHERE id = ?", [job_id])
    with open_as(home, "alice") as v, pytest.raises(IntegrityError, match=f"^job {job_id} names a label filter"):
        v.get_job(job_id)


# -- holes: an author, who may finish jobs, and raw SQL

def test_an_author_cannot_finish_a_finished_job_again_over_a_deleted_row(vault) -> None:
    """Delete a record and set the job back to 'running' by SQL, then finish it through the app (or append one's own
    finish): the finish refuses the row, and a second finish without a resume explains nothing."""
    home, job_id, _ = vault
    victim = record_ids(home, job_id)[QUARANTINED_MARK]
    raw_sql(home, "alice", "DELETE FROM records WHERE id = ?", [victim])
    raw_sql(home, "alice", "UPDATE jobs SET status = 'running' WHERE id = ?", [job_id])
    with open_as(home, "alice") as v, pytest.raises(IntegrityError, match=f"^job {job_id} has a status "):
        v.finish_job(job_id, "succeeded", {})
    raw_sql(home, "alice", "UPDATE jobs SET status = 'succeeded' WHERE id = ?", [job_id])
    left = [r[0] for r in raw_sql(home, "alice", "SELECT id FROM records WHERE job_id = ?", [job_id])]
    forge(home, "alice", "job.finish", {"job_id": job_id},
          last_finish(home, job_id) | {"records_total": len(left), "record_ids_sha256": record_ids_sha256(left)})
    assert_refused(home, job_id, None, match=f"^job {job_id} has {len(left)} records, not the {len(left) + 1} ")


def test_a_row_deleted_from_a_cancelled_job_is_not_resumed_away(vault) -> None:
    """Resuming a job and finishing it again would digest whatever rows are left: the resume checks them first."""
    home, _, cancelled = vault
    raw_sql(home, "root", "DELETE FROM records WHERE id = (SELECT min(id) FROM records WHERE job_id = ?)", [cancelled])
    with open_as(home, "alice") as v, pytest.raises(IntegrityError, match=f"^job {cancelled} has 1 records, not the 2"):
        v.reopen_job(cancelled)


def test_a_deleted_job_row_does_not_hand_its_id_and_records_on(vault) -> None:
    """The newest job's row deleted by raw SQL: the next job must not get its id (its entries, and its records, whose
    seals name that id, would become the new job's)."""
    home, _, cancelled = vault
    raw_sql(home, "root", "DELETE FROM jobs WHERE id = ?", [cancelled])
    with open_as(home, "alice") as v:
        task_id = v.list_tasks()[0]["id"]
        new = v.create_job(task_id, "zerogen", {})
        assert new != cancelled and v.list_records(new) == []
        v.finish_job(new, "succeeded", {})
        assert v.get_job(new)["status"] == "succeeded"


# -- a killed job: held to its last committed batch (job.batch), before anything finished it

@pytest.fixture
def killed(vault) -> tuple[Path, int]:
    """A job killed after two committed batches (three records): its row still 'running', no finish entry."""
    home, job_id, _ = vault
    with open_as(home, "alice") as v:
        run = v.create_job(v.get_job(job_id)["task_id"], "zerogen", v.get_job(job_id)["config"])
        v.add_records(run, [{"text": "batch one, first", "label": "cardiology"},
                            {"text": "batch one, second", "label": "cardiology"}], unit=1)
        v.add_records(run, [{"text": "batch two", "label": "cardiology"}], unit=2)
    return home, run


def test_a_row_deleted_from_a_killed_job_is_refused_before_a_resume_launders_it(killed) -> None:
    """Without the batch entries, a resume would add the next batches and finish over the rows left, and the finish's
    digest would make the deletion look legitimate. Every reader, the resume, the next batch and `audit verify` refuse."""
    home, run = killed
    raw_sql(home, "root", "DELETE FROM records WHERE id = (SELECT min(id) FROM records WHERE job_id = ?)", [run])
    match = f"^job {run} has 2 records, not the 3 its committed batches hold"
    assert_refused(home, run, None, match=match, export_too=False)
    with open_as(home, "alice") as v:
        with pytest.raises(IntegrityError, match=match):
            v.reopen_job(run)
        with pytest.raises(IntegrityError, match=match):
            v.add_records(run, [{"text": "batch three", "label": "cardiology"}], unit=3)
    result = verify_as_auditor(home)
    assert not result.ok and match.lstrip("^") in result.problem


def test_batches_done_edited_on_a_killed_job_are_refused(killed) -> None:
    """``units_done`` tells a resume which batches are in the vault: lowered, a batch would be made twice; raised,
    one would be skipped. The job's batch entries hold the count."""
    home, run = killed
    raw_sql(home, "root", "UPDATE jobs SET units_done = 1 WHERE id = ?", [run])
    with open_as(home, "alice") as v:
        for act in (lambda: v.get_job(run), lambda: v.reopen_job(run),
                    lambda: v.add_records(run, [{"text": "batch two again", "label": "cardiology"}], unit=2)):
            with pytest.raises(IntegrityError, match=f"^job {run} has a units_done that differs from its audit entries"):
                act()
    result = verify_as_auditor(home)
    assert not result.ok and f"job {run} has a units_done that differs" in result.problem


@pytest.mark.parametrize("insider", ["root", "olga", "rita"])
def test_an_insiders_own_signed_batch_does_not_cover_a_deleted_row(killed, insider: str) -> None:
    """A job.batch of one's own with the digest of the rows left: only a role that runs jobs writes batches."""
    home, run = killed
    raw_sql(home, "root", "DELETE FROM records WHERE id = (SELECT min(id) FROM records WHERE job_id = ?)", [run])
    left = [r[0] for r in raw_sql(home, "root", "SELECT id FROM records WHERE job_id = ?", [run])]
    forge(home, insider, "job.batch", {"job_id": run}, {"unit": 3, "records": 0, "records_total": len(left),
                                                        "record_ids_sha256": record_ids_sha256(left)})
    with open_as(home, "alice") as v, pytest.raises(IntegrityError, match=f"^job {run} has 2 records, not the 3 "):
        v.reopen_job(run)


def test_a_killed_job_resumed_and_finished_reads_back(killed) -> None:
    """The legitimate path: a resume of the killed job (no reopen of its row), a third batch, a finish."""
    home, run = killed
    with open_as(home, "alice") as v:
        v.reopen_job(run)
        v.add_records(run, [{"text": "batch three", "label": "cardiology"}], unit=3)
        v.add_records(run, [], unit=4)  # a batch whose records were all dropped still counts
        v.finish_job(run, "succeeded", {"units": 4})
        assert len(v.list_records(run)) == 4 and v.get_job(run)["units_done"] == 4
    assert verify_as_auditor(home).ok


# -- false refusals: legitimate paths

def test_a_deleted_task_row_does_not_refuse_the_next_task(vault) -> None:
    """A task row deleted by raw SQL left its task.add entry: the next task must get a new id, not share that entry."""
    home, _, _ = vault
    with open_as(home, "alice") as v:
        gone = v.add_task("probe-a", SPEC_TEXT)
    raw_sql(home, "root", "DELETE FROM tasks WHERE id = ?", [gone])
    with open_as(home, "alice") as v:
        new = v.add_task("probe-b", SPEC_TEXT + "# another\n")
        assert new != gone and v.get_task(new)["name"] == "probe-b"


def test_a_job_resumed_after_a_kill_and_filtered_twice_reads_back(vault) -> None:
    """kill -9 (row still 'running', a resume entry without a reopen), a finish, a label filter, a reopen of the
    cancelled job, a second finish and a second filter: every reader accepts the job at each step."""
    home, job_id, _ = vault
    with open_as(home, "alice") as v:
        job = v.get_job(job_id)
        run = v.create_job(job["task_id"], "zerogen", job["config"])
        v.add_records(run, [{"text": "before the kill", "label": "cardiology"}], unit=1)
    with open_as(home, "alice") as v:  # a new process resumes the interrupted job as generation.resume_job does
        assert v.get_job(run)["status"] == "running"
        v.reopen_job(run)
        first = v.add_records(run, [{"text": "after the kill", "label": "cardiology"}], unit=2)
        v.finish_job(run, "cancelled", {"units": 2})
        v.apply_label_filter(run, "cleanlab", {first[0]: "off-label"})
        assert v.get_job(run)["summary"]["label_filter"]["removed"] == 1
        v.reopen_job(run)
        assert v.get_job(run)["summary"]["label_filter"]["name"] == "cleanlab" and v.list_jobs()
        v.add_records(run, [{"text": "after the reopen", "label": "cardiology"}], unit=3)
        v.finish_job(run, "succeeded", {"units": 3})
        v.apply_label_filter(run, "cleanlab", {})
        v.apply_label_filter(run, "judge", {first[0]: "off-label"})
        assert v.get_job(run)["summary"]["label_filter"]["name"] == "judge"
        assert len(v.list_records(run)) == 3
    assert verify_as_auditor(home).ok


def test_a_job_with_no_records_and_a_nan_in_its_configuration_reads_back(vault) -> None:
    home, job_id, _ = vault
    with open_as(home, "alice") as v:
        job = v.create_job(v.get_job(job_id)["task_id"], "zerogen", {"score_floor": float("nan")})
        v.finish_job(job, "succeeded", {})
        assert v.list_records(job) == [] and v.get_job(job)["status"] == "succeeded"


def test_database_key_rotation_keeps_jobs_tasks_and_records_readable(vault) -> None:
    home, job_id, cancelled = vault
    with open_as(home, "root") as v:
        v.rotate_key()
    with open_as(home, "alice") as v:
        assert v.get_task(v.get_job(job_id)["task_id"]) and v.list_records(job_id) and v.list_records(cancelled)
        v.reopen_job(cancelled)
        v.finish_job(cancelled, "succeeded", {})
    assert verify_as_auditor(home).ok


# -- what the auditor's `audit verify` reports

def test_audit_verify_reports_an_insiders_own_signed_entry_and_an_edited_job_row(vault) -> None:
    """A forged entry and the row it was meant to explain both verify as a log (each is signed by its writer): the
    auditor's verification names the job row the log does not explain, and the entry no role of its signer could
    write."""
    home, _, cancelled = vault
    forge(home, "root", "job.finish", {"job_id": cancelled}, last_finish(home, cancelled) | {"status": "succeeded"})
    result = verify_as_auditor(home)
    assert not result.ok and "is signed by root, whose role may not write it" in result.problem
    raw_sql(home, "root", "UPDATE jobs SET status = 'succeeded' WHERE id = ?", [cancelled])
    result = verify_as_auditor(home)
    assert not result.ok and result.problem.startswith(f"job {cancelled} has a status that differs")
    assert "1 more problem(s)" in result.problem


@pytest.mark.parametrize("column", ["name", "created_by"])
def test_a_task_renamed_or_reattributed_by_sql_is_refused(vault, column: str) -> None:
    """The spec text is intact, but its row names another task (which ``find_task`` would then return) or author."""
    home, job_id, _ = vault
    with open_as(home, "alice") as v:
        task_id = v.get_job(job_id)["task_id"]
    raw_sql(home, "root", f"UPDATE tasks SET {column} = 'bob' WHERE id = ?", [task_id])
    with open_as(home, "alice") as v, pytest.raises(IntegrityError, match=f"^task {task_id}'s spec is not the one"):
        v.get_task(task_id)


# -- batch entries attacked: a job killed before its first batch, a job from before the batch entries, an author's
#    malformed batch entries (``joblog.read``, ``rowseal.mismatch``)

@contextmanager
def old_code(v: Vault) -> Iterator[Vault]:
    """``v`` writing the entries the app wrote before batch entries: no job.batch, a job.start without its batch count
    (what an older vault holds of a job started, and perhaps killed, before the upgrade)."""
    real = v.audit

    def audit(action: str, object_ids: Any = None, params: Any = None) -> int:
        if action == "job.batch":
            return 0
        if action == "job.start":
            params = {k: params[k] for k in ("method", "config")}
        return real(action, object_ids, params)

    v.audit = audit  # type: ignore[method-assign]
    try:
        yield v
    finally:
        del v.audit


@pytest.fixture
def started(vault) -> tuple[Path, int]:
    """A job killed before its first batch committed: its row 'running' with no batch done, its job.start alone."""
    home, job_id, _ = vault
    with open_as(home, "alice") as v:
        run = v.create_job(v.get_job(job_id)["task_id"], "zerogen", v.get_job(job_id)["config"])
    return home, run


def one_line_refusal(act: Callable[[], Any]) -> str:
    """The IntegrityError ``act`` raises: one line (exit 3), never a traceback of another kind."""
    with pytest.raises(IntegrityError) as e:
        act()
    assert e.value.exit_code == 3 and "\n" not in str(e.value)
    return str(e.value)


def test_batches_done_raised_before_the_first_batch_are_refused(started) -> None:
    """Before its first batch entry a job had no count to hold ``units_done`` to: raised by raw SQL, a resume skipped
    the batches below it and finished without them, and the skipped batch numbers were then taken as the first entry.
    The job.start entry now holds the count at 0 until a batch entry moves it."""
    home, run = started
    raw_sql(home, "root", "UPDATE jobs SET units_done = 2 WHERE id = ?", [run])
    match = f"^job {run} has a units_done that differs from its audit entries"
    with open_as(home, "alice") as v:
        for act in (lambda: v.get_job(run), lambda: v.list_jobs(), lambda: v.reopen_job(run),
                    lambda: v.add_records(run, [{"text": "batch three", "label": "cardiology"}], unit=3)):
            with pytest.raises(IntegrityError, match=match):
                act()
    result = verify_as_auditor(home)
    assert not result.ok and f"job {run} has a units_done that differs" in result.problem


def test_a_job_killed_before_its_first_batch_and_after_an_empty_one_resumes(started) -> None:
    """The legitimate path: resumed with no batch in the vault, an empty first batch (the gate dropped every record),
    killed again, resumed, a second batch and a finish: every step reads back and the log verifies."""
    home, run = started
    with open_as(home, "alice") as v:
        v.reopen_job(run)
        assert v.list_records(run) == [] and v.get_job(run)["units_done"] == 0
        v.add_records(run, [], unit=1)
    with open_as(home, "alice") as v:
        v.reopen_job(run)
        assert v.list_records(run) == [] and v.get_job(run)["units_done"] == 1
        v.add_records(run, [{"text": "batch two", "label": "cardiology"}], unit=2)
        v.finish_job(run, "succeeded", {"units": 2})
        assert [r["text"] for r in v.list_records(run)] == ["batch two"] and v.get_job(run)["units_done"] == 2
    assert verify_as_auditor(home).ok


def test_a_job_from_before_the_batch_entries_resumes_after_the_upgrade(vault) -> None:
    """A job started and killed after two batches by the older app (no batch entries, a job.start without a count):
    the upgraded app reads it, resumes it from batch 3 and finishes it. Its count before the upgrade has nothing to
    hold it to, so it is not checked; its first batch entry then holds it."""
    home, job_id, _ = vault
    with open_as(home, "alice") as v, old_code(v):
        run = v.create_job(v.get_job(job_id)["task_id"], "zerogen", v.get_job(job_id)["config"])
        v.add_records(run, [{"text": "old batch one", "label": "cardiology"}], unit=1)
        v.add_records(run, [{"text": "old batch two", "label": "cardiology"}], unit=2)
    with open_as(home, "alice") as v:
        assert v.get_job(run)["units_done"] == 2 and len(v.list_records(run)) == 2
        v.reopen_job(run)
        v.add_records(run, [{"text": "batch three", "label": "cardiology"}], unit=3)
    raw_sql(home, "root", "UPDATE jobs SET units_done = 1 WHERE id = ?", [run])  # held from its first batch entry
    with open_as(home, "alice") as v:
        one_line_refusal(lambda: v.get_job(run))
    raw_sql(home, "root", "UPDATE jobs SET units_done = 3 WHERE id = ?", [run])
    with open_as(home, "alice") as v:
        v.reopen_job(run)
        v.finish_job(run, "succeeded", {"units": 3})
        assert len(v.list_records(run)) == 3 and v.get_job(run)["units_done"] == 3
    assert verify_as_auditor(home).ok


def test_an_older_jobs_batches_done_below_zero_are_refused(vault) -> None:
    """A job from before the batch entries has no count to hold ``units_done`` to, but a count below 0 is none: a
    resume would make every batch again and fail on the first one with a traceback."""
    home, job_id, _ = vault
    with open_as(home, "alice") as v, old_code(v):
        run = v.create_job(v.get_job(job_id)["task_id"], "zerogen", v.get_job(job_id)["config"])
        v.add_records(run, [{"text": "old batch one", "label": "cardiology"}], unit=1)
    raw_sql(home, "root", "UPDATE jobs SET units_done = -1 WHERE id = ?", [run])
    with open_as(home, "alice") as v:
        for act in (lambda: v.get_job(run), lambda: v.reopen_job(run)):
            assert one_line_refusal(act).startswith(f"job {run} has a units_done that differs")


def test_a_second_author_resumes_anothers_killed_job(killed) -> None:
    """Any author may resume any job (``resume_job`` asks for job.run only), so bob's batch entries on alice's job
    count: the legitimate path reads back, and the log verifies."""
    home, run = killed
    with open_as(home, "bob") as v:
        v.reopen_job(run)
        v.add_records(run, [{"text": "batch three, by bob", "label": "cardiology"}], unit=3)
        v.finish_job(run, "succeeded", {"units": 3})
    with open_as(home, "alice") as v:
        assert len(v.list_records(run)) == 4 and v.get_job(run)["units_done"] == 3
    assert verify_as_auditor(home).ok


@pytest.mark.parametrize("unit", ["3", True, 0, -1, 3.0, 10**30])
def test_an_authors_batch_entry_with_no_batch_number_does_not_cover_a_deleted_row(killed, unit: Any) -> None:
    """A row deleted, then a batch entry of bob's (an author: it may count) with the digest of the rows left and a
    unit that is not the next batch number (a string, a bool, 0 or less, a float, one far ahead): it explains
    nothing, and the job stays held to its batch 2."""
    home, run = killed
    raw_sql(home, "root", "DELETE FROM records WHERE id = (SELECT min(id) FROM records WHERE job_id = ?)", [run])
    left = [r[0] for r in raw_sql(home, "root", "SELECT id FROM records WHERE job_id = ?", [run])]
    forge(home, "bob", "job.batch", {"job_id": run}, {"unit": unit, "records": 0, "records_total": len(left),
                                                      "record_ids_sha256": record_ids_sha256(left)})
    with open_as(home, "alice") as v:
        assert one_line_refusal(lambda: v.list_records(run)).startswith(f"job {run} has 2 records, not the 3 ")
        assert one_line_refusal(lambda: v.reopen_job(run)).startswith(f"job {run} has 2 records, not the 3 ")


@pytest.mark.parametrize("params", [
    {"record_ids_sha256": "\u00e9t\u00e9", "records_total": "3\nsecond line"},  # compare_digest raised TypeError
    {"record_ids_sha256": 123, "records_total": [3]},
    {"records_total": {"n": 3}},  # no digest at all
], ids=["non-ascii", "not-a-string", "missing"])
def test_an_authors_malformed_batch_entry_is_refused_in_one_line(killed, params: dict[str, Any]) -> None:
    """A batch entry of bob's for the next batch whose digest is not a digest: every reader, the resume and
    `audit verify` answer with one line (the digest holds no set of rows, so the job's rows do not match it), never a
    traceback, and never a line the entry wrote."""
    home, run = killed
    forge(home, "bob", "job.batch", {"job_id": run}, {"unit": 3, "records": 0, **params})
    raw_sql(home, "root", "UPDATE jobs SET units_done = 3 WHERE id = ?", [run])  # so the row matches the count
    match = f"^job {run} has 3 records, not the \\? its committed batches hold"
    assert_refused(home, run, None, match=match, export_too=False)
    with open_as(home, "alice") as v:
        assert one_line_refusal(lambda: v.reopen_job(run)).startswith(f"job {run} has 3 records, not the ? ")
    result = verify_as_auditor(home)
    assert not result.ok and result.problem.startswith(f"job {run} has 3 records, not the ? ")
    assert "\n" not in result.problem


def test_entries_naming_an_infinite_id_explain_nothing(killed) -> None:
    """An author's job.batch and a reviewer's record.review whose id is Infinity (JSON that Python reads as a float):
    int() raised OverflowError in every reader; the entries are malformed, so they explain and decide nothing."""
    home, run = killed
    forge(home, "bob", "job.batch", {"job_id": float("inf")}, {"unit": 3, "records": 0})
    forge(home, "rita", "record.review", {"record_id": float("inf"), "job_id": run}, {"decision": "accepted"},
          role="reviewer")
    with open_as(home, "alice") as v:
        assert len(v.list_records(run)) == 3 and v.get_job(run)["units_done"] == 2
        v.reopen_job(run)



@pytest.mark.parametrize("action,ids", [("job.start", {"job_id": 10**30, "task_id": 1}),
                                        ("job.start", {"job_id": 2**63 - 1, "task_id": 1}),
                                        ("task.add", {"task_id": 10**30})])
def test_an_entry_naming_an_id_past_bigint_does_not_stop_new_jobs_and_tasks(vault, action: str, ids: dict) -> None:
    """New ids go past every id the log names (a deleted row's id is never reused): an author's own signed entry
    naming an id no row can hold must not make every later job or task fail to insert."""
    home, job_id, _ = vault
    forge(home, "alice", action, ids, {"method": "zerogen", "config": {}, "name": "x", "sha256": "0" * 64})
    with open_as(home, "alice") as v:
        new_task = v.add_task("probe-after-forgery", SPEC_TEXT)
        new_job = v.create_job(v.get_job(job_id)["task_id"], "zerogen", {})
        assert new_task < 2**62 and new_job < 2**62
        v.finish_job(new_job, "succeeded", {})
        assert v.get_job(new_job)["status"] == "succeeded" and v.get_task(new_task)["name"] == "probe-after-forgery"
