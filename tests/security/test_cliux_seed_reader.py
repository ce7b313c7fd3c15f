"""One seed-file reader: every path that reads a seed file (import, the TUI's preview and check, benchmarks and
tests that pass seeds to a method) goes through the importer, so each gets its refusals: symbolic links, devices,
bad rows named by number without their content."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from appliance.errors import UserError
from appliance.generate.common import read_seed_file
from appliance.vault.importer import preview_seed_file

REPO = Path(__file__).resolve().parents[2]
CANARY = "CANARY-Zq8vX3 Jane Roe MRN 4471902"
# DuckDB's file readers; a module that calls one reads a user's file and must be the seed reader (or the reader of
# real evaluation files, which are no seed files: quality/realdata.py maps their labels and never stores them).
_FILE_READERS = re.compile(r"\bread_(?:csv|csv_auto|json|json_auto|json_objects|ndjson|parquet)\(")
READERS = {"appliance/vault/importer.py", "appliance/quality/realdata.py"}


def test_no_other_module_reads_files_with_duckdb() -> None:
    found = {str(p.relative_to(REPO)) for p in (REPO / "appliance").rglob("*.py") if _FILE_READERS.search(p.read_text())}
    assert found == READERS, found


def test_benchmark_reader_refuses_a_symlink_and_a_fifo(tmp_path: Path) -> None:
    real = tmp_path / "seeds.jsonl"
    real.write_text('{"text": "a fine film", "label": "positive"}\n')
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    with pytest.raises(UserError, match="symbolic link"):
        read_seed_file(link)
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="named pipe"):
        read_seed_file(fifo)
    with pytest.raises(UserError, match="named pipe"):
        preview_seed_file(fifo, 3, temp_dir=tmp_path)


def test_benchmark_reader_names_the_bad_row_not_its_content(tmp_path: Path) -> None:
    good = '{"text": "a fine film", "label": "positive"}\n'
    bad_label = tmp_path / "label.jsonl"
    bad_label.write_text(good + f'{{"text": "{CANARY}", "label": "positive\\u001b[2J"}}\n')
    not_object = tmp_path / "shape.jsonl"
    not_object.write_text(good * 2 + f'["{CANARY}", "positive"]\n')
    for path, needle in ((bad_label, "row 2: label in column 'label' contains control characters"),
                         (not_object, "row 3: not a JSON object")):
        with pytest.raises(UserError) as e:
            read_seed_file(path)
        msg = str(e.value)
        assert needle in msg, msg
        assert "Jane Roe" not in msg and "CANARY" not in msg and "\x1b" not in msg and "\n" not in msg
