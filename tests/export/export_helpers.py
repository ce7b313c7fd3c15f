"""A vault with a finished job whose records are inserted through the vault API (no model run): accepted records,
one the stricter HIPAA export policy blocks (a name), one that copies a seed, quarantined and rejected records with
marker texts that must never reach an export, and one record a reviewer released.

A module of its own (not conftest.py) so tests import it by a unique name: every test folder has a conftest, and
``from conftest import …`` picks whichever was imported first when folders are run together."""

from __future__ import annotations

from pathlib import Path

from tests.key_helpers import share_keys
from appliance.vault import Vault
from appliance.vault.keys import KdfParams

REPO = Path(__file__).resolve().parents[2]
FAST_KDF = KdfParams(memory_kib=1024, iterations=1, lanes=1)
PW = {"root": "root-passphrase-1", "alice": "alice-passphrase-1", "bob": "bob-passphrase-12", "rita": "rita-passphrase-1",
      "remy": "remy-passphrase-12"}
ROLES = {"alice": "author", "bob": "author", "rita": "reviewer", "remy": "reviewer"}

SEED = "The patient was admitted with crushing substernal chest pain radiating to the left arm and diaphoresis since morning."
CLEAN = [
    ("Echocardiogram showed a mildly reduced ejection fraction; start a beta blocker and recheck in six weeks.", "cardiology"),
    ("Persistent wheeze and nocturnal cough improved with an inhaled corticosteroid; spirometry is planned.", "pulmonology"),
    ("Knee pain after running, no effusion, full range of motion; physiotherapy was recommended.", "orthopedics"),
]
NAMED = ("Dr. Emily Carter reviewed the chest film and found no consolidation in either lung.", "pulmonology")
COPIED = ("History: " + SEED.split(" since")[0].lower() + " today.", "cardiology")
QUARANTINED_MARK = "QUARANTINEDMARKER call 555-867-5309 about the lab results"
REJECTED_MARK = "REJECTEDMARKER reach the family at jane.doe@example.com today"
RELEASED = "Follow-up visit next week to review the holter monitor results and adjust the dose."


def open_as(home: Path, user: str) -> Vault:
    return Vault.open(home, user, PW[user])


def make_job(home: Path, policy: str = "default") -> int:
    """Users, a task with a seed set, a finished job with records of every kind; returns the job id."""
    from appliance.engine.registry import Registry
    from appliance.guard.policy import load_policy

    with Vault.create(home, "root", PW["root"], kdf_params=FAST_KDF) as v:
        for name, role in ROLES.items():
            v.add_user(name, role, PW[name])
    share_keys(home, "alice", PW["alice"], [n for n in ROLES if n != "alice"])
    entry = Registry(home).get(None)
    spec = (REPO / "tasks" / "medical_specialty.toml").read_text()
    pol = load_policy(policy)
    with open_as(home, "alice") as v:
        task_id = v.add_task("medical_specialty", spec)
        v.import_seeds("med-seeds", [(SEED, "cardiology")], task_id=task_id, task_name="medical_specialty")
        config = {
            "request": {"n": 8, "seed": 0, "method_options": {}, "policy": policy},
            "model": entry.name,
            "model_sha256": entry.sha256,
            "model_license": entry.license,
            "temperature": 0.7, "top_p": 0.9,
            "policy": pol.describe(),
        }
        job_id = v.create_job(task_id, "zerogen", config)
        rows = [{"text": t, "label": lab} for t, lab in CLEAN + [NAMED, COPIED]]
        rows += [
            {"text": QUARANTINED_MARK, "label": "cardiology", "status": "quarantined", "reasons": [{"code": "PII_PHONE_NUMBER"}]},
            {"text": REJECTED_MARK, "label": "cardiology", "status": "quarantined", "reasons": [{"code": "PII_EMAIL_ADDRESS"}]},
            {"text": RELEASED, "label": "cardiology", "status": "quarantined", "reasons": [{"code": "NEAR_DUPLICATE"}]},
        ]
        v.add_records(job_id, rows, unit=1)
        v.finish_job(job_id, "succeeded", {"gate": {"policy": pol.name, "checked": 8, "quarantined": 3,
                                                     "reasons": {"PII_PHONE_NUMBER": 1, "PII_EMAIL_ADDRESS": 1, "NEAR_DUPLICATE": 1}}})
    with open_as(home, "rita") as v:
        ids = {r["text"]: r["id"] for r in v.list_records(job_id, status="quarantined")}
        v.review_record(ids[RELEASED], True, "a generic follow-up sentence, not a copy")
        v.review_record(ids[REJECTED_MARK], False, "contains an e-mail address")
    return job_id
