"""The memorization checker's detection rates on real sentences (movie-review snippets, shared/data/rt_polarity):
planted verbatim copies of ≥ 8 seed tokens caught 100%, light paraphrases (a few words swapped) caught ≥ 95% by
near-duplicate detection, unrelated records flagged < 1%."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from appliance.guard.memorization import MemorizationIndex, tokenize

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "rt_polarity" / "train.tsv"
FILLER = "the patient was seen today and we talked about plans for next week before lunch".split()


@pytest.fixture(scope="module")
def corpus() -> tuple[list[str], list[str]]:
    if not DATA.exists():
        pytest.skip(f"{DATA} not found")
    lines = [ln.split("\t")[0] for ln in DATA.read_text(encoding="utf-8").splitlines()[1:]]
    lines = sorted({ln for ln in lines if 14 <= len(ln.split()) <= 60})
    random.Random(7).shuffle(lines)
    return lines[:1500], lines[1500:3000]


@pytest.fixture(scope="module")
def index(corpus) -> MemorizationIndex:
    seeds, _ = corpus
    return MemorizationIndex(enumerate(seeds, start=1000), ngram=8, shingle=2, jaccard=0.35)


def test_verbatim_copies_of_8_or_more_tokens_are_all_caught(corpus, index) -> None:
    seeds, others = corpus
    rng = random.Random(1)
    caught = 0
    for i in range(500):
        k = rng.randrange(len(seeds))
        toks = tokenize(seeds[k])
        n = rng.randint(8, min(14, len(toks)))
        a = rng.randrange(len(toks) - n + 1)
        copied = seeds[k][toks[a][1]:toks[a + n - 1][2]]
        host = others[i].split()
        cut = rng.randrange(len(host))
        text = " ".join(host[:cut] + [copied] + host[cut:])
        m = index.longest_run(text)
        assert m is not None and m.tokens >= n, (text, m)
        assert m.seed_id == 1000 + k or copied.lower() in seeds[m.seed_id - 1000].lower()
        caught += 1
    assert caught == 500


def test_light_paraphrases_are_near_duplicates(corpus, index) -> None:
    seeds, _ = corpus
    rng = random.Random(2)
    hits = 0
    trials = 400
    for k in range(trials):
        words = seeds[k].split()
        for _ in range(3):  # a few words swapped
            words[rng.randrange(len(words))] = rng.choice(FILLER)
        near = index.near_duplicate(" ".join(words))
        hits += near is not None and near.seed_id == 1000 + k
    assert hits / trials >= 0.95, hits / trials


def test_unrelated_records_are_not_flagged(corpus, index) -> None:
    _, others = corpus
    flagged = sum(1 for t in others if index.longest_run(t) is not None or index.near_duplicate(t) is not None)
    assert flagged / len(others) < 0.01, flagged


def test_reason_offsets_point_at_the_shared_span_not_the_seed_text() -> None:
    seed = "Right knee pain after a twisting injury playing soccer yesterday; heard a pop."
    ix = MemorizationIndex([(42, seed)], ngram=8)
    text = "Today: right knee pain after a twisting injury playing soccer yesterday, then rest."
    m = ix.longest_run(text)
    assert m is not None and m.seed_id == 42 and m.tokens == 10
    assert text[m.start:m.end].lower() == seed[m.seed_start:m.seed_end].lower().replace(";", ",")
    assert ix.longest_run("Right knee pain after a short walk.") is None  # 4 tokens: under the limit
