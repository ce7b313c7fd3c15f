"""Small task models trained only on synthetic data: one registry, one module per model family.

A task model is a ``TaskModel`` registered by a module of this package: its name (what ``appliance evaluate
--task-models`` and the reports use), a line of help, what it trains on (the texts, or their sentence embeddings),
whether it takes SunGen's learned example weights, whether the accuracy-vs-size curve draws it, and ``make``, which
returns an untrained classifier with ``fit(X, labels, sample_weight=None)`` and ``predict(X) -> labels``.
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


TASK_MODELS: Registry[TaskModel] = Registry("task model", __name__)


def task_model_names() -> list[str]:
    """Every registered task model, in report order: what ``appliance evaluate`` trains by default."""
    return [name for name, m in sorted(TASK_MODELS.items(), key=lambda item: (item[1].rank, item[0]))]
