"""The engine's batched scorer (each prefix once, continuations as branches) against the per-pair ``loglik``.

llama.cpp's numbers depend slightly on how a sequence is cut into micro-batches (a sequence decoded in one piece
and one split across two differ by up to about 0.2 nats on a 300-token prompt, with the old scorer as with the
new). Short prompts keep every sequence in one piece, so there the two paths must agree to float rounding.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from appliance.errors import UserError
from appliance.quality import prompting
from appliance.quality.scoring import score_continuations
from tests.conftest import TASKS

pytestmark = pytest.mark.model

PROMPTS = ["The film was wonderful. It was", "Question: is the sky blue?\nAnswer:", "Weather today:",
           "A long preamble that goes on for a while about nothing in particular, with many words in it, so that "
           "the prefix is long enough to be copied to the branches instead of being evaluated again. Verdict:"]
# single-token words, a two-token word, and continuations whose tails share a branch
CONTS = [" great", " terrible", " gynecologic", " yes it is", " yes it is not", " yes"]


def _per_pair(model, prompts, conts) -> np.ndarray:
    return np.array([[model.loglik(p, c) for c in conts] for p in prompts])


def test_branches_equal_per_pair_loglik(smol) -> None:
    got = score_continuations(smol, PROMPTS, CONTS)
    assert got == pytest.approx(_per_pair(smol, PROMPTS, CONTS), abs=1e-3)


def test_more_branches_than_sequence_slots(smol) -> None:
    conts = [f" item {i} of the list" for i in range(smol.max_parallel + 5)]  # every tail is its own branch
    got = score_continuations(smol, PROMPTS[:2], conts)
    assert got == pytest.approx(_per_pair(smol, PROMPTS[:2], conts), abs=1e-3)


def test_progress_counts_every_pair(smol) -> None:
    seen: list[int] = []
    score_continuations(smol, PROMPTS, CONTS, progress=seen.append)
    assert sum(seen) == len(PROMPTS) * len(CONTS) and len(seen) >= 1


def test_real_texts_match_the_per_pair_scores(smol) -> None:
    """Old (per text and label word) against new on clinical notes cut to the judge's window, within the
    micro-batch noise; the predicted label is the same."""
    from appliance.spec import load_task

    task = load_task(TASKS / "medical_specialty.toml")
    data = Path(__file__).resolve().parents[3] / "shared" / "data" / "mtsamples" / "test.csv"
    if data.is_file():
        csv.field_size_limit(1 << 24)
        with data.open(encoding="utf-8") as f:
            texts = [r["text"] for _, r in zip(range(3), csv.DictReader(f))]
    else:
        texts = ["CHIEF COMPLAINT: Chest pain and shortness of breath. HISTORY: The patient has coronary artery "
                 "disease and atrial fibrillation; echocardiogram shows reduced ejection fraction. " * 6]
    conts, _ = prompting._verbalizer_index(task)
    limit = min(prompting.MAX_TEXT_TOKENS + 96, smol.ctx_per_seq - 3)
    prompts = [smol.detokenize(smol.tokenize(prompting.judge_prompt(smol, task, t), add_special=True)[-limit:])
               for t in texts]
    new = score_continuations(smol, prompts, conts, max_prompt_tokens=limit)
    old = _per_pair(smol, prompts, conts)
    assert np.abs(new - old).max() < 0.5
    assert (new.argmax(axis=1) == old.argmax(axis=1)).all()


def test_a_text_too_long_for_a_slot_is_refused(smol) -> None:
    ptoks = smol.tokenize("word " * 10, add_special=True)
    with pytest.raises(UserError, match="too long"):
        smol.score_tokens([(ptoks, [smol.tokenize(" x" * (smol.ctx_per_seq + 5))])])
