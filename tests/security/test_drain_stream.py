"""A whole round of prompts streamed to the engine (issue 16): the committed batches must not depend on how the
engine is fed, and a job that stops mid-stream (cancelled, killed gate, full disk) must leave the model usable."""

from __future__ import annotations

from typing import Iterator

import pytest

from appliance.engine.interface import Completion, SamplingParams
from appliance.generate.base import Method, Run
from appliance.spec import load_task
from tests.methods.method_helpers import TASKS


class _BatchModel:
    """A model without streaming: one ``generate`` per batch; its text names the prompt and the seed it drew."""

    instruct = False

    def generate(self, prompts, params, on_token=None):  # noqa: ANN001 (the TextModel protocol's signature)
        return [Completion(f"{p}@{params.seed + i}", 1, "stop") for i, p in enumerate(prompts)]


class _StreamModel(_BatchModel):
    """The same texts, streamed in the worst order for a caller: last prompt first."""

    def generate_stream(self, prompts, params) -> Iterator[tuple[int, Completion]]:  # noqa: ANN001
        for i in reversed(range(len(prompts))):
            yield i, Completion(f"{prompts[i]}@{params.seed + i}", 1, "stop")


def _run(model) -> Run:  # noqa: ANN001
    return Run(Method(), model, load_task(TASKS / "sst2_sentiment.toml"), 4, 0, None)


def test_streamed_and_batched_chunks_are_the_same() -> None:
    prompts = [f"p{i}" for i in range(10)]
    params = SamplingParams(seed=100)
    batched = [[c.text for c in chunk] for chunk in _run(_BatchModel()).complete_chunks(prompts, params, 4)]
    streamed = [[c.text for c in chunk] for chunk in _run(_StreamModel()).complete_chunks(prompts, params, 4)]
    assert batched == streamed == [[f"p{i}@{100 + i}" for i in range(s, min(10, s + 4))] for s in (0, 4, 8)]


@pytest.mark.model
def test_a_stream_abandoned_mid_round_releases_the_model(smol) -> None:
    prompts = [smol.format_prompt(f"Name an animal that starts with {ch}.") for ch in "ABCDEFGHIJKLMNOPQRST"]
    params = SamplingParams(temperature=1.0, top_p=0.9, max_new_tokens=6, seed=9)
    first: list[Completion] = []

    def job() -> None:  # the job's loop: commits each chunk, and its consumer fails after the first
        for chunk in _run(smol).complete_chunks(prompts, params, 4):
            if first:
                raise RuntimeError("cancelled")
            first.extend(chunk)

    with pytest.raises(RuntimeError, match="cancelled"):
        job()
    assert smol._lock.acquire(timeout=10), "the abandoned stream still holds the model"
    smol._lock.release()
    again = smol.generate(prompts[:4], params)
    assert [c.text for c in again] == [c.text for c in first]
