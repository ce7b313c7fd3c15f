"""Small task models trained only on synthetic data: one registry, one module per model family.

A task model is a ``TaskModel`` registered by a module of this package: its name (what ``appliance evaluate
--task-models`` and the reports use), a line of help, what it trains on (the texts, or their sentence embeddings),
whether it takes SunGen's learned example weights, whether the accuracy-vs-size curve draws it, whether
``appliance evaluate`` trains it unasked (``default``; a slow one is trained only when named), and ``make``, which
returns an untrained classifier with ``fit(X, labels, sample_weight=None)`` and ``predict(X) -> labels`` (with
``epoch_progress``, ``fit`` also takes ``progress``, a ``appliance.progress.Report``, and reports its epochs).
``TASK_MODELS`` finds the modules itself; a new task model is one module here and its test.

The modules import their libraries (scikit-learn, torch) only when a model is made, so the CLI can list the task
models without loading them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal, Protocol, Sequence

from appliance.registry import Registry


class Classifier(Protocol):
    def fit(self, X: Any, labels: Sequence[str], sample_weight: Sequence[float] | None = None) -> "Classifier": ...

    def predict(self, X: Any) -> list[str]: ...


@dataclass(frozen=True)
class TaskModel:
    """One task model. ``make(classes, seed)``: an untrained classifier for the task's label ids."""

    name: str
    help: str
    make: Callable[[Sequence[str], int], Classifier]
    features: Literal["text", "embedding"] = "text"  # what ``fit`` and ``predict`` take: texts or their embeddings
    weighted: bool = False  # trained with SunGen's learned weights (``appliance.quality.sungen``)
    curve: bool = False  # also trained on fractions of the data, for the accuracy-vs-size curve
    rank: int = 100  # place in the default list and the reports (cheapest first)
    default: bool = True  # trained when no task model is named; a slow one (minutes on CPU) is trained only by name
    epoch_progress: bool = False  # ``fit`` takes ``progress=`` (a Report) and reports its epochs


TASK_MODELS: Registry[TaskModel] = Registry("task model", __name__)


def task_model_names(*, every: bool = False) -> list[str]:
    """What ``appliance evaluate`` trains when no task model is named, in report order; ``every``: also the ones
    trained only by name (``default=False``), for the lists a user picks from."""
    ranked = sorted(TASK_MODELS.items(), key=lambda item: (item[1].rank, item[0]))
    return [name for name, m in ranked if every or m.default]


def needs_embeddings(names: Sequence[str]) -> bool:
    """Whether training these task models needs the sentence embedder: one trains on embeddings, or on SunGen's
    weights (learned on the embeddings)."""
    return any(TASK_MODELS.get(n).features == "embedding" or TASK_MODELS.get(n).weighted for n in names)
