"""Canaries: unique secret strings planted among a task's seed records; any output containing one is a leak.

``appliance canary plant`` stores each canary as a seed record in a companion seed set (``<set>~canaries``,
``source_name`` = ``CANARY_SOURCE``) of the same task, so it travels wherever the task's seeds go (prompts,
fine-tuning), and the gate finds them again through the vault's own seed API. The canary's id is its seed record
id; a leak reason carries that id and the span's offsets.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any, Iterable

from appliance.errors import UserError

CANARY_SOURCE = "appliance canary plant"
SUFFIX = "~canaries"
_ADJ = ("amber", "brisk", "cobalt", "dusky", "ember", "fallow", "gilded", "hazel", "indigo", "jade", "kelp", "lunar",
        "mossy", "nimble", "ochre", "pewter", "quartz", "russet", "sable", "tawny", "umber", "velvet", "woaded", "zephyr")
_NOUN = ("falcon", "lantern", "harbor", "quill", "meadow", "cinder", "thistle", "marble", "otter", "juniper", "beacon",
         "sparrow", "tundra", "walnut", "garnet", "heron", "kestrel", "lichen", "nettle", "pylon", "rivet", "saffron")
_SECRET = re.compile(r"\b([a-z]+)-([a-z]+)-(\d{4})-([0-9a-f]{4})\b")


@dataclass(frozen=True)
class Canary:
    canary_id: int
    secret: str

    @property
    def pattern(self) -> re.Pattern[str]:
        """Matches the secret with any case and with separators dropped or changed (a model may re-space it)."""
        parts = self.secret.split("-")
        return re.compile(r"[\s_-]*".join(re.escape(p) for p in parts), re.IGNORECASE)


def new_secret() -> str:
    """adjective-noun-4 digits-4 hex: about 5·10^10 values, never found in natural text."""
    return f"{secrets.choice(_ADJ)}-{secrets.choice(_NOUN)}-{secrets.randbelow(10_000):04d}-{secrets.token_hex(2)}"


def canary_text(secret: str) -> str:
    return f"Reference code {secret} is on file for this record."


def plant(vault: Any, seed_set: str, n: int = 3) -> tuple[int, list[int]]:
    """Add ``n`` canaries to ``seed_set`` (by name); returns the companion set id and the canary ids."""
    if not 1 <= n <= 100:
        raise UserError(f"number of canaries must be between 1 and 100, not {n}")
    sets = {s["name"]: s for s in vault.list_seed_sets()}
    base = sets.get(seed_set)
    if base is None:
        raise UserError(f"no seed set {seed_set!r}")
    if base.get("source_name") == CANARY_SOURCE:
        raise UserError(f"{seed_set!r} is itself a canary set")
    name = seed_set + SUFFIX
    k = 2
    while name in sets:
        name, k = f"{seed_set}{SUFFIX}{k}", k + 1
    labels = [s["label"] for s in vault.list_seeds(seed_set) if s.get("label")]
    rows = [{"text": canary_text(new_secret()), "label": secrets.choice(labels) if labels else None} for _ in range(n)]
    set_id = vault.import_seeds(name, rows, task_id=base["task_id"], task_name=base["task_name"], source_name=CANARY_SOURCE)
    return set_id, [s["id"] for s in vault.list_seeds(set_id)]


def companion_sets(seed_sets: Iterable[dict[str, Any]], seed_set: str) -> list[str]:
    """Names of the canary sets planted for ``seed_set`` (from ``vault.list_seed_sets()``)."""
    return [s["name"] for s in seed_sets
            if s.get("source_name") == CANARY_SOURCE and str(s["name"]).startswith(seed_set + SUFFIX)]


def from_seed_rows(rows: Iterable[dict[str, Any]]) -> list[Canary]:
    """Canaries from the seed records of a canary set."""
    out = []
    for r in rows:
        m = _SECRET.search(r["text"])
        if m:
            out.append(Canary(int(r["id"]), m.group(0)))
    return out


def find(canaries: Iterable[Canary], text: str) -> list[tuple[Canary, int, int]]:
    """Every canary occurring in ``text`` with its span."""
    hits = []
    for c in canaries:
        m = c.pattern.search(text)
        if m:
            hits.append((c, m.start(), m.end()))
    return hits
