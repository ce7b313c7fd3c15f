"""Our recognizers, registered the way Presidio registers its own.

Presidio out of the box misses most HIPAA Safe Harbor and FERPA identifiers (record numbers, ages over 89,
facilities, schools, student ids, …). Each recognizer here is a small Presidio ``EntityRecognizer`` subclass;
``@register`` adds it to ``REGISTRY`` and ``pii.build_analyzer`` loads every registered class next to Presidio's
predefined ones.
"""

from __future__ import annotations

from typing import TypeVar

from presidio_analyzer import EntityRecognizer

R = TypeVar("R", bound=type[EntityRecognizer])
REGISTRY: list[type[EntityRecognizer]] = []


def register(cls: R) -> R:
    """Class decorator: make the recognizer part of every analyzer the gate builds."""
    REGISTRY.append(cls)
    return cls


def all_recognizers(needs_nlp: bool = True) -> list[EntityRecognizer]:
    """One instance of every registered recognizer (those needing NER artefacts left out when ``needs_nlp`` is false)."""
    from appliance.guard.recognizers import address, contact, education, healthcare, names, person  # noqa: F401  (registration)

    return [cls() for cls in REGISTRY if needs_nlp or not getattr(cls, "NEEDS_NLP", False)]


def supported_entities() -> set[str]:
    return {e for r in all_recognizers() for e in r.get_supported_entities()}


__all__: list[str] = ["REGISTRY", "register", "all_recognizers", "supported_entities"]
