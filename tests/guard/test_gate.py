"""The gate against a real vault: seeds and canaries of the task, reason codes without seed text, counts per reason,
reviewer release with a justification through the CLI, canary planting through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.guard.canaries import CANARY_SOURCE
from appliance.guard.gate import Gate
from appliance.guard.policy import load_policy
from appliance.service.seeds import task_seeds
from appliance.vault import Vault, keys
from appliance.vault.keys import KdfParams

PW = {"admin": "admin-passphrase-1", "ann": "author-passphrase-1", "rev": "review-passphrase-1"}
SEEDS = [
    "Right knee pain after a twisting injury playing soccer yesterday; heard a pop, swelled within hours.",
    "Throbbing unilateral headache with nausea and photophobia, lasting most of a day, roughly three per month.",
]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(keys, "default_kdf_params", lambda: KdfParams(memory_kib=1024, iterations=1, lanes=1))
    h = tmp_path / "home"
    with Vault.create(h, "admin", PW["admin"]) as v:
        v.add_user("ann", "author", PW["ann"])
        v.add_user("rev", "reviewer", PW["rev"])
    with Vault.open(h, "ann", PW["ann"]) as v:
        v.grant("rev")
        task_id = v.add_task("medical_specialty", "[task]\nname='medical_specialty'\n")
        v.import_seeds("clinic", [(t, "x") for t in SEEDS], task_id=task_id, task_name="medical_specialty")
        v.import_seeds("other", [("Unrelated seed of another task about a long walk in the park today.", None)], task_name="other")
    return h


def cli(home: Path, user: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "APPLIANCE_HOME": str(home), "APPLIANCE_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "appliance", *args, "--user", user], input=PW[user] + "\n",
                          capture_output=True, text=True, env=env, timeout=120)


def test_gate_quarantines_with_reasons_and_counts(home: Path, scanner) -> None:
    r = cli(home, "ann", "canary", "plant", "--seed-set", "clinic", "--n", "2")
    assert r.returncode == 0 and "planted 2 canaries" in r.stdout, r.stderr
    with Vault.open(home, "ann", PW["ann"]) as v:
        canary_set = next(s for s in v.list_seed_sets() if s["source_name"] == CANARY_SOURCE)
        canary_rows = v.list_seeds(canary_set["id"])
        secret = canary_rows[0]["text"].split()[2]
        gate = Gate(load_policy("default"), *task_seeds(v, "medical_specialty"))
        gate.scanner = scanner  # the session's model, already loaded
    assert len(gate.canaries) == 2 and len(gate.index) == 4  # 2 seeds + 2 canaries; the other task's seed is not ours
    texts = [
        f"Follow-up note mentions {secret.upper().replace('-', ' ')} in passing.",
        "Pt has right knee pain after a twisting injury playing soccer yesterday and limps.",
        "Throbbing unilateral headache with nausea and light sensitivity, lasting most of the day, roughly three per month.",
        "Patient John Carter, MRN 00482913, reports a dry cough for three days.",
        "Mild dry cough for three days without fever; supportive care advised.",
        "Unrelated seed of another task about a long walk in the park today.",
    ]
    v_ = gate.check(texts)
    codes = [[x["code"] for x in v.reasons] for v in v_]
    assert "CANARY_LEAK" in codes[0] and v_[0].reasons[0]["canary_id"] == canary_rows[0]["id"]
    mem = next(x for x in v_[1].reasons if x["code"] == "MEMORIZED_SPAN")
    assert mem["overlap_tokens"] == 10 and mem["seed_id"] and texts[1][mem["start"]:mem["end"]].startswith("right knee")
    assert "NEAR_DUPLICATE" in codes[2]
    assert "PII_MEDICAL_RECORD_NUMBER" in codes[3]  # the default policy redacts names and blocks record numbers
    assert [v.status for v in v_] == ["quarantined"] * 4 + ["accepted", "accepted"]
    flat = json.dumps([v.reasons for v in v_])
    assert "twisting" not in flat and "photophobia" not in flat and secret not in flat  # ids and offsets, never seed text
    s = gate.summary()
    assert s["quarantined"] == 4 and s["reasons"]["CANARY_LEAK"] == 1 and s["reasons"]["MEMORIZED_SPAN"] == 1
    assert s["policy"] == "default" and len(s["policy_sha256"]) == 64 and s["degraded"] is False

    # the records go to the vault as a job's quarantine; a reviewer lists them and releases one with a justification
    with Vault.open(home, "ann", PW["ann"]) as v:
        job = v.create_job(v.find_task("medical_specialty")["id"], "zerogen", {"policy": gate.policy.describe()})
        ids = v.add_records(job, [{"text": x.text, "status": x.status, "reasons": x.reasons} for x in v_])
        v.finish_job(job, "succeeded", {"gate": s})
    r = cli(home, "rev", "review", "list", str(job), "--json")
    assert r.returncode == 0, r.stderr
    listed = json.loads(r.stdout)
    assert [x["id"] for x in listed] == ids[:4] and listed[0]["reasons"][0]["code"] == "CANARY_LEAK"
    r = cli(home, "rev", "review", "release", str(ids[3]), "--note", "   ")
    assert r.returncode == 2 and "justification" in r.stderr
    r = cli(home, "rev", "review", "release", str(ids[3]), "--note", "names are fictional, checked with the author")
    assert r.returncode == 0 and "accepted" in r.stdout, r.stderr
    r = cli(home, "ann", "review", "release", str(ids[2]), "--note", "mine")
    assert r.returncode == 4 and "permission denied" in r.stderr
    with Vault.open(home, "rev", PW["rev"]) as v:
        rec = next(x for x in v.list_records(job) if x["id"] == ids[3])
        assert rec["status"] == "accepted" and rec["reviewed_by"] == "rev" and "fictional" in rec["review_note"]
        assert v.get_job(job)["summary"]["gate"]["reasons"] == s["reasons"]


def test_redacted_entities_are_replaced_in_accepted_records(scanner) -> None:
    gate = Gate(load_policy("default"), scanner=scanner)
    (v,) = gate.check(["Follow up in the clinic, zip code 02139, next Tuesday."])
    assert v.status == "accepted" and "<ZIP_CODE>" in v.text and "02139" not in v.text
    assert v.reasons[0]["code"] == "REDACTED_ZIP_CODE"


def test_canary_plant_refuses_unknown_seed_set(home: Path) -> None:
    r = cli(home, "ann", "canary", "plant", "--seed-set", "nope")
    assert r.returncode == 2 and "no seed set 'nope'" in r.stderr
