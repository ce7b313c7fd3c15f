"""Attack on the sampler's chunked running sum (``first_above``): it claims to answer exactly what
``np.searchsorted(np.cumsum(row), t, side="right")`` does. Rows a broken model or an edited GGUF can produce (NaN,
inf, all zeros, a long tail of zeros), targets at every edge (a tie with a partial sum, zero, negative, beyond the
total, NaN, inf), every vocabulary width around the chunk bounds, a one-row batch and repeated rows: the answers
must be the same, index for index. A NaN after the crossing used to send the draw to the row's end."""

from __future__ import annotations

import numpy as np
import pytest

from appliance.engine.interface import SamplingParams
from appliance.engine.sampling import _CHUNKS, BatchSampler, first_above

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # overflow and NaN are the point here


def _reference(x: np.ndarray, rows: np.ndarray, targets: np.ndarray) -> list[int]:
    return [int(np.searchsorted(np.cumsum(x[r]), t, side="right")) for r, t in zip(rows, targets)]


def _hostile_rows(width: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.random((8, width)).astype(np.float32)
    x[1] = 0.0  # a row with no mass at all
    x[2, width // 2 :] = 0.0  # a tail that adds nothing
    x[3, rng.integers(width)] = np.nan  # a NaN somewhere (before or after the crossing)
    x[4, rng.integers(width)] = np.inf
    x[5, : max(1, width // 3)] = 0.0  # mass only late in the row
    x[6, -1] = np.nan  # NaN in the very last column
    x[7] *= np.float32(3e37)  # a running sum that overflows to inf
    return x


@pytest.mark.parametrize("width", [1, 7, _CHUNKS[0] - 1, _CHUNKS[0], _CHUNKS[0] + 1, _CHUNKS[1] + 3, _CHUNKS[2] + 5])
def test_hostile_rows_and_targets_give_the_full_cumsum_answer(width: int) -> None:
    rng = np.random.default_rng(width)
    x = _hostile_rows(width, rng)
    totals = np.cumsum(x, axis=1)
    rows, targets = [], []
    for r in range(len(x)):
        exact = totals[r, rng.integers(width)]  # a tie with a partial sum: side="right" steps past it
        for t in (0.0, -1.0, exact, np.nextafter(exact, np.float32(-np.inf)), totals[r, -1], totals[r, -1] * 2 + 1,
                  np.nan, np.inf, -np.inf, rng.random() * (totals[r, -1] if np.isfinite(totals[r, -1]) else 1.0)):
            rows.append(r)
            targets.append(t)
    rows_a = np.asarray(rows)
    for dtype in (np.float32, np.float64):  # the sampler's targets are float64 draws times a float32 total
        t = np.asarray(targets, dtype=dtype)
        assert first_above(x, rows_a, t).tolist() == _reference(x, rows_a, t)


def test_one_row_batch_repeated_rows_and_an_empty_vocabulary() -> None:
    x = np.exp(np.random.default_rng(1).standard_normal((1, 5000)).astype(np.float32))
    t = np.array([float(np.cumsum(x[0])[4095])])
    assert first_above(x, np.array([0]), t).tolist() == _reference(x, np.array([0]), t) == [4096]
    rows = np.zeros(5, dtype=np.int64)
    ts = np.array([0.0, 1.0, 10.0, 1e9, np.nan])
    assert first_above(x, rows, ts).tolist() == _reference(x, rows, ts)
    empty = np.zeros((2, 0), dtype=np.float32)
    assert first_above(empty, np.array([0, 1]), np.array([0.0, 1.0])).tolist() == [0, 0]
    assert first_above(x, np.array([], dtype=np.int64), np.array([])).tolist() == []


def test_sampler_on_degenerate_logits_stays_in_the_vocabulary() -> None:
    """NaN, +inf and all -inf logits (what a corrupt model file can emit): every token drawn is a real token id."""
    logits = np.zeros((4, 3000), dtype=np.float32)
    logits[0, 17] = np.nan
    logits[1, 2999] = np.inf
    logits[2, :] = -np.inf
    logits[3, 2500:] = 50.0
    s = BatchSampler(SamplingParams(temperature=1.0, top_p=0.9, seed=3), [0, 1, 2, 3], [])
    tokens, _ = s.sample(logits, [0, 1, 2, 3], 0)
    assert all(0 <= t < 3000 for t in tokens.tolist())
    assert tokens[3] >= 2500
