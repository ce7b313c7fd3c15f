"""Attacks on what the guard derives from its declarations: a policy or a stored finding naming an entity no declared
recognizer reports, a plug-in that tries to take over a shipped recognizer's name, digits written in another script
to slip past the pre-screen, hostile canary counts and targets. Each is refused with one line, or detected."""

from __future__ import annotations

import json

import pytest

from appliance.errors import BadInput, UserError
from appliance.guard import canaries
from appliance.guard.policy import parse_policy
from appliance.guard.prescreen import Needs, TextPrescreen
from appliance.guard.recognizers import RECOGNIZERS, Declared, known_entities, register
from appliance.guard.recognizers.base import RegexRecognizer


@pytest.mark.parametrize("entity", ["UK_NHS", "CRYPTO", "person", "PERSON ", "PERSON\nEMAIL_ADDRESS", ""])
def test_a_policy_naming_an_undeclared_entity_is_refused(entity: str) -> None:
    doc = f'[policy]\nname = "x"\n[pii]\nblock = {json.dumps(["EMAIL_ADDRESS", entity])}\n'
    with pytest.raises(UserError) as e:
        parse_policy(doc.encode(), "hostile.toml")
    assert e.value.exit_code == 2 and "\n" not in str(e.value) and "pii.block" in str(e.value)


def test_a_stored_finding_of_an_undeclared_entity_refuses_the_export() -> None:
    from appliance.service.export_write import _stored_findings

    record = {"id": 5, "text": "Call 555-0142", "findings": [{"entity": "UK_NHS", "start": 0, "end": 4, "score": 0.9}]}
    with pytest.raises(UserError, match="^record 5: its stored PII findings are damaged"):
        _stored_findings(record)
    record["findings"][0]["entity"] = "PHONE_NUMBER"
    assert _stored_findings(record) == record["findings"]


@pytest.mark.parametrize("name", ["ZipCodeRecognizer", "EmailRecognizer", "SpacyRecognizer"])
def test_a_plugin_cannot_take_over_a_shipped_recognizer(name: str) -> None:
    """A second recognizer under a shipped one's name (ours, or a Presidio one the gate uses) fails at import,
    instead of silently replacing it (a "recognizer" that finds nothing would switch the check off)."""
    before = dict(RECOGNIZERS.items())[name]
    with pytest.raises(ValueError, match="two recognizers are named"):
        register(type(name, (RegexRecognizer,), {"ENTITY": "EMAIL_ADDRESS", "PATTERNS": []}))
    with pytest.raises(ValueError, match="two recognizers are named"):
        RECOGNIZERS.register(Declared(name, {"EMAIL_ADDRESS": Needs()}))
    assert dict(RECOGNIZERS.items())[name] is before
    assert "EMAIL_ADDRESS" in known_entities()


@pytest.mark.parametrize("digits", ["٥٥٥٠١٤٢", "５５５０１４２", "५५५०१४२"])
def test_digits_in_another_script_still_count_for_the_prescreen(digits: str) -> None:
    """A phone number in Arabic-Indic, full-width or Devanagari digits still reaches the phone recognizers: the
    pre-screen counts every Unicode digit, as the recognizers' ``\\d`` does."""
    screen = TextPrescreen({"PHONE_NUMBER": [Needs(digits=4), Needs(digits=7)], "EMAIL_ADDRESS": [Needs(text="@")]})
    assert screen.entities_for(f"call me on {digits}") == ["PHONE_NUMBER"]
    assert screen.entities_for("call me on ٥٥٥") == []
    assert screen.entities_for("ana＠example.org") == []  # a full-width '@' is no e-mail address for the recognizer


@pytest.mark.parametrize("n", [0, -1, 101, 10**12])
def test_canary_counts_out_of_range_are_refused(n: int) -> None:
    sets = [{"name": "clinic", "task_id": 1, "task_name": "t", "source_name": "file.csv"}]
    with pytest.raises(BadInput) as e:
        canaries.companion_set(sets, "clinic", n)
    assert e.value.exit_code == 2 and "\n" not in str(e.value) and "--" not in str(e.value)


def test_canaries_cannot_be_planted_in_a_canary_set_or_a_missing_one_and_never_overwrite() -> None:
    sets = [
        {"name": "clinic", "task_id": 1, "task_name": "t", "source_name": "file.csv"},
        {"name": "clinic~canaries", "task_id": 1, "task_name": "t", "source_name": canaries.CANARY_SOURCE},
        {"name": "clinic~canaries2", "task_id": 1, "task_name": "t", "source_name": canaries.CANARY_SOURCE},
    ]
    with pytest.raises(BadInput, match="itself a canary set"):
        canaries.companion_set(sets, "clinic~canaries", 3)
    with pytest.raises(BadInput, match="no seed set"):
        canaries.companion_set(sets, "clinic'; DROP TABLE seeds; --", 3)
    base, name = canaries.companion_set(sets, "clinic", 3)
    assert base["name"] == "clinic" and name == "clinic~canaries3"
    rows = canaries.canary_rows(3, ["a", "b"])
    assert len({r["text"] for r in rows}) == 3 and {r["label"] for r in rows} <= {"a", "b"}
    assert all(canaries.from_seed_rows([{"id": 1, "text": r["text"]}]) for r in rows)
