"""Canary exposure (Carlini et al., "The Secret Sharer", 2019): how far a model singles out a planted secret.

Score the canary's sentence with its true secret and with ``candidates`` random secrets of the same format; the
exposure is log2(candidates + 1) − log2(rank of the true secret). 0 means the model finds the true secret no likelier
than chance; the maximum, log2(candidates + 1), means it ranks first — it has memorized it. Measured under the
base model and under base + adapter, the difference is what the adapter learned about that one record.
"""

from __future__ import annotations

import math
from typing import Callable

from appliance.guard.canaries import canary_text, new_secret


def exposure(loglik: Callable[[str], float], secret: str, candidates: int = 500) -> dict[str, float]:
    """Exposure of ``secret`` under a model given as ``loglik(text)`` (higher = likelier)."""
    pool: set[str] = set()
    while len(pool) < candidates:
        s = new_secret()
        if s != secret:
            pool.add(s)
    true_score = loglik(canary_text(secret))
    rank = 1 + sum(1 for s in pool if loglik(canary_text(s)) > true_score)
    return {"rank": rank, "candidates": candidates, "exposure": math.log2(candidates + 1) - math.log2(rank),
            "max_exposure": math.log2(candidates + 1)}
