"""Canaries: unique secret strings planted among a task's seed records; any output containing one is a leak.

``appliance canary plant`` stores each canary as a seed record in a companion seed set (``<set>~canaries``,
``source_name`` = ``CANARY_SOURCE``) of the same task, so it travels wherever the task's seeds go (prompts,
fine-tuning), and the gate finds them again among the task's seed records. The canary's id is its seed record id; a
leak reason carries that id and the span's offsets. This module works on data (seed set listings, seed rows); the
service layer reads and writes the vault (``appliance.service.seeds``).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from appliance.errors import BadInput

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


def companion_set(seed_sets: Iterable[dict[str, Any]], seed_set: str, n: int) -> tuple[dict[str, Any], str]:
    """Where ``n`` canaries for ``seed_set`` go: the set's own listing (from ``vault.list_seed_sets()``: its task) and
    a free name for the companion set. Refuses a count out of range, an unknown set and a canary set."""
    if not 1 <= n <= 100:
        raise BadInput(f"number of canaries must be between 1 and 100, not {n}")
    sets = {s["name"]: s for s in seed_sets}
    base = sets.get(seed_set)
    if base is None:
        raise BadInput(f"no seed set {seed_set!r}")
    if base.get("source_name") == CANARY_SOURCE:
        raise BadInput(f"{seed_set!r} is itself a canary set")
    name = seed_set + SUFFIX
    k = 2
    while name in sets:
        name, k = f"{seed_set}{SUFFIX}{k}", k + 1
    return base, name


def canary_rows(n: int, labels: Sequence[str]) -> list[dict[str, Any]]:
    """``n`` seed rows, each a new canary with a label drawn from the set's own (so it looks like the others)."""
    return [{"text": canary_text(new_secret()), "label": secrets.choice(labels) if labels else None} for _ in range(n)]


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
