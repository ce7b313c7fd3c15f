"""The base of our recognizers: regular expressions with an optional value group, Presidio results out.

Presidio's ``PatternRecognizer`` reports the whole match, so "MRN: 00123456" would come back label and all; ours
report the named group ``v`` when a pattern has one (the identifier itself), which is what a redaction should
replace and what span-level evaluation compares.
"""

from __future__ import annotations

import re
from typing import Iterable

from presidio_analyzer import AnalysisExplanation, LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from appliance.guard.prescreen import Needs

CASE_SENSITIVE = re.DOTALL | re.MULTILINE
IGNORE_CASE = re.DOTALL | re.MULTILINE | re.IGNORECASE


def words(*alternatives: Iterable[str] | str) -> str:
    """A regex alternation of literal phrases, longest first (so 'Medical Center' wins over 'Medical')."""
    flat: list[str] = []
    for a in alternatives:
        flat += [a] if isinstance(a, str) else list(a)
    return "(?:" + "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(set(flat), key=len, reverse=True)) + ")"


class RegexRecognizer(LocalRecognizer):
    """Patterns are class attributes: ``ENTITY``, ``PATTERNS`` [(name, regex, score)], ``FLAGS``; ``NEEDS``: what a
    text must hold for any of them to match (the scanner's pre-screen skips the recognizer elsewhere).

    Subclasses may override ``entity_for`` (one pattern, several entity types) and ``validate`` (checksums,
    digit counts) without touching the matching loop.
    """

    ENTITY: str = ""
    ENTITIES: tuple[str, ...] = ()
    PATTERNS: list[tuple[str, str, float]] = []
    FLAGS: int = IGNORE_CASE
    NEEDS: Needs = Needs()
    NEEDS_NLP = False

    def __init__(self) -> None:
        self._compiled = [(name, re.compile(rx, self.FLAGS), score) for name, rx, score in self.PATTERNS]
        super().__init__(supported_entities=list(self.ENTITIES or (self.ENTITY,)), name=type(self).__name__)

    def load(self) -> None:  # patterns are compiled in __init__
        pass

    def validate(self, value: str, match: re.Match[str]) -> bool:
        return True

    def entity_for(self, value: str, match: re.Match[str]) -> str:
        return self.supported_entities[0]

    def result(self, entity: str, start: int, end: int, score: float, why: str) -> RecognizerResult:
        return RecognizerResult(
            entity_type=entity,
            start=start,
            end=end,
            score=score,
            analysis_explanation=AnalysisExplanation(recognizer=self.name, original_score=score, pattern_name=why),
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY: True,  # our patterns carry their context
            },
        )

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        out: list[RecognizerResult] = []
        for name, rx, score in self._compiled:
            for m in rx.finditer(text):
                has_v = "v" in rx.groupindex and m.group("v") is not None
                start, end = m.span("v") if has_v else m.span()
                value = text[start:end]
                if not value.strip() or not self.validate(value, m):
                    continue
                entity = self.entity_for(value, m)
                if entity in entities:
                    out.append(self.result(entity, start, end, score, name))
        return out
