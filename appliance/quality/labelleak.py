"""Label leak: how many records spell out their own label's description or a verbalizer, word for word.

A record of "neurology" that says "seizure" may be perfectly natural, but when most records of a label carry the
same phrase the generator has copied it from the prompt, and a task model learns the phrase rather than the class.
The fraction is measured per label (case-insensitive, whole words: ``appliance.spec.leak.phrase_pattern``); the
report shows it next to the prompts' warnings from the spec check.
"""

from __future__ import annotations

from typing import Any, Sequence

from appliance.spec import TaskSpec
from appliance.spec.leak import label_phrases, phrase_pattern


def label_leak(task: TaskSpec, texts: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """Per label: records, how many contain one of the label's phrases, and that fraction; overall the same."""
    per_label: dict[str, dict[str, Any]] = {}
    total = leaking = 0
    for lab in task.labels:
        pattern = phrase_pattern(label_phrases(lab))
        own = [t for t, l_ in zip(texts, labels) if l_ == lab.id]
        k = sum(bool(pattern.search(t)) for t in own)
        per_label[lab.id] = {"records": len(own), "leaking": k, "fraction": k / len(own) if own else None}
        total, leaking = total + len(own), leaking + k
    return {"fraction": leaking / total if total else None, "leaking": leaking, "records": total, "per_label": per_label}


__all__ = ["label_leak"]
