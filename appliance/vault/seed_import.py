"""Importing a seed file into the vault: read and checked whole by the one reader (``importer``), then stored as one
seed set in one transaction, each record with the SHA-256 of its text."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Collection

from appliance.errors import BadInput
from appliance.inputfile import has_control_chars
from appliance.vault import layout
from appliance.vault.importer import MAX_TEXT_CHARS, read_seed_file

if TYPE_CHECKING:
    from appliance.vault.store import Vault


@dataclass(frozen=True)
class ImportResult:
    seed_set_id: int
    seed_set: str
    rows: int
    source_sha256: str


def import_file(
    vault: "Vault",
    path: str | Path,
    *,
    text_column: str,
    label_column: str | None = None,
    allowed_labels: Collection[str] | None = None,
    seed_set: str | None = None,
    task_id: int | None = None,
    task_name: str | None = None,
    task_toml: str | None = None,
    max_chars: int = MAX_TEXT_CHARS,
) -> ImportResult:
    """Validate a whole file, then store it as one seed set in one transaction (all or nothing). With
    ``task_toml``, the task spec is stored (or found) only once the file has passed, so a refused file stores
    nothing at all."""
    vault.require("seed.import")
    p = Path(path)
    name = seed_set or p.stem
    if has_control_chars(name):
        raise BadInput("seed set name contains control characters")
    rows, digest = read_seed_file(
        p, text_column, label_column, allowed_labels=allowed_labels, max_chars=max_chars, temp_dir=layout.temp_dir(vault.home)
    )
    if task_name and task_toml is not None:
        task_id = vault.add_task(task_name, task_toml)
    set_id = vault.import_seeds(
        name,
        [(r.text, r.label) for r in rows],
        task_id=task_id,
        task_name=task_name,
        source_name=p.name,
        source_sha256=digest,
    )
    return ImportResult(set_id, name, len(rows), digest)
