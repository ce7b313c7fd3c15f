"""Attacks on the seed import and the real evaluation file: hostile paths and typed or header-less files.

Each is refused with one line and exit 2 that names the path, row or column, never a record's content (a canary in
the file's first record), and the vault gains nothing: no seed set, no task spec.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from appliance.errors import UserError
from appliance.quality.realdata import read_real
from appliance.vault import Vault
from tests.security.inputs_helpers import CANARY, MEDICAL_TASK, AUTHOR_PASSPHRASE, Cli, assert_refused, make_cli

GOOD_LABEL = "orthopedic"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return make_cli(tmp_path, monkeypatch, capsys)


def _import(cli: Cli, path: Path, *extra: str) -> tuple[int, str, str]:
    return cli.run("import", str(path), "--task", str(MEDICAL_TASK), "--text-column", "text", "--label-column", "label", *extra)


def _nothing_stored(cli: Cli) -> None:
    with Vault.open(cli.home, "alice", AUTHOR_PASSPHRASE) as v:
        assert v.list_seed_sets() == []
        assert v.list_tasks() == []


def _parquet(path: Path, select: str) -> Path:
    con = duckdb.connect()
    con.execute(f"COPY (SELECT {select}) TO '{path}' (FORMAT parquet)")
    con.close()
    return path


@pytest.mark.parametrize(
    "select, column, dtype",
    [
        (f"4471902 AS text, '{GOOD_LABEL}' AS label, '{CANARY}' AS note", "text", "INTEGER"),
        (f"['{CANARY}', 'x'] AS text, '{GOOD_LABEL}' AS label", "text", "VARCHAR[]"),
        (f"{{'name': '{CANARY}'}} AS text, '{GOOD_LABEL}' AS label", "text", "STRUCT"),
        (f"'{CANARY}'::BLOB AS text, '{GOOD_LABEL}' AS label", "text", "BLOB"),
        (f"'{CANARY}' AS text, ['{GOOD_LABEL}'] AS label", "label", "VARCHAR[]"),
        (f"'{CANARY}' AS text, 1.5 AS label", "label", "DECIMAL"),
    ],
)
def test_typed_parquet_columns_are_refused_naming_column_and_type(cli: Cli, tmp_path: Path, select: str, column: str, dtype: str) -> None:
    path = _parquet(tmp_path / "typed.parquet", select)
    assert_refused(*_import(cli, path), f"column '{column}' has type {dtype}")
    _nothing_stored(cli)


def test_typed_json_text_is_refused_by_row(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "typed.jsonl"
    path.write_text(f'{{"text": "{CANARY} fine", "label": "{GOOD_LABEL}"}}\n{{"text": {{"n": "{CANARY}"}}, "label": "{GOOD_LABEL}"}}\n')
    assert_refused(*_import(cli, path), "row 2", "'text' must be a string, not object")
    _nothing_stored(cli)


def test_hostile_paths_are_refused_with_the_right_words(cli: Cli, tmp_path: Path) -> None:
    secret = tmp_path / "someone_elses_notes.csv"
    secret.write_text(f"{CANARY} chest pain,{GOOD_LABEL}\n")
    link = tmp_path / "seeds.csv"
    link.symlink_to(secret)
    assert_refused(*_import(cli, link), "symbolic link")

    folder = tmp_path / "folder.csv"
    folder.mkdir()
    assert_refused(*_import(cli, folder), "is a directory")

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    assert_refused(*_import(cli, fifo), "named pipe (FIFO)")  # and it returns: nothing opened the pipe

    assert_refused(*_import(cli, Path("/dev/null")), "character device")

    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert_refused(*_import(cli, empty), "empty.csv: the file is empty")

    assert_refused(*_import(cli, tmp_path / "missing.csv"), "no such file")

    # DuckDB reads a path as a glob: 'seed*.csv' would pull in every matching file beside it.
    (tmp_path / "seed-a.csv").write_text(f"text,label\n{CANARY},{GOOD_LABEL}\n")
    pattern = tmp_path / "seed*.csv"
    pattern.write_text(f"text,label\nhello there,{GOOD_LABEL}\n")
    assert_refused(*_import(cli, pattern), "may not contain '*' or '?'")
    _nothing_stored(cli)


def test_csv_without_header_does_not_print_its_first_record(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "noheader.csv"
    path.write_text(f"{CANARY} presented with chest pain,{GOOD_LABEL}\nsecond note,{GOOD_LABEL}\n")
    assert_refused(*_import(cli, path), "missing column 'text'", "header")
    one_word = tmp_path / "oneword.csv"  # even a record without spaces is not shown as a 'column name'
    one_word.write_text(f"CANARY4471902,{GOOD_LABEL}\n")
    assert_refused(*_import(cli, one_word), "missing column 'text'")
    _nothing_stored(cli)


@pytest.mark.parametrize(
    "content, needle",
    [
        (f'text,label\nfine note,{GOOD_LABEL}\n"{CANARY} never closed,{GOOD_LABEL}\n', "cannot be parsed as CSV"),
        (f"text,label\nfine note,{GOOD_LABEL}\n{CANARY},{GOOD_LABEL},extra\n", "row 2: expected 2 fields, found 3"),
        (f"text,label\n{CANARY},{GOOD_LABEL}\x1b[2J\n", "row 1: label in column 'label' contains control characters"),
        (f"text,label\n{CANARY},{GOOD_LABEL}\x00\n", "row 1: label in column 'label' contains control characters"),
        (f"text,label\n{CANARY},\x9b31m{GOOD_LABEL}\n", "contains control characters"),
    ],
)
def test_malformed_csv_names_row_and_column_not_content(cli: Cli, tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "noheader.csv"
    path.write_text(content)
    assert_refused(*_import(cli, path), needle)
    _nothing_stored(cli)


def test_seed_set_name_with_a_terminal_escape_is_refused(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "good.csv"
    path.write_text(f"text,label\na fine note,{GOOD_LABEL}\n")
    assert_refused(*_import(cli, path, "--seed-set", "clinic\x1b]0;owned\x07"), "seed set name contains control characters")
    _nothing_stored(cli)
    code, out, err = _import(cli, path)  # the same file under its own name goes in
    assert code == 0, err


def _real(path: Path, label_column: str = "label") -> None:
    read_real(path, "text", label_column, task_name="sst2_sentiment", label_ids=["negative", "positive"])


def test_real_evaluation_file_follows_the_same_rules(tmp_path: Path) -> None:
    """`evaluate --real FILE`: the same refusals, and integer labels (SST-2's 0/1 in Parquet) still read."""
    typed = _parquet(tmp_path / "typed.parquet", f"['{CANARY}'] AS text, 1 AS label")
    noheader = tmp_path / "noheader.csv"
    noheader.write_text(f"{CANARY} a fine film,1\n")
    link = tmp_path / "link.csv"
    link.symlink_to(noheader)
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    for path, needle in [
        (typed, "column 'text' has type VARCHAR[]"),
        (noheader, "missing column 'text'"),
        (link, "symbolic link"),
        (tmp_path, "is a directory"),
        (empty, "the file is empty"),
    ]:
        with pytest.raises(UserError) as e:
            _real(path)
        assert needle in str(e.value) and "CANARY" not in str(e.value), str(e.value)
    ints = _parquet(tmp_path / "ints.parquet", "'a fine film' AS text, 1 AS label UNION ALL SELECT 'a dull film', 0")
    r = read_real(ints, "text", "label", task_name="sst2_sentiment", label_ids=["negative", "positive"])
    assert sorted(r.labels) == ["negative", "positive"]


def test_duckdb_messages_never_carry_a_quoted_value(tmp_path: Path) -> None:
    """A value DuckDB quotes in an error ("Could not convert string '…'") is blanked before it reaches a message."""
    from appliance.vault.importer import reader_error

    try:
        duckdb.connect().execute(f"SELECT CAST('{CANARY}' AS INTEGER)")
    except duckdb.Error as e:
        shown = reader_error(e)
    assert "CANARY" not in shown and "Conversion Error" in shown


def test_the_tui_seed_screen_checks_paths_the_same_way(cli: Cli, tmp_path: Path) -> None:
    """The Seeds screen's preview and check go through the same input-file check as `appliance import`."""
    from appliance.service.seeds import check_seed_file, preview_seed_file
    from appliance.service.session import Session

    secret = tmp_path / "target.csv"
    secret.write_text(f"{CANARY} first line of someone's file,x\n")
    link = tmp_path / "link.csv"
    link.symlink_to(secret)
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    with Session.open(cli.home, "alice", AUTHOR_PASSPHRASE) as session:
        for path, needle in [(link, "symbolic link"), (fifo, "named pipe"), (tmp_path, "is a directory")]:
            for call in (lambda: preview_seed_file(session, path), lambda: check_seed_file(session, path, "text")):
                with pytest.raises(UserError) as e:
                    call()
                assert needle in str(e.value) and "CANARY" not in str(e.value)
        lines = tmp_path / "lines.jsonl"  # a JSON line that is no object shows as an empty row, not a traceback
        lines.write_text('{"text": "a note"}\n[1, 2]\n7\n')
        assert preview_seed_file(session, lines).rows == [["a note"], [None], [None]]
