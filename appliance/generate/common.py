"""Small helpers the generation methods share: balanced per-label targets, word sets, seeds, text cleaning."""

from __future__ import annotations

import math
import re
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from appliance.errors import UserError
from appliance.generate.base import Progress, ProgressFn
from appliance.generate.postprocess import cut_output, dedupe, keep_text
from appliance.generate.records import GeneratedRecord
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
        raise UserError(f"{method} needs seed records for every label; none for: {', '.join(missing)} (use --seed-set)")
    return out


def read_seed_file(path: str | Path) -> list[dict[str, Any]]:
    """A seed file with ``text`` and ``label`` columns as {"id", "text", "label"} dicts (id: the 1-based row), for
    benchmarks and tests that pass seeds to a method directly. Read and checked by the importer, the one seed-file
    reader; its spill directory (encrypted, and unused for a small file) is a private temporary one."""
    from appliance.vault.importer import read_seed_file as read

    with tempfile.TemporaryDirectory(prefix="appliance-seeds-") as spill:
        rows, _ = read(path, "text", "label", temp_dir=Path(spill))
    return [{"id": r.row, "text": r.text, "label": r.label} for r in rows]


def distinct_n(texts: Iterable[str], n: int = 2) -> float:
    """Distinct-n: distinct word n-grams over all n-grams of the texts (Li et al., 2016)."""
    grams: list[tuple[str, ...]] = []
    for t in texts:
        w = t.lower().split()
        grams += [tuple(w[i : i + n]) for i in range(len(w) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def prompts_per_batch(method: object, model: object) -> int:
    """The method's ``batch_size``, or (None) 4 × the model's parallel slots, as ZeroGen chooses."""
    return getattr(method, "batch_size", None) or 4 * int(getattr(model, "max_parallel", 32))


def keep(rec: GeneratedRecord, need: dict[str, int], seen: set[tuple[str, str, str]], prog: Progress,
         batch: list[GeneratedRecord]) -> None:
    """Add a record to the batch and count it against its label, unless it repeats a kept (context, text, label)."""
    if not dedupe([rec], seen):
        prog.drop("duplicate")
        return
    need[rec.label] -= 1
    batch.append(rec)


def emit(batch: list[GeneratedRecord], prog: Progress, progress: ProgressFn | None) -> Iterator[list[GeneratedRecord]]:
    """Report progress for a finished batch and yield it (when it holds anything) for the job to commit."""
    prog.accepted += len(batch)
    if progress:
        progress(prog)
    if batch:
        yield batch
