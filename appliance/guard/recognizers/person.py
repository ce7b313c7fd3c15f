"""Names the small NER model misses: after an honorific, or after a word that announces a person."""

from __future__ import annotations

from appliance.guard.recognizers import register
from appliance.guard.recognizers.base import CASE_SENSITIVE, RegexRecognizer

_CAP = r"[A-Z][a-zA-Z'’-]+"


@register
class TitledPersonRecognizer(RegexRecognizer):
    ENTITY = "PERSON"
    FLAGS = CASE_SENSITIVE
    PATTERNS = [(
        "honorific + name",
        r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Rev|Sr|Fr|Capt|Sgt|Lt|Col|Judge|Nurse|Professor|Doctor|Coach|Principal)\.?\s+"
        rf"(?P<v>{_CAP}(?:\s+[A-Z]\.)?(?:\s+{_CAP}){{0,2}})",
        0.7,
    )]


@register
class AnnouncedPersonRecognizer(RegexRecognizer):
    """'patient John Smith', 'my name is …', 'signed by …': a keyword followed by two capitalised words."""

    ENTITY = "PERSON"
    FLAGS = CASE_SENSITIVE
    PATTERNS = [(
        "keyword + First Last",
        r"(?i:\b(?:named|name\s+is|name:|patient|pt\.?|student|client|resident|signed\s+by|attending|physician|"
        r"parent|guardian|mother|father|son|daughter|wife|husband|contact|dear|hi|hello|I\s+am|I'm|this\s+is))\s+"
        rf"(?P<v>{_CAP}(?:\s+[A-Z]\.)?\s+{_CAP})",
        0.65,
    )]
