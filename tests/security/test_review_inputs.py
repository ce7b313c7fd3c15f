"""Review attacks on inputs that reached a traceback: a seed preview of deeply nested JSON, and evaluate/report
sizes below what they can use (checked before any file is read or model loaded)."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.errors import BadInput
from appliance.service import quality
from appliance.vault import importer


def test_a_deeply_nested_json_line_previews_without_a_traceback(tmp_path: Path) -> None:
    deep = 100_000
    f = tmp_path / "deep.jsonl"
    f.write_text('{"text": "first", "x": ' + "[" * deep + "]" * deep + '}\n{"text": "second"}\n', encoding="utf-8")
    _, fmt, columns, rows = importer.preview_seed_file(f, 8, temp_dir=tmp_path)
    assert fmt == "jsonl" and "text" in columns and ["second"] == [r[columns.index("text")] for r in rows[1:]]


class _AnySession:
    """Every permission granted, and nothing else: the checks under test come before the vault is read."""

    def require(self, permission: str) -> None:
        return None

    @property
    def vault(self):  # noqa: ANN201
        raise AssertionError("the size must be refused before the vault is read")


@pytest.mark.parametrize("limit", [0, -5])
def test_evaluate_refuses_a_limit_below_one(limit: int) -> None:
    with pytest.raises(BadInput, match="limit must be at least 1"):
        quality.evaluate_job(_AnySession(), Path("."), 1, "real.csv", "text", "label", limit=limit)  # type: ignore[arg-type]


@pytest.mark.parametrize("sample", [1, 0, -1])
def test_report_refuses_a_self_bleu_sample_below_two(sample: int, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="sample must be at least 2"):
        quality.report_job(_AnySession(), tmp_path, 1, sample=sample)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["0001-01-01T00:00+01:00", "9999-12-31T23:00-05:00"])
def test_an_audit_time_outside_utc_range_is_bad_input(value: str) -> None:
    from appliance.cli.vault_cmds import parse_time

    with pytest.raises(BadInput, match="out of range"):
        parse_time(value)
