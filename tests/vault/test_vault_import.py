"""Seed import: DuckDB readers, validation that names the row, all-or-nothing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pytest
from vault_helpers import open_as

from appliance.errors import UserError
from appliance.vault import import_file, read_seed_file

LABELS = {"cardiology", "oncology"}


def _read(path: Path, tmp_path: Path, label: str | None = "label", **kw):
    return read_seed_file(path, "text", label, allowed_labels=LABELS, temp_dir=tmp_path / "spill", **kw)


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return p


def test_csv_jsonl_parquet_read_the_same(tmp_path: Path) -> None:
    rows = [("Chest pain, radiating to the left arm", "cardiology"), ('Said "it hurts"\nsince Monday', "oncology")]
    csv = _write(tmp_path, "a.csv", 'text,label\n"Chest pain, radiating to the left arm",cardiology\n"Said ""it hurts""\nsince Monday",oncology\n')
    jsonl = _write(tmp_path, "a.jsonl", "\n".join(json.dumps({"text": t, "label": l, "extra": 1}) for t, l in rows) + "\n")
    tsv = _write(tmp_path, "a.tsv", "label\ttext\ncardiology\tChest pain, radiating to the left arm\noncology\tx\n")
    parquet = tmp_path / "a.parquet"
    con = duckdb.connect()
    con.execute("CREATE TABLE t (text VARCHAR, label VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", rows)
    con.execute(f"COPY t TO '{parquet}' (FORMAT parquet)")
    con.close()
    for path in (csv, jsonl, parquet):
        got, digest = _read(path, tmp_path)
        assert [(r.text, r.label) for r in got] == rows, path.suffix
        assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    got, _ = _read(tsv, tmp_path)
    assert got[0].text.startswith("Chest pain") and got[1].label == "oncology"


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("enc.csv", b"text,label\nfine,cardiology\nbad \xff\xfe bytes,oncology\n", r"enc\.csv: row 2 \(line 3\): not valid UTF-8"),
        ("enc.jsonl", b'{"text":"ok","label":"oncology"}\n\n{"text":"y\xe9s","label":"oncology"}\n', r"row 2 \(line 3\): not valid UTF-8"),
        # the header is not listed: in a file without one, the first line is a record (issue 14)
        ("nocol.csv", "body,label\nhello,cardiology\n", r"missing column 'text' \(the first line is read as the header and names 2 columns"),
        ("case.csv", "Text,label\nhello,cardiology\n", r"missing column 'text' \(did you mean 'Text'\?"),
        ("nolabel.csv", "text,kind\nhello,cardiology\n", r"missing column 'label'"),
        ("nocol.jsonl", '{"body":"x","label":"oncology"}\n', r"missing column 'text'"),
        ("empty.csv", "text,label\nfine,oncology\n   ,oncology\n", r"empty\.csv: row 2: empty text in column 'text'"),
        ("null.csv", "text,label\nfine,oncology\nalso fine,oncology\n,cardiology\n", r"row 3: empty text"),
        ("empty.jsonl", '{"text":"a","label":"oncology"}\n{"label":"oncology"}\n', r"row 2: empty text"),
        ("nolab.csv", "text,label\nfine,oncology\nno label here,\n", r"row 2: empty label in column 'label'"),
        ("unknown.csv", "text,label\nfine,oncology\nfine too,dermatology\n", r"row 2: unknown label 'dermatology' \(the task allows: cardiology, oncology\)"),
        ("unknown.jsonl", '{"text":"a","label":"oncology"}\n{"text":"b","label":"Oncology"}\n', r"row 2: unknown label 'Oncology'"),
        ("long.csv", "text,label\nfine,oncology\nfine,oncology\n" + "x" * 10_001 + ",oncology\n", r"row 3: text is 10001 characters, over the limit of 10000"),
        ("fields.csv", "text,label\nfine,oncology\nmore,fields,than,header\n", r"row 2: expected 2 fields, found 4"),
        ("badjson.jsonl", '{"text":"a","label":"oncology"}\n{"text": "b", label}\n', r"row 2: not valid JSON"),
        ("array.jsonl", '{"text":"a","label":"oncology"}\n["b","oncology"]\n', r"row 2: not a JSON object"),
        ("header.csv", "text,label\n", r"no data rows"),
        ("notes.txt", "text\nhello\n", r"unsupported file type \.txt"),
    ],
)
def test_bad_files_name_the_row_and_problem(tmp_path: Path, name: str, content, message: str) -> None:
    path = _write(tmp_path, name, content)
    with pytest.raises(UserError, match=message):
        _read(path, tmp_path)


def test_every_bad_row_is_named_in_one_line(tmp_path: Path) -> None:
    """A file with many bad rows is fixed in one pass: the first is described, the others are listed by number."""
    lines = ["text,label"] + [("fine" if i % 3 else "") + f",{'oncology' if i % 5 else 'dermatology'}" for i in range(1, 31)]
    path = _write(tmp_path, "many.csv", "\n".join(lines) + "\n")
    with pytest.raises(UserError) as err:
        _read(path, tmp_path)
    message = str(err.value)
    assert "\n" not in message
    bad = [i for i in range(1, 31) if i % 3 == 0 or i % 5 == 0]  # empty text, or a label the task does not allow
    assert message.startswith(f"many.csv: row {bad[0]}: ")
    listed = ", ".join(map(str, bad[1:11]))
    assert message.endswith(f"(and {len(bad) - 1} more bad rows: {listed}, …)"), message


def test_many_rows_then_a_short_one(tmp_path: Path) -> None:
    body = "".join(f"note {i},oncology\n" for i in range(3000))
    path = _write(tmp_path, "big.csv", "text,label\n" + body + "short row\n")
    with pytest.raises(UserError, match=r"row 3001: expected 2 fields, found 1"):
        _read(path, tmp_path)


def test_hash_lines_are_kept_not_treated_as_comments(tmp_path: Path) -> None:
    path = _write(tmp_path, "hash.csv", "text,label\n#1 priority patient,oncology\n")
    rows, _ = _read(path, tmp_path)
    assert rows[0].text == "#1 priority patient"


def test_label_column_optional(tmp_path: Path) -> None:
    path = _write(tmp_path, "nolabels.jsonl", '{"text": "just text"}\n')
    rows, _ = _read(path, tmp_path, label=None)
    assert rows[0].label is None


def test_bad_file_imports_nothing(populated: Path, tmp_path: Path) -> None:
    bad = _write(tmp_path, "bad.csv", "text,label\none,oncology\ntwo,oncology\nthree,unknown\n")
    good = _write(tmp_path, "good.csv", "text,label\none,oncology\ntwo,cardiology\n")
    with open_as(populated, "alice") as v:
        with pytest.raises(UserError, match="row 3: unknown label"):
            import_file(v, bad, text_column="text", label_column="label", allowed_labels=LABELS)
        assert v.list_seed_sets() == []
        result = import_file(v, good, text_column="text", label_column="label", allowed_labels=LABELS, seed_set="clinic-a")
        assert result.rows == 2 and result.seed_set == "clinic-a"
        seeds = v.list_seeds("clinic-a")
        assert [(s["row_no"], s["text"], s["label"]) for s in seeds] == [(1, "one", "oncology"), (2, "two", "cardiology")]
        # A keyed fingerprint: a plain sha256 would let anyone holding the database confirm a guessed seed text.
        assert len(seeds[0]["sha256"]) == 64 and seeds[0]["sha256"] != hashlib.sha256(b"one").hexdigest()
        with pytest.raises(UserError, match="already exists"):
            import_file(v, good, text_column="text", label_column="label", seed_set="clinic-a")
        entry = v.audit(  # sanity: the vault is still writable after the failed import
            "test.marker"
        )
        assert entry > 0
    with open_as(populated, "rita") as v:
        imports = v.audit_entries(action="seed.import")
    assert len(imports) == 1 and imports[0]["params"]["rows"] == 2
    assert imports[0]["params"]["source_sha256"] == hashlib.sha256(good.read_bytes()).hexdigest()


def test_reviewer_cannot_import(populated: Path, tmp_path: Path) -> None:
    good = _write(tmp_path, "good.csv", "text,label\none,oncology\n")
    with open_as(populated, "rita") as v:
        with pytest.raises(UserError, match="may not import seed records"):
            import_file(v, good, text_column="text")
