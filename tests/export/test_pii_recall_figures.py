"""The recall an export manifest quotes (appliance/export/pii_recall.py) is what bench/pii_modes.py measures now:
a recognizer change that moves the figures fails here until the literal is updated."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_manifest_recall_matches_the_benchmark() -> None:
    sys.path.insert(0, str(BENCH))
    import pii_modes

    if not pii_modes.bench_pii.HELDOUT.exists():
        pytest.skip("held-out set missing")
    from appliance.export.pii_recall import RECALL

    measured = pii_modes.measure("heldout-test")
    measured.pop("sentences")
    assert measured == RECALL, "run `python bench/pii_modes.py` and paste its RECALL literal into pii_recall.py"
