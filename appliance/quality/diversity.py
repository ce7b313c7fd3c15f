"""Diversity of a synthetic dataset: Self-BLEU, distinct-n, vocabulary size, embedding similarity.

Words are lower-cased ``\\w+`` runs plus single punctuation marks. Self-BLEU (Zhu et al. 2018, Texygen): each text of
a fixed-size sample is scored with BLEU against all the other texts of the sample as references; the mean is
reported for n-gram orders 1-4 (BLEU-n: geometric mean of 1..n-gram precisions with brevity penalty), computed by
sacrebleu's sentence BLEU. Higher Self-BLEU means less diverse. Scores are on a 0-1 scale.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from typing import Sequence

import numpy as np

_WORD = re.compile(r"\w+|[^\w\s]")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct n-grams over all n-grams in the corpus (Li et al. 2016); 0.0 for a corpus with none."""
    grams: list[tuple[str, ...]] = []
    for t in texts:
        w = words(t)
        grams.extend(tuple(w[i : i + n]) for i in range(len(w) - n + 1))
    return len(set(grams)) / len(grams) if grams else 0.0


def vocabulary_size(texts: Sequence[str]) -> int:
    return len({w for t in texts for w in words(t)})


def self_bleu(texts: Sequence[str], max_n: int = 4, sample: int = 200, seed: int = 0) -> float:
    """Mean sentence BLEU-``max_n`` of each sampled text against the rest of the sample (0-1)."""
    from sacrebleu.metrics import BLEU

    texts = [t for t in texts if t.strip()]
    if len(texts) < 2:
        return 0.0
    if len(texts) > sample:
        texts = random.Random(seed).sample(list(texts), sample)
    bleu = BLEU(max_ngram_order=max_n, effective_order=True, lowercase=True)
    scores = [bleu.sentence_score(h, texts[:i] + texts[i + 1 :]).score for i, h in enumerate(texts)]
    return float(np.mean(scores)) / 100.0


def self_bleu_all(texts: Sequence[str], sample: int = 200, seed: int = 0) -> dict[str, float]:
    return {f"self_bleu_{n}": self_bleu(texts, n, sample, seed) for n in range(1, 5)}


def mean_pairwise_cosine(a: np.ndarray, b: np.ndarray | None = None) -> float:
    """Mean cosine similarity of rows of normalised embeddings: within ``a`` (pairs i != j) or between ``a`` and ``b``."""
    if b is None:
        n = len(a)
        if n < 2:
            return float("nan")
        s = a @ a.T
        return float((s.sum() - np.trace(s)) / (n * (n - 1)))
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    return float((a @ b.T).mean())


def embedding_similarity(emb: np.ndarray, labels: Sequence[str]) -> dict[str, object]:
    """Mean pairwise cosine within each label, across different labels, and over the whole set."""
    labels = list(labels)
    ids = sorted(set(labels))
    idx = {lab: np.array([i for i, x in enumerate(labels) if x == lab]) for lab in ids}
    within = {lab: mean_pairwise_cosine(emb[idx[lab]]) for lab in ids}
    pairs = [(a, b) for i, a in enumerate(ids) for b in ids[i + 1 :]]
    across_vals = [(mean_pairwise_cosine(emb[idx[a]], emb[idx[b]]), len(idx[a]) * len(idx[b])) for a, b in pairs]
    w_vals = [(within[lab], len(idx[lab]) * (len(idx[lab]) - 1)) for lab in ids if len(idx[lab]) > 1]

    def wmean(vals):
        tot = sum(w for _, w in vals)
        return float(sum(v * w for v, w in vals) / tot) if tot else float("nan")

    return {
        "within_label": wmean(w_vals),
        "across_labels": wmean(across_vals),
        "overall": mean_pairwise_cosine(emb),
        "within_per_label": within,
    }


def diversity_metrics(texts: Sequence[str], labels: Sequence[str], emb: np.ndarray | None = None, sample: int = 200, seed: int = 0) -> dict[str, object]:
    out: dict[str, object] = {
        "n": len(texts),
        "distinct_1": distinct_n(texts, 1),
        "distinct_2": distinct_n(texts, 2),
        "distinct_3": distinct_n(texts, 3),
        "vocabulary": vocabulary_size(texts),
        "self_bleu_sample": min(sample, len(texts)),
        **self_bleu_all(texts, sample, seed),
    }
    if emb is not None:
        out["embedding_cosine"] = embedding_similarity(emb, labels)
    return out


def length_words(texts: Sequence[str]) -> list[int]:
    return [len(t.split()) for t in texts]


def label_counts(labels: Sequence[str]) -> dict[str, int]:
    return dict(sorted(Counter(labels).items()))
