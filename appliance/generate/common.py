"""Small helpers the generation methods share: balanced per-label targets, word sets, seeds, text cleaning.
(The steps of the loop itself are ``base.Run``'s.)"""

from __future__ import annotations

import math
import re
import tempfile
from pathlib import Path
from typing import Any, Iterable, Sequence

from appliance.errors import BadInput
from appliance.generate.postprocess import cut_output, keep_text
from appliance.spec import TaskSpec

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def split_need(labels: Sequence[str], n: int) -> dict[str, int]:
    """``n`` records spread over the labels as evenly as possible (the last labels give up one each)."""
    per = math.ceil(n / len(labels))
    need = {lab: per for lab in labels}
    for lab in list(labels)[::-1][: per * len(labels) - n]:
        need[lab] -= 1
    return need


def word_set(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def overlap(text: str, demo: str) -> float:
    """Share of the output's distinct words that also occur in the demonstration (1.0: nothing new)."""
    a = word_set(text)
    if not a:
        return 1.0
    return len(a & word_set(demo)) / len(a)


def copies_any(text: str, demos: Iterable[str], threshold: float = 0.9) -> bool:
    """ProGen's rejection rule: the output's word set overlaps ≥ ``threshold`` with one of the demonstrations."""
    return any(overlap(text, d) >= threshold for d in demos)


def title_like(text: str, context: str = "") -> bool:
    """An output that is a name, not a text: fewer than 4 words beyond its context's, or no sentence punctuation
    with most words of 4+ letters capitalized ("Frozen 2: The Big Reveal"). The 135M model answers a title this way often."""
    ctx = {w.lower() for w in context.split()}
    words = text.split()
    if len([w for w in words if w.lower() not in ctx]) < 4:
        return True
    if any(ch in text for ch in ".!?,;"):
        return False
    long = [w for w in words if len(w) >= 4] or words
    caps = sum(1 for w in long if w[:1].isupper() or w[:1].isdigit())
    return caps >= 0.7 * len(long)


def clean_output(raw: str, task: TaskSpec, context: str = "") -> str | None:
    """ZeroGen's cut and drop rules for one raw output, then ``title_like`` outputs dropped: the text, or None."""
    text = cut_output(raw)
    if not keep_text(text, context, task.min_words, task.max_words) or title_like(text, context):  # type: ignore[arg-type]
        return None
    return text


def seeds_by_label(seeds: Sequence[dict[str, Any]], task: TaskSpec, method: str) -> dict[str, list[dict[str, Any]]]:
    """Seed records (dicts with text, label and optionally id) grouped by the task's labels; every label needs one."""
    out: dict[str, list[dict[str, Any]]] = {lab: [] for lab in task.label_ids}
    for i, s in enumerate(seeds):
        text, label = s.get("text"), s.get("label")
        if isinstance(text, str) and text.strip() and label in out:
            out[label].append({"id": s.get("id", i), "text": text.strip(), "label": label})
    missing = [lab for lab, rows in out.items() if not rows]
    if missing:
        raise BadInput(f"{method} needs seed records for every label; none for: {', '.join(missing)} (choose a seed set)")
    return out


def read_seed_file(path: str | Path) -> list[dict[str, Any]]:
    """A seed file with ``text`` and ``label`` columns as {"id", "text", "label"} dicts (id: the 1-based row), for
    benchmarks and tests that pass seeds to a method directly. Read and checked by the importer, the one seed-file
    reader; its spill directory (encrypted, and unused for a small file) is a private temporary one."""
    from appliance.vault.importer import read_seed_file as read

    with tempfile.TemporaryDirectory(prefix="appliance-seeds-") as spill:
        rows, _ = read(path, "text", "label", temp_dir=Path(spill))
    return [{"id": r.row, "text": r.text, "label": r.label} for r in rows]

