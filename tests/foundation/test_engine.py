"""The engine on the real embedded model: stop strings, token limits, log-likelihood, batched generation."""

from __future__ import annotations

import random

import pytest

from appliance.engine.interface import SamplingParams

pytestmark = pytest.mark.model


def test_stop_strings_end_the_text(smol) -> None:
    prompt = smol.format_prompt("List three fruits, one per line.")
    c = smol.complete(prompt, SamplingParams(temperature=0, max_new_tokens=60, stop=("\n",)))
    assert c.finish_reason == "stop" and c.stop_string == "\n"
    assert "\n" not in c.text
    assert c.raw_text.endswith("\n")


def test_max_and_min_new_tokens(smol) -> None:
    prompt = smol.format_prompt("Tell me a long story about a lighthouse.")
    c = smol.complete(prompt, SamplingParams(temperature=0, max_new_tokens=7))
    assert c.n_tokens == 7 and c.finish_reason == "length"
    # min_new_tokens masks end-of-generation: "Say OK." would end at once otherwise
    short = smol.format_prompt("Reply with just OK.")
    c = smol.complete(short, SamplingParams(temperature=0, min_new_tokens=12, max_new_tokens=12))
    assert c.n_tokens == 12


def test_greedy_continuation_scores_higher_than_shuffled(smol) -> None:
    prompt = smol.format_prompt("Describe the ocean in one sentence.")
    greedy = smol.complete(prompt, SamplingParams(temperature=0, max_new_tokens=16)).text
    words = greedy.split()
    assert len(words) >= 5
    shuffled = words[:]
    random.Random(0).shuffle(shuffled)
    if shuffled == words:
        shuffled = words[::-1]
    assert smol.loglik(prompt, greedy) > smol.loglik(prompt, " ".join(shuffled))


def test_batch_returns_distinct_samples(smol) -> None:
    prompt = smol.format_prompt("Write a sentence about a cat.")
    outs = smol.generate([prompt] * 8, SamplingParams(temperature=1.0, top_p=0.9, max_new_tokens=24, seed=3))
    assert len(outs) == 8
    assert len({o.text for o in outs}) >= 7
    assert all(o.n_tokens > 0 for o in outs)


def test_batched_greedy_matches_single_sequence(smol) -> None:
    prompts = [smol.format_prompt(q) for q in ("Name a color.", "What is two plus two?", "Say hello to Ana.", "Name a color.")]
    p = SamplingParams(temperature=0, max_new_tokens=12)
    batched = [c.text for c in smol.generate(prompts, p)]
    single = [smol.complete(q, p).text for q in prompts]
    assert batched == single


def test_same_seed_same_output_regardless_of_batch(smol) -> None:
    prompt = smol.format_prompt("Write a sentence about rain.")
    p = SamplingParams(temperature=1.0, top_p=0.9, max_new_tokens=16, seed=11)
    alone = smol.generate([prompt], p)[0].text
    in_batch = smol.generate([prompt, smol.format_prompt("Other prompt.")], p)[0].text
    assert alone == in_batch


def test_text_longer_than_a_slot_is_a_user_error(smol) -> None:
    from appliance.errors import UserError

    with pytest.raises(UserError, match="too long to score"):
        smol.loglik("Rate this:", " word" * (smol.ctx_per_seq + 10))


def test_shared_prompt_prefixes_are_evaluated_once_without_changing_outputs(smol) -> None:
    """Prompts that start alike (chat template, instruction) share the cached prefix: a new prompt copies it from
    a running sequence or from another new prompt and evaluates only the rest. Each output is unchanged."""
    from appliance.engine.decoding import SHARE_MIN_TOKENS

    topics = ["rain", "snow", "wind", "fog", "a cat", "a ship", "bread", "tea", "a bridge", "an owl"]
    lead = "You are writing short example sentences for a reading class; keep them simple and friendly."
    prompts = [smol.format_prompt(f"{lead} Write one sentence about {t}.") for t in topics * 2]  # > the 16 slots
    p = SamplingParams(temperature=1.0, top_p=0.9, max_new_tokens=10, seed=5)
    before = smol.stats.prefilled
    together = smol.generate(prompts, p)
    prefilled = smol.stats.prefilled - before
    lengths = [len(smol.tokenize(q, add_special=True)) - 1 for q in prompts]  # prompt tokens ahead of sampling
    assert lengths[0] > 2 * SHARE_MIN_TOKENS
    assert prefilled <= lengths[0] + sum(n - SHARE_MIN_TOKENS for n in lengths[1:])
    alone = [smol.complete(q, SamplingParams(**{**p.__dict__, "seed": 5 + i})) for i, q in enumerate(prompts)]
    assert [(c.text, c.n_tokens) for c in together] == [(c.text, c.n_tokens) for c in alone]
