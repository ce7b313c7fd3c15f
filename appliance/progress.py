"""Progress of long steps, reported as plain calls that a front end renders (the CLI's bar or plain lines).

A long job calls ``report(step, done, total)``: ``step`` names what runs now ("naturalness: perplexity"), ``done``
counts what is finished of ``total`` (None: not counted). A bare ``report(step)`` just announces a step, so any
``Callable[[str], None]`` that prints a message is a valid reporter too.
"""

from __future__ import annotations

from typing import Callable, Protocol


class Report(Protocol):
    def __call__(self, step: str, done: int = 0, total: int | None = None) -> None: ...


def silent(step: str, done: int = 0, total: int | None = None) -> None:
    """A reporter that shows nothing."""


class StepCounter:
    """Counts one step's units and reports them; ``per`` units of the callee make one unit of the step (for example
    the scorer counts (text, label word) pairs and the step counts texts)."""

    def __init__(self, report: Report | None, step: str, total: int, per: int = 1) -> None:
        self.report, self.step, self.total, self.per = report or silent, step, total, max(1, per)
        self._units = 0
        self.report(step, 0, total)

    def __call__(self, n: int = 1) -> None:
        self._units += n
        self.report(self.step, min(self.total, self._units // self.per), self.total)


def counter(report: Report | None, step: str, total: int, per: int = 1) -> Callable[[int], None]:
    """A callback ``advance(n)`` for a step of ``total`` units (see ``StepCounter``)."""
    return StepCounter(report, step, total, per)
