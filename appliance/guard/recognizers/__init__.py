"""Every recognizer the gate runs, in one registry: ours, and the Presidio ones we use.

Presidio out of the box misses most HIPAA Safe Harbor and FERPA identifiers (record numbers, ages over 89,
facilities, schools, student ids, …). Each recognizer here is a small Presidio ``EntityRecognizer`` subclass in a
module of this package; ``@register`` declares it the way Presidio's own registry does (the class names its
entities) plus what the pre-screen may assume (``NEEDS``: digits, a character, the NER model's spans it reads).
Presidio's predefined recognizers that the gate uses are declared the same way in ``presidio_predefined``. From
these declarations, and nothing kept by hand, come the entities a policy may name (``known_entities``), the
recognizers ``pii.build_analyzer`` loads and the scanner's pre-screens. A new recognizer is one module here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, TypeVar

from presidio_analyzer import EntityRecognizer

from appliance.guard.prescreen import Needs
from appliance.registry import Registry

R = TypeVar("R", bound=type[EntityRecognizer])


@dataclass(frozen=True)
class Declared:
    """One recognizer: its class name (Presidio's name for it in results), what each of its entities needs in a text,
    and the class to instantiate (``None``: one of Presidio's predefined, which Presidio loads with its own
    configuration). ``needs_nlp``: useless without the NER model, left out of a degraded (pattern-only) scan."""

    name: str
    needs: Mapping[str, Needs]
    cls: type[EntityRecognizer] | None = None
    needs_nlp: bool = False

    @property
    def entities(self) -> frozenset[str]:
        return frozenset(self.needs)


RECOGNIZERS: Registry[Declared] = Registry("recognizer", __name__)


def register(cls: R) -> R:
    """Class decorator: make the recognizer part of every analyzer the gate builds. The class names its entities
    (``ENTITY`` or ``ENTITIES``) and what a text must hold for it to find them (``NEEDS``, default: nothing)."""
    entities = getattr(cls, "ENTITIES", ()) or (cls.ENTITY,)  # type: ignore[attr-defined]
    needs = getattr(cls, "NEEDS", Needs())
    RECOGNIZERS.register(Declared(cls.__name__, {e: needs for e in entities}, cls, getattr(cls, "NEEDS_NLP", False)))
    return cls


def adopt(name: str, needs: Mapping[str, Needs]) -> None:
    """Declare one of Presidio's predefined recognizers (by class name) as part of the gate, with its entities'
    needs; Presidio's others are not loaded."""
    RECOGNIZERS.register(Declared(name, dict(needs)))


def all_recognizers(needs_nlp: bool = True) -> list[EntityRecognizer]:
    """One instance of each of our recognizers (those needing NER artefacts left out when ``needs_nlp`` is false)."""
    return [d.cls() for _, d in RECOGNIZERS.items() if d.cls is not None and (needs_nlp or not d.needs_nlp)]


def known_entities() -> frozenset[str]:
    """Every entity some declared recognizer reports: what a policy may name."""
    return frozenset(e for _, d in RECOGNIZERS.items() for e in d.entities)


def needs_of(recognizer: str, entity: str) -> Needs:
    """What ``recognizer`` needs to find ``entity``; nothing (always run) for a recognizer nobody declared."""
    d = dict(RECOGNIZERS.items()).get(recognizer)
    return d.needs.get(entity, Needs()) if d is not None else Needs()


__all__: list[str] = ["Declared", "Needs", "RECOGNIZERS", "register", "adopt", "all_recognizers", "known_entities", "needs_of"]
