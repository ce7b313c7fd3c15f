"""Names recognised from the US Census given-name and surname lists (appliance/guard/recognizers/names.py)."""

from __future__ import annotations

import pytest

NAMES = [
    ("Please follow up with patricia desrosiers next week.", "patricia desrosiers"),  # lower case
    ("The award went to Zoe Young for her work.", "Zoe"),
    ("Maybe it's under Homero Portillo", "Homero Portillo"),  # unknown given name + listed surname
    ("Ask Sigrid Nyström about the invoice.", "Sigrid Nyström"),  # listed given name + unknown surname
]


@pytest.mark.parametrize("text,name", NAMES, ids=[n for _, n in NAMES])
def test_census_names_found(scanner, text: str, name: str) -> None:
    spans = [(f.start, f.end) for f in scanner.scan([text])[0] if f.entity == "PERSON"]
    i = text.index(name)
    assert any(s <= i and i + len(name) <= e for s, e in spans), [text[s:e] for s, e in spans]


@pytest.mark.parametrize("text", [
    "Will Young voters turn out?",
    "I hope the lane is white and brown.",
    "may we will hope to see grace in the lane",
    "Princess Royal Street is closed.",
])
def test_english_words_that_are_also_names_are_not_people(scanner, text: str) -> None:
    assert not [text[f.start:f.end] for f in scanner.scan([text])[0] if f.entity == "PERSON"]


def test_census_lists_load() -> None:
    from appliance.guard.recognizers.names import census, english

    given, surnames = census()
    common, nouns = english()
    assert {"mary", "james"} <= given and {"smith", "nguyen"} <= surnames
    assert {"will", "white", "young"} <= common and "lane" not in common


def test_departments_and_devices_are_not_name_words() -> None:
    """What turns a name-shaped 'organisation' from the model into a person (person._name_words)."""
    from appliance.guard.recognizers.person import _name_words

    assert not any(_name_words(s) for s in ["Thoracic Surgery", "Nursing Home", "Cell Saver", "Anesthesia Service"])
    assert all(_name_words(s) for s in ["Zoe Young", "Sigrid Nyström", "Faina D. Yefremova", "Craig Connor"])
