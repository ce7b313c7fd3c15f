"""Writers for the exported records, one module per format (JSON Lines, CSV, Parquet, a Hugging Face directory).

Every format holds the same columns: ``record_id`` (the record's id in the vault, so an auditor can trace a row to
the audit log), ``text``, ``label`` and ``attributes`` (the task's attribute values, JSON text in the tabular formats).
The model's stage-1 context is not exported: the privacy gate checks the record text, not the context.

A format is one module of this package that registers an ``ExportFormat``: its name, a line of help, its writer, the
file name of its data card and any header that card needs. ``FORMATS`` finds the modules itself; the CLI's choices,
the TUI's list and the export service's check all read it, so a new format touches no other file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import pyarrow as pa

from appliance.registry import Registry

Rows = Sequence[dict[str, Any]]

SCHEMA = pa.schema([
    pa.field("record_id", pa.int64()),
    pa.field("text", pa.string()),
    pa.field("label", pa.string()),
    pa.field("attributes", pa.string()),
])


def _no_header(title: str) -> str:
    return ""


@dataclass(frozen=True)
class ExportFormat:
    """One export format. ``write(rows, out)`` fills the empty directory ``out`` and returns the paths it wrote,
    relative to it; the data card (written by the export service) is ``data_card`` there, prefixed with
    ``card_header(title)``."""

    name: str
    help: str
    write: Callable[[Rows, Path], list[str]]
    data_card: str = "DATA_CARD.md"
    card_header: Callable[[str], str] = _no_header


FORMATS: Registry[ExportFormat] = Registry("export format", __name__)


def table(rows: Rows) -> pa.Table:
    """The rows as an Arrow table of the shared schema (attributes as JSON text)."""
    return pa.table(
        {
            "record_id": [int(r["record_id"]) for r in rows],
            "text": [r["text"] for r in rows],
            "label": [r.get("label") for r in rows],
            "attributes": [json.dumps(r.get("attributes") or {}, sort_keys=True, ensure_ascii=False) for r in rows],
        },
        schema=SCHEMA,
    )


def write_records(fmt: str, rows: Rows, out: Path) -> list[str]:
    """Write ``rows`` in format ``fmt`` into the (empty) directory ``out``; returns the paths written, relative to it."""
    return FORMATS.get(fmt).write(rows, out)


def data_card_name(fmt: str) -> str:
    return FORMATS.get(fmt).data_card


def card_header(fmt: str, title: str) -> str:
    """What goes before the data card's text in format ``fmt`` (``hf``: the YAML header ``datasets`` reads)."""
    return FORMATS.get(fmt).card_header(title)
