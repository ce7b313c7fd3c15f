"""Seed files before import: a preview (columns and first rows) for choosing the text and label columns, and a full
check that names the first bad row. Both read the file with the importer's own DuckDB readers in a private in-memory
database whose spill files are encrypted inside the home, so nothing is written anywhere; the user already has the
file. Importing itself is ``Session.import_seed_file``.

Also what the privacy gate needs from a task's seed sets (``task_seeds``), and planting canaries among them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Iterable

from appliance.guard import canaries
from appliance.guard.canaries import Canary
from appliance.service.session import Session
from appliance.vault import Vault, importer, layout


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


def task_seeds(vault: Vault, task_name: str, task_ids: Iterable[int] = ()) -> tuple[list[tuple[int, str]], list[Canary]]:
    """What a task's outputs must not copy, for its privacy gate: the records of its seed sets (id, text), and the
    canaries planted among them."""
    ids = set(task_ids)
    seeds: list[tuple[int, str]] = []
    found: list[Canary] = []
    for s in vault.list_seed_sets():
        if s["task_name"] != task_name and s["task_id"] not in ids:
            continue
        rows = vault.list_seeds(int(s["id"]))
        if s.get("source_name") == canaries.CANARY_SOURCE:
            found += canaries.from_seed_rows(rows)
        seeds += [(int(r["id"]), r["text"]) for r in rows]
    return seeds, found


def plant_canaries(session: Session, seed_set: str, n: int = 3) -> tuple[int, list[int]]:
    """Add ``n`` canaries to ``seed_set`` (by name) in a companion set of the same task; returns the companion set's
    id and the canary ids (their seed record ids, which a leak reason names)."""
    vault = session.vault
    base, name = canaries.companion_set(vault.list_seed_sets(), seed_set, n)
    labels = [s["label"] for s in vault.list_seeds(seed_set) if s.get("label")]
    set_id = vault.import_seeds(name, canaries.canary_rows(n, labels), task_id=base["task_id"],
                                task_name=base["task_name"], source_name=canaries.CANARY_SOURCE)
    return set_id, [s["id"] for s in vault.list_seeds(set_id)]
