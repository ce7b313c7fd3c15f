"""Attacks on the label filters' effect in the vault: records a filter removes keep their row as 'filtered' with the
reason and never reach an export (not even when flipped back with raw SQL after the request); only authors may
change statuses, never of a quarantined or rejected record, never while the job runs; every change is audited; an
unknown filter name is one line and exit 2 before anything is asked or read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.key_helpers import share_keys
from tests.quality.filter_data import planted_set

from appliance.cli import main as cli_main
from appliance.errors import AccessDenied, BadInput, UserError
from appliance.service import export
from appliance.service import quality as quality_service
from appliance.service.session import Session
from appliance.vault import Vault
from appliance.vault.keys import KdfParams

REPO = Path(__file__).resolve().parents[2]
FAST_KDF = KdfParams(memory_kib=1024, iterations=1, lanes=1)
PW = {"root": "root-passphrase-1", "alice": "alice-passphrase-1", "rita": "rita-passphrase-1",
      "audrey": "audrey-passphrase-1"}
ROLES = {"alice": "author", "rita": "reviewer", "audrey": "auditor"}
QUARANTINED = "QUARANTINEDMARKER a lovely film, call 555-867-5309 for tickets"
REAL = [("a wonderful and gripping film", "positive"), ("a dull and tedious film", "negative"),
        ("charming and superb", "positive"), ("awful and lifeless", "negative")] * 3


def open_as(home: Path, user: str) -> Vault:
    return Vault.open(home, user, PW[user])


def make_job(home: Path, n: int = 200, finish: bool = True) -> tuple[int, list[str]]:
    """A finished sst2 job holding the planted set (its flipped records' texts returned) and one quarantined record."""
    from appliance.engine.registry import Registry
    from appliance.guard.policy import load_policy

    with Vault.create(home, "root", PW["root"], kdf_params=FAST_KDF) as v:
        for name, role in ROLES.items():
            v.add_user(name, role, PW[name])
    share_keys(home, "alice", PW["alice"], ["rita"])
    entry, pol = Registry(home).get(None), load_policy("default")
    texts, labels, flipped = planted_set(n)
    with open_as(home, "alice") as v:
        task_id = v.add_task("sst2_sentiment", (REPO / "tasks" / "sst2_sentiment.toml").read_text())
        job_id = v.create_job(task_id, "zerogen", {"model": entry.name, "model_sha256": entry.sha256,
                                                   "policy": pol.describe()})
        rows = [{"text": t, "label": lab} for t, lab in zip(texts, labels)]
        rows.append({"text": QUARANTINED, "label": "positive", "status": "quarantined",
                     "reasons": [{"code": "PII_PHONE_NUMBER"}]})
        v.add_records(job_id, rows, unit=1)
        if finish:
            v.finish_job(job_id, "succeeded", {"gate": {"policy": pol.name, "checked": n + 1, "quarantined": 1,
                                                         "reasons": {"PII_PHONE_NUMBER": 1}}})
    return job_id, [texts[i] for i in flipped]


def real_file(tmp_path: Path) -> Path:
    f = tmp_path / "real.csv"
    f.write_text("text,label\n" + "".join(f"{t},{lab}\n" for t, lab in REAL))
    return f


def evaluate(home: Path, job_id: int, real: Path, user: str = "alice", label_filter: str | None = "cleanlab") -> dict:
    with Session(open_as(home, user)) as s:
        return quality_service.evaluate_job(s, home, job_id, real, "text", "label", prompting=False,
                                            task_models=["tfidf_lr"], label_filter=label_filter, sizes=(1.0,))


def statuses(home: Path, job_id: int) -> dict[str, list[dict]]:
    with open_as(home, "alice") as v:
        recs = v.list_records(job_id)
    out: dict[str, list[dict]] = {}
    for r in recs:
        out.setdefault(r["status"], []).append(r)
    return out


@pytest.fixture()
def job(tmp_path: Path) -> tuple[Path, int, list[str]]:
    home = tmp_path / "home"
    job_id, flipped = make_job(home)
    return home, job_id, flipped


def test_removed_records_stay_in_the_vault_with_their_reason_and_are_not_exported(job, tmp_path: Path) -> None:
    home, job_id, flipped = job
    ev = evaluate(home, job_id, real_file(tmp_path))
    lf = ev["label_filter"]
    assert lf["name"] == "cleanlab" and lf["records"] == 200 and lf["removed"] == len(flipped)
    assert lf["rows"][0]["n_without"] == 200 and lf["rows"][0]["n_with"] == 200 - lf["removed"]
    by_status = statuses(home, job_id)
    filtered = by_status["filtered"]
    assert len(filtered) == lf["removed"] and len(by_status["accepted"]) == 200 - lf["removed"]
    assert {r["text"] for r in filtered} == set(flipped)  # the planted flips, kept, not deleted
    for r in filtered:
        (reason,) = r["reasons"]
        assert reason.startswith("label filter cleanlab: label issue (likely ")
    assert [r["text"] for r in by_status["quarantined"]] == [QUARANTINED]  # never touched
    with open_as(home, "alice") as v:
        job_row = v.get_job(job_id)
        assert job_row["summary"]["label_filter"]["name"] == "cleanlab"
        assert job_row["summary"]["label_filter"]["report_id"] == ev["report_id"]
        assert v.get_report(ev["report_id"])["body"]["label_filter"]["removed"] == lf["removed"]

    with Session(open_as(home, "alice")) as s:
        export_id = export.request_export(s, job_id)["export_id"]
        assert export.get_export(s, export_id)["manifest"]["records"] == 200 - lf["removed"]
    with Session(open_as(home, "rita")) as s:
        export.decide_export(s, export_id, True, "filtered set reviewed")
    out = tmp_path / "out"
    with Session(open_as(home, "alice")) as s:
        export.write_export(s, export_id, "jsonl", out)
    texts = [json.loads(ln)["text"] for ln in (out / "data.jsonl").read_text().splitlines()]
    assert not {r["text"] for r in filtered} & set(texts) and QUARANTINED not in texts
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["label_filter"]["name"] == "cleanlab" and manifest["label_filter"]["removed"] == lf["removed"]
    assert manifest["label_filter"]["rows"][0]["task_model"] == "tfidf_lr"
    assert manifest["records"]["filtered"] == lf["removed"] and manifest["records"]["exported"] == len(texts)


def test_every_change_of_status_is_audited_and_none_puts_the_records_back(job, tmp_path: Path) -> None:
    home, job_id, _ = job
    real = real_file(tmp_path)
    ev = evaluate(home, job_id, real)
    removed = {int(i) for i in ev["label_filter"]["removed_record_ids"]}
    ev2 = evaluate(home, job_id, real, label_filter="none")
    assert ev2["label_filter"]["removed"] == 0 and ev2["n_synthetic"] == 200
    assert "filtered" not in statuses(home, job_id)
    with open_as(home, "audrey") as v:  # the auditor reads what changed (ids and counts), not the records
        entries = [e for e in v.audit_entries() if e["action"] == "record.filter"]
    assert [e["params"]["filter"] for e in entries] == ["cleanlab", "none"]
    assert set(entries[0]["params"]["newly_filtered"]) == removed and entries[0]["params"]["restored"] == []
    assert set(entries[1]["params"]["restored"]) == removed and entries[1]["params"]["newly_filtered"] == []
    for r in statuses(home, job_id)["accepted"]:
        assert not any(str(x).startswith("label filter") for x in r["reasons"])


@pytest.mark.parametrize("user", ["rita", "audrey"])
def test_only_an_author_may_filter_and_a_refusal_changes_nothing(job, tmp_path: Path, user: str) -> None:
    home, job_id, _ = job
    with pytest.raises(AccessDenied):
        evaluate(home, job_id, real_file(tmp_path), user=user)
    target = statuses(home, job_id)["accepted"][0]["id"]  # a record the filter could really mark
    with open_as(home, user) as v, pytest.raises(AccessDenied):
        v.apply_label_filter(job_id, "cleanlab", {target: "label issue"})
    assert target in {r["id"] for r in statuses(home, job_id)["accepted"]}


def test_a_quarantined_record_can_be_neither_filtered_nor_released_by_a_filter(job) -> None:
    home, job_id, _ = job
    q = statuses(home, job_id)["quarantined"][0]["id"]
    with open_as(home, "alice") as v:
        with pytest.raises(BadInput, match=f"record {q} is not an accepted or filtered record of job {job_id}"):
            v.apply_label_filter(job_id, "cleanlab", {q: "label issue"})
        with pytest.raises(BadInput, match="is not an accepted or filtered record"):
            v.apply_label_filter(job_id, "cleanlab", {10**9: "label issue"})  # another job's or no record
    assert statuses(home, job_id)["quarantined"][0]["status"] == "quarantined"


def test_a_running_job_is_not_filtered(tmp_path: Path) -> None:
    home = tmp_path / "home"
    job_id, _ = make_job(home, n=20, finish=False)
    with open_as(home, "alice") as v, pytest.raises(BadInput, match="still running"):
        v.apply_label_filter(job_id, "cleanlab", {})


def test_hostile_filter_names_and_reasons_are_data_not_sql(job) -> None:
    home, job_id, _ = job
    rid = statuses(home, job_id)["accepted"][0]["id"]
    name = "x'); DROP TABLE records; --"
    with open_as(home, "alice") as v:
        v.apply_label_filter(job_id, name, {rid: "label issue'); DELETE FROM jobs; --"})
        for bad in ("two\nlines", "esc \x1b[31m"):
            with pytest.raises(ValueError, match="one-line"):
                v.apply_label_filter(job_id, "cleanlab", {rid: bad})
        with pytest.raises(BadInput, match="invalid label filter"):
            v.apply_label_filter(job_id, "bad\x1bname", {})
    by_status = statuses(home, job_id)
    assert len(by_status["accepted"]) + len(by_status["filtered"]) == 200
    assert by_status["filtered"][0]["reasons"] == [f"label filter {name}: label issue'); DELETE FROM jobs; --"]


def test_a_filtered_record_flipped_back_with_raw_sql_after_the_request_is_not_exported(job, tmp_path: Path) -> None:
    home, job_id, _ = job
    evaluate(home, job_id, real_file(tmp_path))
    with Session(open_as(home, "alice")) as s:
        export_id = export.request_export(s, job_id)["export_id"]
    with Session(open_as(home, "rita")) as s:
        export.decide_export(s, export_id, True, "reviewed")
    rid = statuses(home, job_id)["filtered"][0]["id"]
    with open_as(home, "rita") as v:  # an insider with the database key puts a filtered record back
        v._con.execute("UPDATE records SET status = 'accepted' WHERE id = ?", [rid])
    with Session(open_as(home, "alice")) as s, pytest.raises(UserError, match="changed since export"):
        export.write_export(s, export_id, "jsonl", tmp_path / "x")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("command", ["evaluate", "report"])
def test_an_unknown_label_filter_is_one_line_and_exit_2_before_a_passphrase(command: str, tmp_path: Path, capsys,
                                                                            monkeypatch) -> None:
    real = real_file(tmp_path)
    monkeypatch.setenv("APPLIANCE_HOME", str(tmp_path / "no-home"))
    extra = ["--real", str(real), "--text-column", "text", "--label-column", "label"] if command == "evaluate" else []
    rc = cli_main([command, "1", *extra, "--label-filter", "clean'lab;", "--user", "alice"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    assert err == "appliance: error: unknown label filter: clean'lab; (known: cleanlab, cleanlab_embedding, judge, none)\n"


def test_report_with_a_label_filter_describes_the_kept_records_and_records_the_choice(job) -> None:
    home, job_id, flipped = job
    with Session(open_as(home, "alice")) as s:
        body, html = quality_service.report_job(s, home, job_id, use_model=False, label_filter="cleanlab", sample=20)
        with pytest.raises(BadInput, match="label filter judge needs the scoring model"):
            quality_service.report_job(s, home, job_id, use_model=False, label_filter="judge")
    m = body["metrics"]
    assert m["label_filter"]["removed"] == len(flipped) and m["n_records"] == 200 - len(flipped)
    assert m["label_leak"]["records"] == 200 - len(flipped) and m["prompt_warnings"] == []
    assert "label filter cleanlab" in html and "label leak" in html
    assert not any(flip in html for flip in flipped)  # aggregates only: no record text in the report
    with open_as(home, "alice") as v:
        assert v.get_job(job_id)["summary"]["label_filter"]["report_id"] == body["report_id"]
        assert v.count_records(job_id, "filtered") == len(flipped)
