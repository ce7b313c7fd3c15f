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


@pytest.mark.parametrize("text,names", [
    ("BP 182/104 for Dr. kowalski at 11:15, asymptomatic.", ["kowalski"]),
    ("Per Mrs. adeyemi okafor's request the refund was sent.", ["adeyemi okafor"]),
    ("Dr. on call was paged twice.", []),
    ("Dr. the patient is ready.", []),
])
def test_lower_case_names_after_an_honorific(text: str, names: list[str]) -> None:
    from appliance.guard.recognizers.person import TitledPersonRecognizer

    assert [text[r.start:r.end] for r in TitledPersonRecognizer().analyze(text, ["PERSON"])] == names


@pytest.mark.parametrize("text,names", [
    ("Her neighbor Tomasz checks in daily.", ["Tomasz"]),
    ("Seen with his wife, aigerim, who translated.", ["aigerim"]),
    ("The patient Denies chest pain.", []),
    ("her son said he was fine", []),
    ("The student Council met on Friday.", []),
])
def test_a_role_or_relation_before_a_name(text: str, names: list[str]) -> None:
    from appliance.guard.recognizers.person import PersonContextRecognizer

    assert [text[r.start:r.end] for r in PersonContextRecognizer().analyze(text, ["PERSON"], None)] == names


def test_an_age_set_off_by_commas_after_a_name(scanner) -> None:
    text = "New patient Maria Lopez, 34, from Pune needs a refill; Rosa Diaz, 93, follows."
    found = {(f.entity, text[f.start:f.end]) for f in scanner.scan([text])[0]}
    assert {("AGE", "34"), ("AGE_OVER_89", "93")} <= found, found
    dose = "Dosage for Tylenol, 500, twice daily."
    assert not [f for f in scanner.scan([dose])[0] if f.entity.startswith("AGE")]
