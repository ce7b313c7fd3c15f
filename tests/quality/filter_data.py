"""A small synthetic sentiment set in which some labels are flipped on purpose (the planted mislabelled records), for
the label-filter tests. A module of its own, imported by a unique name."""

from __future__ import annotations

import random

POSITIVE = "wonderful superb moving brilliant delightful charming gripping".split()
NEGATIVE = "dreadful boring clumsy tedious awful lifeless dull".split()
FLIPPED = (3, 10, 24, 41, 77)


def planted_set(n: int = 100, seed: int = 0) -> tuple[list[str], list[str], list[int]]:
    """(texts, labels, indices of the flipped ones): distinct texts, even rows positive, odd rows negative, then
    FLIPPED swapped."""
    rng = random.Random(seed)
    texts: list[str] = []
    labels = []
    for i in range(n):
        lab = "positive" if i % 2 == 0 else "negative"
        words = POSITIVE if lab == "positive" else NEGATIVE
        text = ""
        while not text or text in texts:  # every text once, so a record is known by its text
            text = f"the film was {rng.choice(words)} and {rng.choice(words)} with a {rng.choice(words)} ending"
        texts.append(text)
        labels.append(lab)
    flipped = [i for i in FLIPPED if i < n]
    for i in flipped:
        labels[i] = "negative" if labels[i] == "positive" else "positive"
    return texts, labels, flipped
