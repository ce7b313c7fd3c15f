"""Progress off a terminal (a log file, a pipe, a scheduler): plain lines while a job runs, not only at the end."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from appliance.cli import progress as progress_module
from appliance.cli.progress import StepProgress
from tests.cli.cli_helpers import JobCli

REPO = Path(__file__).resolve().parents[2]


class Clock:
    """time.monotonic for the renderer, moved by hand: the test says when "five seconds" have passed."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(progress_module.time, "monotonic", c)
    return c


def _plain_console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=False, width=200), out


def test_a_step_that_reports_nothing_still_prints_a_line_every_interval(clock: Clock) -> None:
    console, out = _plain_console()
    with StepProgress(console, interval=5.0) as view:
        view("loading the scoring model")  # announced, never counted
        view.tick()
        assert out.getvalue().count("loading the scoring model") == 1  # nothing new before the interval
        clock.now += 5.0
        view.tick()
        clock.now += 5.0
        view.tick()
        view("training task models", 1, 4)
        clock.now += 6.0
        view.tick()
    lines = out.getvalue().splitlines()
    assert [ln for ln in lines if "loading the scoring model" in ln] == [
        "· loading the scoring model · 0 s", "· loading the scoring model · 5 s", "· loading the scoring model · 10 s"]
    assert "· training task models 1/4 · 6 s" in lines
    assert view._heartbeat is not None and not view._heartbeat.is_alive()  # stopped with the job


def test_on_a_terminal_no_heartbeat_thread_is_started() -> None:
    console = Console(file=io.StringIO(), force_terminal=True)
    with StepProgress(console) as view:
        view("step", 1, 2)
    assert view._heartbeat is None


def test_export_through_a_pipe_prints_progress_before_its_result(job_cli: JobCli) -> None:
    """A real export in a fresh process whose standard output is a pipe (as under a scheduler)."""
    job = str(job_cli.job)
    assert job_cli.run("alice", "export", "request", job)[0] == 0
    assert job_cli.run("rita", "export", "approve", "1", "--reason", "checked")[0] == 0
    out_dir = job_cli.home.parent / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-m", "appliance", *job_cli.auth("alice"), "export", "write", "1",
                        "--format", "jsonl", "--to", str(out_dir)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    first_progress = next(i for i, ln in enumerate(lines) if ln.startswith("· export gate"))
    result = next(i for i, ln in enumerate(lines) if ln.startswith("wrote "))
    assert first_progress < result, r.stdout
    assert any(ln.startswith("· export gate: checking records") for ln in lines), r.stdout
    assert "\x1b" not in r.stdout  # plain lines, no terminal control
