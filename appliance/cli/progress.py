"""The one progress renderer of the CLI: a rich bar per step on a terminal, a plain line every few seconds off one.

Long jobs report ``(step, done, total)`` (``appliance.progress``); generation adds a tokens/s figure. On a terminal
each step gets its own bar (count, elapsed, ETA). Off a terminal (a log file, a pipe, CI) a live bar cannot be
drawn, so a step prints one line when it starts, one every ``interval`` seconds while it runs and one when it ends.
The lines while it runs come from a heartbeat thread, so a step that reports nothing for minutes (a model loading, a
task model training) still prints its elapsed time every ``interval`` seconds to a log or a scheduler.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TaskID, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)


class StepProgress:
    """Renders progress reports; use as a context manager and call it as ``view(step, done, total, **fields)``.

    ``columns`` and ``fields`` add figures of the caller's own (generation: a tokens/s column and its field)."""

    def __init__(self, console: Console, *, interval: float = 5.0, columns: tuple[ProgressColumn, ...] = (),
                 fields: dict[str, Any] | None = None, plain: str = "") -> None:
        self.console, self.interval, self.fields = console, interval, dict(fields or {})
        self.plain = plain  # a format for the extra fields on plain lines, e.g. " · {tps:.0f} tok/s"
        self.live = console.is_terminal
        self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), *columns,
                             TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console,
                             transient=False) if self.live else None
        self._tasks: dict[str, TaskID] = {}
        self._current: tuple[str, int, int | None, float, dict[str, Any]] | None = None
        self._last_line = 0.0
        self._printed: tuple[str, int] | None = None
        self._lock = threading.Lock()  # the job's thread reports, the heartbeat thread repeats: one line at a time
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def __enter__(self) -> "StepProgress":
        if self._bar is not None:
            self._bar.__enter__()
        else:
            self._heartbeat = threading.Thread(target=self._beat, name="progress-heartbeat", daemon=True)
            self._heartbeat.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
            return
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
        with self._lock:
            self._end_plain_step()

    def _beat(self) -> None:
        while not self._stop.wait(min(1.0, self.interval)):
            self.tick()

    def tick(self) -> None:
        """Off a terminal: repeat the running step's line (count and elapsed time) when none was printed for
        ``interval`` seconds. The heartbeat thread calls it; a step that ended or was not started prints nothing."""
        with self._lock:
            cur, now = self._current, time.monotonic()
            if cur is None or cur[4].get("_ended") or now - self._last_line < self.interval:
                return
            self._line(cur[0], cur[1], cur[2], cur[4], cur[3], now)
            self._last_line = now

    def __call__(self, step: str, done: int = 0, total: int | None = None, **fields: Any) -> None:
        values = {**self.fields, **fields}
        if self._bar is None:
            with self._lock:
                self._plain(step, done, total, values)
            return
        if total is None and step not in self._tasks:  # a step announced, not counted: a line above the bars
            self._bar.console.print(f"[dim]· {step}[/]", soft_wrap=True)
            return
        if step not in self._tasks:
            self._tasks[step] = self._bar.add_task(step, total=total, **values)
        self._bar.update(self._tasks[step], completed=done, total=total, **values)

    def _plain(self, step: str, done: int, total: int | None, values: dict[str, Any]) -> None:
        now = time.monotonic()
        if self._current is None or self._current[0] != step:
            self._end_plain_step()
            self._current = (step, done, total, now, values)
            self._line(step, done, total, values, now, now)
            self._last_line = now
            return
        self._current = (step, done, total, self._current[3], values)
        if total is not None and done >= total or now - self._last_line >= self.interval:
            self._line(step, done, total, values, self._current[3], now)
            self._last_line = now
            if total is not None and done >= total:
                self._current = (step, done, total, self._current[3], {"_ended": True, **values})

    def _end_plain_step(self) -> None:
        cur = self._current
        if cur is not None and not cur[4].get("_ended") and cur[2] is not None and self._printed != (cur[0], cur[1]):
            self._line(cur[0], cur[1], cur[2], cur[4], cur[3], time.monotonic())
        self._current = None

    def _line(self, step: str, done: int, total: int | None, values: dict[str, Any], t0: float, now: float) -> None:
        self._printed = (step, done)
        count = f" {done}/{total}" if total is not None else ""
        extra = self.plain.format(**values) if self.plain and done else ""
        self.console.print(f"· {step}{count}{extra} · {now - t0:.0f} s", soft_wrap=True, highlight=False)
