"""The shared thread budget: model-heavy processes of one user split the cores instead of each taking all of them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.engine import threads

HOLDER = """
import contextlib, sys
from appliance.engine.threads import ThreadBudget
b = ThreadBudget()
with b.busy() if sys.argv[1] == "decoding" else contextlib.nullcontext():  # as a model holds it around its decodes
    print("ready", flush=True)
    sys.stdin.readline()
b.close()
"""


@pytest.fixture()
def budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "budget"
    monkeypatch.setenv(threads.BUDGET_DIR_ENV, str(d))
    monkeypatch.delenv("APPLIANCE_THREADS", raising=False)
    return d


def _holder(budget: Path, state: str = "decoding") -> subprocess.Popen:
    """Another process with a model loaded: ``decoding``, or ``idle`` (loaded, waiting)."""
    env = {**os.environ, threads.BUDGET_DIR_ENV: str(budget), "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    p = subprocess.Popen([sys.executable, "-c", HOLDER, state], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                         env=env)
    assert p.stdout.readline().strip() == "ready"
    return p


def test_a_second_process_halves_the_share_and_its_end_gives_it_back(budget: Path, monkeypatch) -> None:
    monkeypatch.setattr(threads, "REFRESH_S", 0.0)
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    monkeypatch.setattr(threads, "free_cores", lambda: 4)
    mine = threads.ThreadBudget()
    try:
        assert mine.share() == 4
        other = _holder(budget)
        try:
            assert mine.share() == 2 and mine.poll() == 2 and mine.threads == 2
        finally:
            other.communicate("\n", timeout=30)
        assert mine.poll() == 4
    finally:
        mine.close()
    assert not list(budget.glob("*.lease"))


def test_an_idle_loaded_model_takes_no_share_and_a_decoding_one_does(budget: Path, monkeypatch) -> None:
    """The TUI with a model open, or a job's scorer waiting, must not halve a running job's threads."""
    monkeypatch.setattr(threads, "REFRESH_S", 0.0)
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    monkeypatch.setattr(threads, "free_cores", lambda: 4)
    mine = threads.ThreadBudget()
    idle = _holder(budget, "idle")
    try:
        with mine.busy():
            assert mine.share() == 4 and mine.poll() is None and mine.threads == 4  # the whole budget
            decoding = _holder(budget, "decoding")
            try:
                assert mine.share() == 2 and mine.poll() == 2  # both decoding: split
            finally:
                decoding.communicate("\n", timeout=30)
            assert mine.poll() == 4
        assert len(list(budget.glob("*.lease"))) == 2  # the idle one still holds its lease
    finally:
        idle.communicate("\n", timeout=30)
        mine.close()
    assert not list(budget.glob("*.lease")) and not list(budget.glob("*.busy"))


def test_a_model_starting_to_decode_rereads_its_share(budget: Path, monkeypatch) -> None:
    """A model loaded while another process decoded starts at the split share; once that process has stopped, its
    own first decode takes the whole budget without waiting for the next refresh."""
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    monkeypatch.setattr(threads, "free_cores", lambda: 4)
    other = _holder(budget, "decoding")
    try:
        mine = threads.ThreadBudget()
        assert mine.threads == 2
    finally:
        other.communicate("\n", timeout=30)
    try:
        assert mine.poll() is None  # idle and within REFRESH_S: nothing re-read
        with mine.busy():
            assert mine.poll() == 4
    finally:
        mine.close()


def test_a_killed_process_leaves_no_claim(budget: Path, monkeypatch) -> None:
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    other = _holder(budget)
    other.kill()
    other.wait(timeout=30)
    assert len(list(budget.glob("*.lease"))) == 1  # its file is still there, but nobody holds its lock
    mine = threads.ThreadBudget()
    try:
        assert mine.share() == 4
        assert len(list(budget.glob("*.lease"))) == 1  # only ours
        assert len(list(budget.glob("*.busy"))) == 1  # the dead one's busy file went with its lease
    finally:
        mine.close()


def test_an_explicit_thread_count_is_kept(budget: Path, monkeypatch) -> None:
    monkeypatch.setattr(threads, "REFRESH_S", 0.0)
    mine = threads.ThreadBudget(3)
    other = _holder(budget)
    try:
        assert mine.threads == 3 and mine.poll() is None
    finally:
        other.communicate("\n", timeout=30)
        mine.close()


GENERATOR = """
import sys
from pathlib import Path
from appliance.engine.interface import SamplingParams
from appliance.engine.loader import load_model
from appliance.engine import threads
threads.REFRESH_S = 0.0  # follow the share at every decode, so the test sees it move
m = load_model(Path(sys.argv[1]), None, max_parallel=4, ctx_per_seq=128).model
print("loaded", flush=True)
sys.stdin.readline()  # both processes hold their lease before either generates
steps = []
outs = m.generate([m.format_prompt("Name a fruit.")] * 4, SamplingParams(max_new_tokens=12, seed=1),
                  on_token=lambda n: (steps.append(n), print("step", m.n_threads, flush=True)))
print("done", sum(o.n_tokens for o in outs), flush=True)
m.close()
"""


@pytest.mark.model
def test_two_generations_started_together_both_progress(smol, model_home: Path, budget: Path) -> None:
    """Two model-heavy processes at once on the shipped model: each runs at its share of the cores (not every
    core each), both make progress and both finish. No timing bound but the timeout."""
    env = {k: v for k, v in os.environ.items() if k != "APPLIANCE_THREADS"}
    env.update({threads.BUDGET_DIR_ENV: str(budget), "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    procs = [subprocess.Popen([sys.executable, "-c", GENERATOR, str(model_home)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "loaded", p.stderr.read()
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        outs = [p.communicate(timeout=600) for p in procs]
    finally:
        for p in procs:
            p.kill()
    all_steps = []
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        words = out.split()
        steps = [int(words[i + 1]) for i, w in enumerate(words) if w == "step"]
        assert len(steps) >= 2  # it made progress, step by step
        assert "done" in words and int(words[words.index("done") + 1]) > 0
        all_steps += steps
    # While both decoded, they ran on their shares, not on every core each.
    assert min(all_steps) == max(1, threads.usable_cores() // 2)
    assert not list(budget.glob("*.lease"))


@pytest.mark.parametrize("requested, env", [(0, ""), (-3, ""), (threads.MAX_THREADS + 1, ""), (None, "abc"),
                                            (None, "0"), (None, "99999")])
def test_a_thread_count_out_of_range_is_refused_not_replaced(monkeypatch, requested, env) -> None:
    from appliance.errors import BadInput

    monkeypatch.setenv("APPLIANCE_THREADS", env)
    with pytest.raises(BadInput, match="from 1 to"):
        threads.explicit_threads(requested)


def test_a_thread_count_in_range_is_kept(monkeypatch) -> None:
    monkeypatch.setenv("APPLIANCE_THREADS", "3")
    assert threads.explicit_threads(2) == 2
    assert threads.explicit_threads(None) == 3
    monkeypatch.setenv("APPLIANCE_THREADS", " ")
    assert threads.explicit_threads(None) is None


@pytest.mark.parametrize("env", ["0", "abc", "99999"])
def test_torch_threads_refuse_the_same_bad_counts(monkeypatch, env) -> None:
    """The embedder, the task models and SunGen read the same setting as llama.cpp, with the same check (they used
    to skip it and replace a bad value by half the cores)."""
    from appliance.errors import BadInput
    from appliance.quality import embed

    monkeypatch.setenv("APPLIANCE_THREADS", env)
    with pytest.raises(BadInput, match="APPLIANCE_THREADS must be"):
        embed._threads()
    monkeypatch.setenv("APPLIANCE_THREADS", "3")
    assert embed._threads() == 3
