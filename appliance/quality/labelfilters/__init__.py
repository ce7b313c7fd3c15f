"""Label filters: which synthetic records most likely carry the wrong label, and why. One registry, one module each.

A generator asked for a "neurology" note sometimes writes a cardiology one; a task model trained on it learns the
mistake. A label filter looks at the records and names those to take out of the training set, each with a short
reason (label names and a method, never record text). ``appliance evaluate --label-filter NAME`` runs one, scores
the task models with and without it, and marks the removed records ``filtered`` in the vault (kept, with the reason,
and never exported).

A filter is a ``LabelFilter`` registered by a module of this package: its name, a line of help, what it needs besides
the texts and labels (``"embedding"``: sentence embeddings; ``"judge"``: the generator's calibrated verbalizer
judge), and ``find(data) -> {record index: reason}``. ``LABEL_FILTERS`` finds the modules itself; a new filter is
one module here and its test. Modules import their libraries (cleanlab, scikit-learn) only when a filter runs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Literal, Sequence

import numpy as np

from appliance.registry import Registry

Need = Literal["embedding", "judge"]


@dataclass(frozen=True)
class FilterData:
    """What a filter may read: the records' texts and intended labels, the task's label ids, and what it declared
    it needs (``embeddings``: [n, d]; ``judge_margins``: calibrated intended-minus-best-other log-score per record;
    ``judge_predicted``: the label the calibrated judge prefers)."""

    texts: Sequence[str]
    labels: Sequence[str]
    classes: Sequence[str]
    embeddings: np.ndarray | None = None
    judge_margins: Sequence[float] | None = None
    judge_predicted: Sequence[str] | None = None
    seed: int = 0


@dataclass(frozen=True)
class LabelFilter:
    """One label filter. ``find(data)``: the indices of the records it removes, each with its reason."""

    name: str
    help: str
    find: Callable[[FilterData], dict[int, str]]
    needs: frozenset[Need] = frozenset()
    rank: int = 100  # place in listings (no filter first)


LABEL_FILTERS: Registry[LabelFilter] = Registry("label filter", __name__)


def label_filter_names() -> list[str]:
    """Every registered label filter, in listing order."""
    return [name for name, f in sorted(LABEL_FILTERS.items(), key=lambda item: (item[1].rank, item[0]))]


@dataclass(frozen=True)
class FilterOutcome:
    """What a filter did to a dataset: the indices removed with their reasons, and counts by label and by reason."""

    name: str
    removed: dict[int, str]
    n_records: int
    labels: Sequence[str]

    @property
    def kept(self) -> list[int]:
        return [i for i in range(self.n_records) if i not in self.removed]

    def summary(self) -> dict[str, Any]:
        """Aggregates for reports and the job (no record text)."""
        by_label = Counter(self.labels[i] for i in self.removed)
        return {
            "name": self.name,
            "records": self.n_records,
            "removed": len(self.removed),
            "kept": self.n_records - len(self.removed),
            "removed_by_label": {lab: by_label.get(lab, 0) for lab in sorted(set(self.labels))},
            "reasons": dict(sorted(Counter(self.removed.values()).items())),
        }


def run_label_filter(name: str, data: FilterData) -> FilterOutcome:
    """Run filter ``name`` (an unknown name is one line listing the known ones) on ``data``."""
    flt = LABEL_FILTERS.get(name)
    missing = [n for n, have in (("embedding", data.embeddings), ("judge", data.judge_margins)) if n in flt.needs and have is None]
    if missing:
        raise ValueError(f"label filter {name} needs {', '.join(missing)}, which the caller did not supply")
    removed = flt.find(data) if len(data.texts) else {}
    return FilterOutcome(name, dict(sorted(removed.items())), len(data.texts), list(data.labels))


__all__ = ["FilterData", "FilterOutcome", "LABEL_FILTERS", "LabelFilter", "label_filter_names", "run_label_filter"]
