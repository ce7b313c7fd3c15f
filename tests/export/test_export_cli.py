"""The export commands as a user runs them, on records a real (tiny) generation job made: refused until a different
reviewer approves, written, verified; tampering (exit 3) and a wrong bundle passphrase (exit 4) are one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PASSPHRASE = "correct horse battery staple"


def run(*args: str, home: Path, pw: Path | None = None, user: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "APPLIANCE_HOME": str(home), "APPLIANCE_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    extra = (["--passphrase-file", str(pw)] if pw else []) + (["--user", user] if user else [])
    return subprocess.run([sys.executable, "-m", "appliance", *args, *extra], capture_output=True, text=True, env=env, timeout=600)


def one_line_error(r: subprocess.CompletedProcess, needle: str, code: int = 2) -> None:
    """One line on stderr holding ``needle``, and the exit code of the error's kind (appliance.errors)."""
    assert r.returncode == code, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], r.stderr


@pytest.mark.model
def test_generate_request_approve_write_verify(tmp_path: Path) -> None:
    home, out = tmp_path / "home", tmp_path / "out"
    pw = tmp_path / "pw.txt"
    pw.write_text(PASSPHRASE + "\n")
    r = run("demo", "--n", "4", home=home, pw=pw)
    assert r.returncode == 0, r.stderr
    from appliance.service.session import Session

    with Session.open(home, "admin", PASSPHRASE) as admin:
        admin.vault.add_user("rev", "reviewer", PASSPHRASE)
    r = run("user", "grant", "rev", home=home, pw=pw, user="demo")  # the author shares the records key
    assert r.returncode == 0 and "granted to rev: records" in r.stdout, r.stderr

    one_line_error(run("export", "1", "--format", "jsonl", "--to", str(out), home=home, pw=pw, user="demo"),
                   "needs a reviewer's approval", code=4)
    r = run("export", "request", "1", home=home, pw=pw, user="demo")
    assert r.returncode == 0 and "export 1 requested" in r.stdout, r.stderr
    one_line_error(run("export", "approve", "1", "--reason", "mine", home=home, pw=pw, user="demo"), "permission denied",
                   code=4)
    one_line_error(run("export", "write", "1", "--format", "jsonl", "--to", str(out), home=home, pw=pw, user="demo"),
                   "awaiting a reviewer's approval", code=4)
    r = run("export", "approve", "1", "--reason", "checked the sample", home=home, pw=pw, user="rev")
    assert r.returncode == 0 and "approved" in r.stdout, r.stderr
    r = run("export", "list", home=home, pw=pw, user="rev")
    assert r.returncode == 0 and "approved" in r.stdout and "rev" in r.stdout
    r = run("export", "1", "--format", "jsonl", "--to", str(out), home=home, pw=pw, user="demo")
    assert r.returncode == 0 and "wrote" in r.stdout, r.stderr
    m = json.loads((out / "manifest.json").read_text())
    with Session.open(home, "demo", PASSPHRASE) as s:
        accepted = {x["id"] for x in s.vault.list_records(1, status="accepted")}
        quarantined = [x["text"] for x in s.vault.list_records(1, status="quarantined")]
    rows = [json.loads(ln) for ln in (out / "data.jsonl").read_text().splitlines()]
    assert {x["record_id"] for x in rows} <= accepted and len(rows) == m["records"]["exported"]
    assert all(t not in (out / "data.jsonl").read_text() for t in quarantined)
    assert m["model"]["name"] == "smollm2-135m-instruct" and m["approval"]["approved_by"] == "rev"
    assert m["gate"]["generation"]["checked"] == 4
    r = run("verify-export", str(out), home=home)
    assert r.returncode == 0 and "this installation" in r.stdout, r.stderr

    (out / "DATA_CARD.md").write_text((out / "DATA_CARD.md").read_text() + "\nApproved by everyone.\n")
    one_line_error(run("verify-export", str(out), home=home), "DATA_CARD.md was altered", code=3)

    enc = tmp_path / "enc"
    bpw, wrong = tmp_path / "bundle.pw", tmp_path / "wrong.pw"
    bpw.write_text("bundle-passphrase-1\n")
    wrong.write_text("bundle-passphrase-2\n")
    r = run("export", "write", "1", "--format", "parquet", "--to", str(enc), "--encrypt", "--bundle-passphrase-file", str(bpw),
            home=home, pw=pw, user="demo")
    assert r.returncode == 0 and "encrypted" in r.stdout, r.stderr
    one_line_error(run("verify-export", str(enc), "--bundle-passphrase-file", str(wrong), home=home), "wrong passphrase", code=4)
    r = run("verify-export", str(enc), "--bundle-passphrase-file", str(bpw), "--decrypt-to", str(tmp_path / "plain"), home=home)
    assert r.returncode == 0 and (tmp_path / "plain" / "data.parquet").is_file(), r.stderr

    with Session.open(home, "rev", PASSPHRASE) as s:
        actions = [e["action"] for e in s.vault.audit_entries() if e["action"].startswith("export.")]
        assert s.vault.verify_audit().ok
    assert actions.count("export.write") == 2 and "export.request" in actions and "export.approve" in actions
    assert actions.count("export.refused") == 2
