"""Seed files before import: a preview (columns and first rows) for choosing the text and label columns, and a full
check that names the first bad row. Both go through the importer, the one reader of seed files (DuckDB in a private
in-memory database whose spill files are encrypted inside the home, so nothing is written anywhere; the user already
has the file). Importing itself is ``Session.import_seed_file``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Collection

from appliance.service.session import Session
from appliance.vault import importer, layout


@dataclass(frozen=True)
class SeedPreview:
    path: Path
    format: str
    columns: list[str]
    rows: list[list[str | None]]  # the first rows, one value per column (text, shortened for display by the caller)


def preview_seed_file(session: Session, path: str | Path, n: int = 8) -> SeedPreview:
    """The file's columns and its first ``n`` rows (authors only: it shows raw seed text)."""
    session.require("seed.import")
    p, fmt, columns, rows = importer.preview_seed_file(path, n, temp_dir=layout.temp_dir(session.vault.home))
    return SeedPreview(p, fmt, columns, rows)


def check_seed_file(
    session: Session,
    path: str | Path,
    text_column: str,
    label_column: str | None = None,
    allowed_labels: Collection[str] | None = None,
) -> int:
    """Validate the whole file as an import would (nothing is stored); the number of rows, or UserError naming the
    first bad row."""
    session.require("seed.import")
    rows, _ = importer.read_seed_file(
        Path(path).expanduser(), text_column, label_column, allowed_labels=allowed_labels,
        temp_dir=layout.temp_dir(session.vault.home),
    )
    return len(rows)


def list_seed_sets(session: Session) -> list[dict]:
    """The vault's seed sets (authors only), oldest first."""
    return session.vault.list_seed_sets()
