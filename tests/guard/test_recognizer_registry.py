"""The recognizers' one registry: entities, modules and pre-screens are derived from what each recognizer declares.

A policy that asks for STUDENT_GRADE without PERSON still runs the NER model where a name could be (the grade
recognizer reads the model's PERSON spans); a recognizer registered here, in the test, is a known entity the gate
finds, with the pre-screen its declaration implies, and is gone once unregistered."""

from __future__ import annotations

import pkgutil

import pytest

from appliance.errors import UserError
from appliance.guard.gate import ACCEPTED, QUARANTINED, Gate
from appliance.guard.policy import parse_policy
from appliance.guard.prescreen import Needs
from appliance.guard.recognizers import RECOGNIZERS, all_recognizers, known_entities, needs_of, register
from appliance.guard.recognizers.base import RegexRecognizer


def _policy(*block: str):
    return parse_policy(f'[policy]\nname = "t"\n[pii]\nblock = {list(block)!r}\n'.replace("'", '"').encode(), "test")


def test_entities_and_modules_come_from_the_declarations() -> None:
    import appliance.guard.recognizers as package

    ours = all_recognizers()
    modules = {type(r).__module__.rsplit(".", 1)[1] for r in ours}
    plugin_modules = {m.name for m in pkgutil.iter_modules(package.__path__)} - {"base", "presidio_predefined"}
    assert modules == plugin_modules  # every module found without a list; each one registers a recognizer
    assert {e for r in ours for e in r.supported_entities} <= known_entities()
    assert {"PERSON", "EMAIL_ADDRESS", "STUDENT_GRADE", "AGE_OVER_89", "STREET_ADDRESS"} <= known_entities()
    assert "UK_NHS" not in known_entities()  # Presidio ships it; the gate does not use it


def test_presidio_declarations_match_what_presidio_loads() -> None:
    from presidio_analyzer import RecognizerRegistry

    from appliance.guard.pii import LANG, NER_MAPPING

    loaded = RecognizerRegistry(supported_languages=[LANG])
    loaded.load_predefined_recognizers(languages=[LANG])
    by_name = {type(r).__name__: set(r.supported_entities) for r in loaded.recognizers}
    adopted = {name: d for name, d in RECOGNIZERS.items() if d.cls is None}
    assert adopted
    for name, d in adopted.items():
        assert name in by_name, name
        assert set(d.entities) == (set(NER_MAPPING.values()) if name == "SpacyRecognizer" else by_name[name]), name


def test_student_grade_without_person_turns_on_the_name_model() -> None:
    """The grade recognizer declares that it reads the model's PERSON spans: asking for STUDENT_GRADE alone runs the
    model wherever a name could be, so the record is blocked; before, the pre-screen kept the model off."""
    from appliance.guard.pii import PiiScanner

    assert needs_of("StudentGradeRecognizer", "STUDENT_GRADE").model == {"PERSON"}
    policy = _policy("STUDENT_GRADE")
    scanner = PiiScanner(policy.entities, policy.thresholds, policy.score_threshold)
    assert scanner._ner_prescreen.cased
    gate = Gate(policy, scanner=scanner)
    texts = ["Emily Johnson received an A in chemistry this term.", "The class received an A on average."]
    verdicts = gate.check(texts)
    assert [v.status for v in verdicts] == [QUARANTINED, ACCEPTED]
    assert [r["code"] for r in verdicts[0].reasons] == ["PII_STUDENT_GRADE"]
    scanner.prescreen = False
    assert [[f.entity for f in fs] for fs in scanner.scan(texts)] == [["STUDENT_GRADE"], []]


def test_a_recognizer_registered_here_is_known_and_used_by_the_gate() -> None:
    @register
    class BadgeRecognizer(RegexRecognizer):
        ENTITY = "TEST_VISITOR_BADGE"
        PATTERNS = [("badge", r"\bBDG-(?P<v>\d{4})\b", 0.9)]
        NEEDS = Needs(digits=4)

    try:
        assert "TEST_VISITOR_BADGE" in known_entities()
        gate = Gate(_policy("TEST_VISITOR_BADGE"))
        assert gate.scanner._entities_for("no badge today") == []  # the declared pre-screen: four digits
        assert gate.scanner._entities_for("badge BDG-4821") == ["TEST_VISITOR_BADGE"]
        verdicts = gate.check(["Visitor badge BDG-4821 was issued at the desk.", "No badge was issued today."])
        assert [v.status for v in verdicts] == [QUARANTINED, ACCEPTED]
        assert verdicts[0].reasons[0]["code"] == "PII_TEST_VISITOR_BADGE"
    finally:
        RECOGNIZERS.unregister("BadgeRecognizer")
    assert "TEST_VISITOR_BADGE" not in known_entities()
    with pytest.raises(UserError, match="unknown entity 'TEST_VISITOR_BADGE'"):
        _policy("TEST_VISITOR_BADGE")
