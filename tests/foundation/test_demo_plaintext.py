"""The main job leaves no plaintext on disk: seed canaries and every generated record's text are searched for in
every byte of every file under the home directory and the temp directory after import → demo → generate."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import PASSPHRASE, TASKS

pytestmark = pytest.mark.model


def _run(args: list[str], home: Path, tmp: Path, pw: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "APPLIANCE_HOME": str(home), "TMPDIR": str(tmp)}
    return subprocess.run([sys.executable, "-m", "appliance", *args, "--passphrase-file", str(pw)],
                          capture_output=True, text=True, env=env, timeout=600)


def test_no_plaintext_of_seeds_or_generated_records_on_disk(tmp_path: Path, passphrase_file: Path) -> None:
    home, tmp, inbox = tmp_path / "home", tmp_path / "tmp", tmp_path / "inbox"
    tmp.mkdir()
    inbox.mkdir()
    canary = f"CANARY-{uuid.uuid4().hex}"
    seeds = inbox / "seeds.jsonl"
    seeds.write_text(
        "".join(f'{{"text": "Patient {canary} {i} reports chest pain on exertion.", "label": "cardiovascular_pulmonary"}}\n'
                for i in range(5)),
        encoding="utf-8",
    )
    r = _run(["demo", "--n", "8"], home, tmp, passphrase_file)
    assert r.returncode == 0, r.stderr
    r = _run(["import", str(seeds), "--task", str(TASKS / "medical_specialty.toml"), "--text-column", "text",
              "--label-column", "label", "--user", "demo"], home, tmp, passphrase_file)
    assert r.returncode == 0, r.stderr
    r = _run(["generate", "--task", str(TASKS / "math_subject.toml"), "--n", "6", "--user", "demo"], home, tmp, passphrase_file)
    assert r.returncode == 0, r.stderr

    from appliance.vault import Vault

    with Vault.open(home, "demo", PASSPHRASE) as v:
        texts = [rec["text"] for job in (1, 2) for rec in v.list_records(job)]
    assert len(texts) == 14
    needles = [canary.encode()] + [t.encode("utf-8")[:40] for t in texts if len(t) >= 24]
    assert len(needles) > 8
    hits = []
    for d in (home, tmp):
        for p in d.rglob("*"):
            if p.is_file():
                data = p.read_bytes()
                hits += [f"{p.name}: {n[:20]!r}" for n in needles if n in data]
    assert hits == []
