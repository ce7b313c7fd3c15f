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
    assert {"deepa", "kofi", "nikola", "chinedu"} <= given  # Faker's locales: names the 1990 census lists lack
    assert not {"council", "floor", "among"} & given  # Faker lists those too, but an English word says nothing


def test_departments_and_devices_are_not_name_words() -> None:
    """What turns a name-shaped 'organisation' from the model into a person (person._name_words)."""
    from appliance.guard.recognizers.person import _name_words

    assert not any(_name_words(s) for s in ["Thoracic Surgery", "Nursing Home", "Cell Saver", "Anesthesia Service"])
    assert all(_name_words(s) for s in ["Zoe Young", "Sigrid Nyström", "Faina D. Yefremova", "Craig Connor"])


class _ModelSaid:
    """A stand-in for the NER model's output (named as such): the model's mislabels depend on its weights, so the
    override rule is checked against a fixed one."""

    def __init__(self, text: str, span: str, label: str) -> None:
        from types import SimpleNamespace

        i = text.index(span)
        self.entities = [SimpleNamespace(start_char=i, end_char=i + len(span), label_=label, text=span)]


@pytest.mark.parametrize("text,span,label", [
    ("Rafael brought in by his father for ear pain.", "Rafael", "LOC"),
    ("Rafael brought in by his father for ear pain.", "Rafael", "ORG"),
    ("Sigrid Bergqvist is a 28-year-old woman.", "Sigrid Bergqvist", "GPE"),
])
def test_a_listed_given_name_wins_over_the_models_place_or_organisation(text: str, span: str, label: str) -> None:
    from appliance.guard.recognizers.names import CensusNameRecognizer

    got = CensusNameRecognizer().analyze(text, ["PERSON"], _ModelSaid(text, span, label))
    assert [(text[r.start:r.end], r.score) for r in got] == [(span, CensusNameRecognizer.OVER_MODEL)]


def test_places_that_are_given_names_keep_the_models_label() -> None:
    """'Charlotte' is a WordNet noun (the city): the model's place label stands."""
    from appliance.guard.recognizers.names import CensusNameRecognizer

    text = "She moved here from Charlotte last spring."
    assert CensusNameRecognizer().analyze(text, ["PERSON"], _ModelSaid(text, "Charlotte", "GPE")) == []


def test_names_in_capitals() -> None:
    from appliance.guard.recognizers.names import CensusNameRecognizer

    text = "POD 1. MARIA GONZALEZ AMBULATING IN HALL, TOLERATING DIET."
    got = CensusNameRecognizer().analyze(text, ["PERSON"], None)
    assert [text[r.start:r.end] for r in got] == ["MARIA GONZALEZ"]
