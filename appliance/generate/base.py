"""What every generation method looks like to the job runner.

A method turns a task spec into labelled records using a ``TextModel``. It yields records in small batches so the
job runner can pass each batch through the privacy gate and commit it to the vault as it goes (resumable jobs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, Protocol

from appliance.engine.interface import TextModel
from appliance.generate.records import GeneratedRecord
from appliance.spec import TaskSpec


@dataclass
class Progress:
    """Counts a method reports while it runs (for progress bars and ETA)."""

    accepted: int = 0
    target: int = 0
    tokens: int = 0
    dropped: dict[str, int] = field(default_factory=dict)

    def drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + n


ProgressFn = Callable[[Progress], None]


class Method(Protocol):
    name: str

    def run(
        self, model: TextModel, task: TaskSpec, n: int, *, seed: int = 0, progress: ProgressFn | None = None
    ) -> Iterator[list[GeneratedRecord]]: ...
