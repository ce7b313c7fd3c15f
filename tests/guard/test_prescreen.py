"""The scanner's pre-screen (number-shaped identifiers are not looked for in a text without a digit) never drops a
finding that the full path makes: same findings with and without it, on the presidio-research sentences and on
clinical sentences, and on texts written here to poke at its edge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
OWN = [
    "Seen at the corner of Elm Street and Main Street by Dr. Okafor.",
    "Write to her at jane.doe@example.org or visit example.org/contact.",
    "Mrs. Adeyemi worked as a midwife; her daughter Ana lives in Leeds.",
    "Phone: five five five, one two three four.",
    "IP fe80::abcd and ::ffff:abcd were blocked.",
]


def _sentences() -> list[str]:
    texts = list(OWN)
    pii = DATA / "presidio_synth_pii" / "synth_dataset_v2.jsonl"
    if pii.exists():
        texts += [json.loads(ln)["text"] for ln in pii.read_text(encoding="utf-8").splitlines()[:600] if ln.strip()]
    mts = DATA / "mtsamples" / "test.csv"
    if mts.exists():
        import sys

        sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
        from gate import sentences

        texts += sentences(300)
    return texts


def test_prescreen_finds_exactly_what_the_full_path_finds(scanner) -> None:
    texts = _sentences()
    if len(texts) == len(OWN):
        pytest.skip("shared data sets not present")
    try:
        scanner.prescreen = True
        fast = scanner.scan(texts)
        scanner.prescreen = False
        full = scanner.scan(texts)
    finally:
        scanner.prescreen = True
    diff = [(t, a, b) for t, a, b in zip(texts, fast, full) if a != b]
    assert not diff, diff[:3]
    assert sum(not any(c.isdigit() for c in t) for t in texts) > 100  # the pre-screen was actually exercised
