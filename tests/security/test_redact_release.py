"""A release waives the block, never the redaction (issue 14, part 3), from the attacker's side.

The record: a generated note quarantined for a medical record number that also holds an invented patient name (which
the default policy redacts). The gate stores both findings with it, the review list shows both, a reviewer releases
it, and every export of it (each format, the encrypted bundle, a lax export policy) holds neither the name nor the
number: every exported file's bytes are scanned, and the decoded texts too (parquet compresses). Damaged stored
findings refuse the export; an older vault without the findings column gets it on open."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.key_helpers import reseal_records
from tests.export.export_helpers import CLEAN, FAST_KDF, PW, make_job, open_as
from tests.export.test_export import all_bytes, approved, exported_texts, session

from appliance.cli import main as cli_main
from appliance.errors import UserError
from appliance.export import formats
from appliance.generate import GeneratedRecord
from appliance.guard.gate import Gate, seed_redactor
from appliance.guard.policy import load_policy
from appliance.service import export, review
from appliance.service.generation import stored_row
from appliance.vault import keys

NOTE = "Patient Marisol Quintero, MRN 48213907, presented with two days of productive cough and low-grade fever."
SECRETS = ("Marisol", "Quintero", "48213907")
# An export policy that neither blocks nor redacts anything: the generation gate's stored findings still apply.
LAX_POLICY = """[policy]
name = "lax"
[pii]
block = []
redact = []
[export]
requires_approval = false
"""


@pytest.fixture(autouse=True)
def fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys, "default_kdf_params", lambda: FAST_KDF)


@pytest.fixture(scope="module")
def gate() -> Gate:
    return Gate(load_policy("default"))  # the spaCy model loads once for the module


def gated_job(home: Path, gate: Gate) -> tuple[int, int]:
    """A finished job stored exactly as generation stores it (``stored_row`` of each gate verdict): clean notes and the
    quarantined note with a name and a record number. Returns (job id, the note's record id)."""
    first = make_job(home)  # users, task, seed set and a job config under the default policy
    texts = [t for t, _ in CLEAN] + [NOTE]
    verdicts = gate.check(texts)
    assert verdicts[-1].status == "quarantined"
    with open_as(home, "alice") as v:
        old = v.get_job(first)
        job_id = v.create_job(old["task_id"], "zerogen", old["config"])
        rows = [stored_row(GeneratedRecord(t, CLEAN[0][1]), verdict) for t, verdict in zip(texts, verdicts)]
        ids = v.add_records(job_id, rows, unit=1)
        v.finish_job(job_id, "succeeded", {"gate": gate.summary()})
    return job_id, ids[-1]


def release(home: Path, record_id: int) -> None:
    with session(home, "rita") as s:
        assert review.decide(s, record_id, True, "the record number is invented; fine to use") == "accepted"


def assert_no_secret(out: Path, texts: list[str]) -> None:
    blob = all_bytes(out)
    for secret in SECRETS:
        assert secret.encode() not in blob, f"{secret} in the export's bytes"
        assert not any(secret in t for t in texts), f"{secret} in an exported text"


def test_gate_stores_every_finding_without_the_matched_text(home_and_job) -> None:
    home, job_id, record_id = home_and_job
    with open_as(home, "rita") as v:
        (rec,) = [r for r in v.list_records(job_id) if r["id"] == record_id]
    assert rec["status"] == "quarantined" and rec["text"] == NOTE  # the decision and the stored text are unchanged
    assert [x["code"] for x in rec["reasons"]] == ["PII_MEDICAL_RECORD_NUMBER"]  # the one blocking reason
    by_entity = {f["entity"]: f for f in rec["findings"]}
    assert set(by_entity) == {"PERSON", "MEDICAL_RECORD_NUMBER"}
    assert by_entity["PERSON"]["action"] == "redact" and by_entity["MEDICAL_RECORD_NUMBER"]["action"] == "block"
    assert NOTE[by_entity["PERSON"]["start"]:by_entity["PERSON"]["end"]] == "Marisol Quintero"
    flat = json.dumps(rec["findings"]) + json.dumps(rec["reasons"])
    assert not any(s in flat for s in SECRETS)  # offsets and scores, never the matched characters


def test_review_list_shows_both_findings_with_their_spans(home_and_job, tmp_path: Path, capsys, monkeypatch) -> None:  # noqa: ANN001
    home, job_id, record_id = home_and_job
    monkeypatch.setenv("COLUMNS", "400")  # one table row per record, cells unwrapped
    pw = tmp_path / "rita.pw"
    pw.write_text(PW["rita"] + "\n")
    base = ["review", "list", str(job_id), "--home", str(home), "--user", "rita", "--passphrase-file", str(pw)]
    capsys.readouterr()
    assert cli_main([*base, "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["id"] == record_id
    assert {f["entity"] for f in listed["findings"]} == {"PERSON", "MEDICAL_RECORD_NUMBER"}
    assert cli_main(base) == 0
    table = capsys.readouterr().out
    assert "PII_MEDICAL_RECORD_NUMBER[30:38]" in table  # the blocking reason
    assert "PERSON[8:24] 0.87 redact" in table and "MEDICAL_RECORD_NUMBER[30:38] 0.85 block" in table  # every finding
    with session(home, "rita") as s:
        (rec,) = review.quarantined(s, job_id)
    assert "PERSON[8:24] 0.87 redact" in rec["finding_text"] and "MEDICAL_RECORD_NUMBER[30:38]" in rec["finding_text"]
    spans = review.spans(rec)
    assert [(s.start, s.end, s.blocking) for s in spans] == [(8, 24, False), (30, 38, True)]
    styled = {(sp.start, sp.end): str(sp.style) for sp in review.highlighted(rec).spans}
    assert styled == {(8, 24): review.REDACTED_STYLE, (30, 38): review.BLOCKING_STYLE}


@pytest.mark.parametrize("fmt", formats.FORMATS)
def test_released_record_is_exported_without_the_name_or_the_number(home_and_job, tmp_path: Path, fmt: str) -> None:
    home, job_id, record_id = home_and_job
    release(home, record_id)
    export_id = approved(home, job_id)
    out = tmp_path / f"out-{fmt}"
    with session(home, "alice") as s:
        r = export.write_export(s, export_id, fmt, out)
    texts = exported_texts(out, fmt)
    assert r.records == len(CLEAN) + 1 and len(texts) == r.records  # the released note is exported...
    assert any("<PERSON>" in t and "<MEDICAL_RECORD_NUMBER>" in t for t in texts)  # ...redacted
    assert_no_secret(out, texts)
    m = json.loads((out / "manifest.json").read_text())
    assert m["gate"]["export"]["released_by_review"] == 1 and m["gate"]["export"]["released_redacted"] == 1
    card = (out / m["data_card"]).read_text()
    assert "a release waives a block, never the redaction" in card and "1 of the 1 released records were redacted" in card
    assert export.verify(out).files_checked == len(m["files"])


def test_encrypted_bundle_holds_neither_the_name_nor_the_number(home_and_job, tmp_path: Path) -> None:
    home, job_id, record_id = home_and_job
    release(home, record_id)
    export_id = approved(home, job_id)
    out = tmp_path / "enc"
    with session(home, "alice") as s:
        export.write_export(s, export_id, "jsonl", out, bundle_passphrase="transfer-secret-1")
    plain = tmp_path / "plain"
    export.verify(out, passphrase="transfer-secret-1", decrypt_to=plain)
    assert_no_secret(plain, exported_texts(plain, "jsonl"))


def test_a_lax_export_policy_does_not_undo_the_generation_redaction(home_and_job, tmp_path: Path) -> None:
    """An author exports the released record under a policy that looks for nothing: the findings the generation gate
    stored with the record are still cut out."""
    home, job_id, record_id = home_and_job
    release(home, record_id)
    lax = tmp_path / "lax.toml"
    lax.write_text(LAX_POLICY)
    export_id = approved(home, job_id, str(lax))
    out = tmp_path / "lax-out"
    with session(home, "alice") as s:
        export.write_export(s, export_id, "csv", out)
    assert_no_secret(out, exported_texts(out, "csv"))


def test_seed_redactor_replaces_every_entity_the_policy_knows(gate: Gate) -> None:
    """The same redaction feeds seed records into prompts when a policy forbids raw seeds there."""
    out = seed_redactor(gate.policy, gate.scanner)(NOTE)
    assert "<PERSON>" in out and "<MEDICAL_RECORD_NUMBER>" in out and not any(s in out for s in SECRETS)


@pytest.mark.parametrize("damage", [
    [{"entity": "PERSON", "start": 8, "end": 9999, "score": 0.9, "action": "redact"}],  # past the end of the text
    [{"entity": "PERSON", "start": -4, "end": 3, "score": 0.9, "action": "redact"}],
    [{"entity": "Marisol Quintero", "start": 8, "end": 24, "score": 0.9, "action": "redact"}],  # not an entity type
    [{"entity": ["PERSON"], "start": 8, "end": 24, "score": 0.9}],
    ["PERSON"],
    {"entity": "PERSON"},
])
def test_damaged_stored_findings_refuse_the_export(home_and_job, tmp_path: Path, damage) -> None:  # noqa: ANN001
    home, job_id, record_id = home_and_job
    release(home, record_id)
    export_id = approved(home, job_id)
    with open_as(home, "alice") as v:  # raw SQL: the only way to cause it
        v._con.execute("UPDATE records SET findings = ? WHERE id = ?", [json.dumps(damage), record_id])
        reseal_records(v, [record_id])  # sealed again (alice holds the records key): the findings check must refuse
    out = tmp_path / "out"
    with session(home, "alice") as s, pytest.raises(UserError, match=f"record {record_id}: its stored PII findings are damaged"):
        export.write_export(s, export_id, "jsonl", out)
    assert not out.exists() and not any(p.name.startswith(".") for p in tmp_path.iterdir())  # nothing half-written


def test_an_older_vault_gets_the_findings_column_on_open(tmp_path: Path) -> None:
    home = tmp_path / "home"
    job_id = make_job(home)
    with open_as(home, "alice") as v:  # a vault from before the column: drop it
        v._con.execute("ALTER TABLE records DROP COLUMN findings")
    with open_as(home, "alice") as v:
        assert all(r["findings"] == [] for r in v.list_records(job_id))
        nullable = v._con.execute("SELECT is_nullable FROM information_schema.columns WHERE table_catalog = "
                                  "current_database() AND table_name = 'records' AND column_name = 'findings'").fetchone()
        assert nullable == ("NO",)


@pytest.fixture
def home_and_job(tmp_path: Path, gate: Gate) -> tuple[Path, int, int]:
    home = tmp_path / "home"
    return (home, *gated_job(home, gate))
