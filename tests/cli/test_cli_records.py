"""`appliance records JOB`: the records a job produced, as a table or JSON, for the roles that may read them."""

from __future__ import annotations

from appliance.errors import AccessDenied, BadInput
from appliance.vault.roles import refusal
from tests.cli.cli_helpers import JobCli, assert_one_line
from tests.export.export_helpers import CLEAN, QUARANTINED_MARK, RELEASED

# The exit code of the vault's role refusal: AccessDenied (4) once refusals are typed (errors.py's table).
REFUSED = refusal("x", "admin", "record.read").exit_code


def test_author_and_reviewer_list_every_record_as_json(job_cli: JobCli) -> None:
    for user in ("alice", "rita"):
        rows = job_cli.json(user, "records", str(job_cli.job))
        assert len(rows) == 8 and {r["status"] for r in rows} == {"accepted", "quarantined", "rejected"}
        assert {r["job_id"] for r in rows} == {job_cli.job}
        assert CLEAN[0][0] in [r["text"] for r in rows]
        assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)


def test_filters_status_label_and_limit(job_cli: JobCli) -> None:
    job = str(job_cli.job)
    quarantined = job_cli.json("alice", "records", job, "--status", "quarantined")
    assert [r["text"] for r in quarantined] == [QUARANTINED_MARK]
    accepted = job_cli.json("alice", "records", job, "--status", "accepted")
    assert RELEASED in [r["text"] for r in accepted] and len(accepted) == 6
    cardio = job_cli.json("rita", "records", job, "--label", "cardiology", "--status", "accepted")
    assert cardio and {r["label"] for r in cardio} == {"cardiology"}
    assert len(job_cli.json("alice", "records", job, "--limit", "2")) == 2


def test_table_on_standard_output(job_cli: JobCli) -> None:
    code, out, err = job_cli.run("alice", "records", str(job_cli.job), "--status", "quarantined")
    assert code == 0, err
    assert "QUARANTINEDMARKER" in out and "quarantined" in out and "1 records of job" in out


def test_global_options_before_the_command(job_cli: JobCli) -> None:
    """`appliance --home H --user U --passphrase-file F records JOB` is the same as with the options after it."""
    code, out, err = job_cli.run(None, *job_cli.auth("alice"), "records", str(job_cli.job), "--limit", "1")
    assert code == 0 and "1 records of job" in out, err


def test_admin_and_auditor_are_refused_in_one_line(job_cli: JobCli) -> None:
    for user, role in (("root", "admin"), ("audrey", "auditor")):
        code, out, err = job_cli.run(user, "records", str(job_cli.job))
        assert_one_line(code, err, REFUSED, f"permission denied: user {user} ({role}) may not read generated records")
        assert out == "" and "MARKER" not in err
    assert REFUSED in (AccessDenied.exit_code, BadInput.exit_code)


def test_bad_job_status_label_limit_are_one_line(job_cli: JobCli) -> None:
    code, _, err = job_cli.run("alice", "records", "999")
    assert_one_line(code, err, 2, "no job with id 999")
    code, _, err = job_cli.run("alice", "records", str(job_cli.job), "--status", "approved")
    assert_one_line(code, err, 2, "status must be one of accepted, quarantined, rejected")
    code, _, err = job_cli.run("alice", "records", str(job_cli.job), "--label", "astrology")
    assert_one_line(code, err, 2, "label 'astrology' is not a label of job")
    code, _, err = job_cli.run("alice", "records", str(job_cli.job), "--limit", "0")
    assert_one_line(code, err, 2, "limit must be at least 1")
    code, _, err = job_cli.run("alice", "records", "seven")
    assert_one_line(code, err, 2, "invalid int value (not shown)")
