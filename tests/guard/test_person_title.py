"""Names the small NER model misses or mislabels, found from what it did find in the same record, and titles."""

from __future__ import annotations

import pytest

PEOPLE = [
    ("The film was directed by Tomasz Wierzbicki and starring Wierzbicki himself.", ["Wierzbicki"]),
    ("Her sons are Olusegun, Kwame, Tendai and Babajide.", ["Olusegun", "Kwame", "Tendai", "Babajide"]),
    ("Amara: Where were you?\nJonathan: At the clinic with Amara.", ["Amara", "Jonathan"]),
    ("Ingrid Solberg\n47 Harbour Road\nTromsø", ["Ingrid Solberg"]),
    ("I'm Farida's sister.", ["Farida"]),
    ("Please add my son Kwame to the policy.", ["Kwame"]),
    ("What's your surname? Okonkwo", ["Okonkwo"]),
]


@pytest.mark.parametrize("text,names", PEOPLE, ids=[t[:30] for t, _ in PEOPLE])
def test_names_from_record_context(scanner, text: str, names: list[str]) -> None:
    spans = [(f.start, f.end) for f in scanner.scan([text])[0] if f.entity == "PERSON"]
    for name in names:
        for i in [i for i in range(len(text)) if text.startswith(name, i)]:
            assert any(s <= i and i + len(name) <= e for s, e in spans), (name, i, [text[s:e] for s, e in spans])


def test_titles(scanner) -> None:
    text = "Mrs. Adeyemi worked at the county hospital as a radiology technician, until 2019."
    found = {text[f.start:f.end] for f in scanner.scan([text])[0] if f.entity == "TITLE"}
    assert "Mrs." in found and "radiology technician" in found, found


@pytest.mark.parametrize("text", [
    "Assessment: stable angina.\nPlan: continue metoprolol, recheck lipids in 3 months.",
    "Pain 4/10 after surgery; Tylenol, Motrin and Ice as needed.",
    "My daughter Has a fever since Monday.",
])
def test_clinical_headings_and_drug_lists_are_not_people(scanner, text: str) -> None:
    assert not [text[f.start:f.end] for f in scanner.scan([text])[0] if f.entity == "PERSON"]
