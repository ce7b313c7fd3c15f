"""Export formats are one registry: a format registered here (a module's job in real life) is a CLI choice, passes
the export service's check and writes through the same path as the shipped ones; unregistered, it is an unknown
name again, refused with one line that lists the known ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.errors import BadInput
from appliance.export import formats
from appliance.export.formats import FORMATS, ExportFormat
from appliance.service import export


def _write_tsv(rows, out: Path) -> list[str]:
    (out / "data.tsv").write_text("".join(f"{r['record_id']}\t{r['text']}\n" for r in rows), encoding="utf-8")
    return ["data.tsv"]


def _export_choices() -> list[str]:
    from appliance.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._subparsers._group_actions if a.choices and "export" in a.choices)
    export_parser = sub.choices["export"]
    write = next(a for a in export_parser._subparsers._group_actions if a.choices and "write" in a.choices).choices["write"]
    return list(next(a for a in write._actions if a.dest == "format").choices)


def test_the_shipped_formats_are_found_without_a_list() -> None:
    assert set(FORMATS.names()) == {"jsonl", "csv", "parquet", "hf"}
    assert formats.data_card_name("hf") == "README.md" and formats.data_card_name("csv") == "DATA_CARD.md"
    assert formats.card_header("hf", "x").startswith("---\n") and formats.card_header("jsonl", "x") == ""


def test_a_format_registered_here_is_used_and_then_gone(tmp_path: Path) -> None:
    FORMATS.register(ExportFormat("test_tsv", "tab-separated, for this test", _write_tsv))
    try:
        assert "test_tsv" in _export_choices()
        export._check_format("test_tsv")
        assert formats.write_records("test_tsv", [{"record_id": 7, "text": "hi"}], tmp_path) == ["data.tsv"]
        assert (tmp_path / "data.tsv").read_text() == "7\thi\n"
        assert formats.data_card_name("test_tsv") == "DATA_CARD.md"
    finally:
        FORMATS.unregister("test_tsv")
    with pytest.raises(BadInput) as e:
        export._check_format("test_tsv")
    message = str(e.value)
    assert message.startswith("unknown export format: test_tsv (known: ") and "\n" not in message
    assert sorted(message.split("known: ")[1].rstrip(")").split(", ")) == ["csv", "hf", "jsonl", "parquet"]
    assert "test_tsv" not in _export_choices()
