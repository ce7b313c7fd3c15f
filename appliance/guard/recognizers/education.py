"""FERPA identifiers (34 CFR 99.3): student ids, school names, and a student's name tied to a grade."""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from appliance.guard.prescreen import Needs
from appliance.guard.recognizers import register
from appliance.guard.recognizers.base import CASE_SENSITIVE, RegexRecognizer


@register
class StudentIdRecognizer(RegexRecognizer):
    ENTITY = "STUDENT_ID"
    NEEDS = Needs(digits=1)
    PATTERNS = [(
        "labelled student id",
        r"\b(?:student\s+(?:id|identification|number|no\.?|#)(?:\s+number)?|SID|learner\s+id|enrol(?:l)?ment\s+(?:id|number|no\.?))"
        r"\s*(?:[:#.]\s*|\s)\s*(?P<v>[A-Z]{0,3}-?\d[\d-]{3,12})\b",
        0.85,
    )]


@register
class SchoolRecognizer(RegexRecognizer):
    ENTITY = "SCHOOL"
    FLAGS = CASE_SENSITIVE
    _NAME = r"(?:(?:St\.?|Saint)\s+)?(?:[A-Z][a-zA-Z'.&-]+\s+){1,4}"
    PATTERNS = [
        ("Name + school kind",
         rf"\b(?P<v>{_NAME}(?:(?:Elementary|Middle|High|Junior\s+High|Primary|Secondary|Charter|Preparatory|Prep|Grammar|Public)\s+School"
         r"|Academy|University|College|Community\s+College|Institute\s+of\s+Technology|School\s+District|Schools))\b", 0.7),
        ("University of Name", r"\b(?P<v>(?:University|College)\s+of\s+(?:the\s+)?(?:[A-Z][a-zA-Z'.-]+\s*){1,3})", 0.7),
    ]


_GRADE = re.compile(
    r"\b(?:grades?|graded|GPA|scored|score\s+of|received\s+an?|earned\s+an?|got\s+an?|failed|passed|marks?|mark\s+of)\b"
    r"[^.\n]{0,30}?(?:\b[A-F][+-]?(?=[\s.,;)]|$)|\b\d{1,3}(?:\.\d+)?\s*%|\b[0-4]\.\d{1,2}\b|\b\d{1,3}\s*/\s*\d{2,3}\b)",
    re.MULTILINE,
)


@register
class StudentGradeRecognizer(RegexRecognizer):
    """A person named in the same sentence as a grade: that is an education record, not just a name."""

    ENTITY = "STUDENT_GRADE"
    NEEDS = Needs(model=frozenset({"PERSON"}))  # the model's PERSON spans, asked for or not
    NEEDS_NLP = True

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        if "STUDENT_GRADE" not in entities or nlp_artifacts is None:
            return []
        people = [e for e in nlp_artifacts.entities if e.label_ == "PERSON"]
        if not people:
            return []
        out = []
        for m in _GRADE.finditer(text):
            for p in people:
                if abs(p.start_char - m.start()) <= 80 or abs(p.end_char - m.start()) <= 80:
                    start, end = min(p.start_char, m.start()), max(p.end_char, m.end())
                    if "." not in text[min(p.end_char, m.start()):max(p.start_char, m.start())]:
                        out.append(self.result("STUDENT_GRADE", start, end, 0.75, "person near grade"))
        return out
