"""The scanner's pre-screens (number-shaped identifiers are not looked for in a text without a digit, e-mail addresses
without an '@', URLs without a dot before a letter, IP addresses without a digit or colon; the address recognizer's
number-bearing street patterns without a digit) never drop a finding that the full path makes: same findings with
and without them, on the presidio-research sentences and on clinical sentences, and on texts written here to poke at
their edge."""

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
    "See www.example.com or mail ana@clinic.org, not the 2.5 mg note.",  # URL/e-mail gates: a dot before a letter, '@'
    "Ships: USNS Comfort; meet at the corner of Elm Street and Main Street.",  # addresses without a digit
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


def test_address_patterns_skipped_without_a_digit_cannot_match_there() -> None:
    from appliance.guard.recognizers.address import _CORES, _CORES_WITHOUT_DIGIT

    texts = [t for t in _sentences() if not any(c.isdigit() for c in t)]
    assert len(texts) > 100
    for name, rx in _CORES:
        if name not in _CORES_WITHOUT_DIGIT:
            assert not [m.group() for t in texts for m in rx.finditer(t)], name
