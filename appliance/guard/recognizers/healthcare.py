"""HIPAA Safe Harbor identifiers that Presidio has no recognizer for (45 CFR 164.514(b)(2)(i)).

Numbers are only taken when a label says what they are ("MRN", "member id", "serial no."): bare digit runs are
everywhere in clinical text (doses, lab values) and would quarantine everything.
"""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from appliance.guard.prescreen import Needs
from appliance.guard.recognizers import register
from appliance.guard.recognizers.base import CASE_SENSITIVE, RegexRecognizer

_SEP = r"\s*(?:[:#.]\s*|\s)\s*"
_NO = r"(?:\s+(?:number|num\.?|no\.?|#|id))?"
MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|"
         r"Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
DATE = (rf"(?:\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}|\d{{4}}-\d{{2}}-\d{{2}}|{MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
        rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTH},?\s+\d{{4}}|{MONTH}\s+\d{{4}}|{MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?)")


def _has_digit(value: str, n: int = 1) -> bool:
    return sum(c.isdigit() for c in value) >= n


@register
class MedicalRecordNumberRecognizer(RegexRecognizer):
    ENTITY = "MEDICAL_RECORD_NUMBER"
    NEEDS = Needs(digits=1)
    PATTERNS = [(
        "labelled MRN",
        rf"\b(?:MRN|MR#|medical\s+record{_NO}|med\.?\s*rec\.?{_NO}|chart{_NO}|patient\s+(?:id|number|no\.?|#)|hospital\s+number)"
        rf"{_SEP}(?P<v>[A-Z]{{0,4}}[-\s]?\d[\d-]{{3,14}}\d)\b",
        0.85,
    )]

    def validate(self, value: str, match: re.Match[str]) -> bool:
        return _has_digit(value, 4)


@register
class HealthPlanRecognizer(RegexRecognizer):
    ENTITY = "HEALTH_PLAN_ID"
    NEEDS = Needs(digits=1)
    PATTERNS = [(
        "labelled plan id",
        rf"\b(?:member|subscriber|beneficiary|policy|insurance|health\s+plan|medicare|medicaid|group|plan){_NO}"
        rf"{_SEP}(?P<v>[A-Z0-9][A-Z0-9-]{{5,19}})\b",
        0.8,
    )]

    def validate(self, value: str, match: re.Match[str]) -> bool:
        return _has_digit(value, 4)


@register
class AccountNumberRecognizer(RegexRecognizer):
    ENTITY = "ACCOUNT_NUMBER"
    NEEDS = Needs(digits=1)
    PATTERNS = [(
        "labelled account",
        rf"\b(?:account|acct\.?|billing\s+account|invoice){_NO}{_SEP}(?P<v>[A-Z]{{0,3}}-?\d[\d-]{{4,18}}\d)\b",
        0.8,
    )]

    def validate(self, value: str, match: re.Match[str]) -> bool:
        return _has_digit(value, 5)


@register
class LicenseNumberRecognizer(RegexRecognizer):
    ENTITY = "LICENSE_NUMBER"
    NEEDS = Needs(digits=1)
    PATTERNS = [(
        "labelled licence/certificate",
        rf"\b(?:licen[cs]e|certificate|cert\.?|permit|registration|DEA|NPI){_NO}{_SEP}(?P<v>[A-Z]{{0,3}}-?\d[A-Z\d-]{{4,14}})\b",
        0.8,
    )]

    def validate(self, value: str, match: re.Match[str]) -> bool:
        return _has_digit(value, 4)


@register
class DeviceIdRecognizer(RegexRecognizer):
    ENTITY = "DEVICE_ID"
    NEEDS = Needs(digits=1)
    PATTERNS = [
        (
            "labelled serial/device id",
            rf"\b(?:serial{_NO}|S/N|SN|device\s+(?:id|identifier|number|serial)|UDI|IMEI|lot{_NO}|pacemaker\s+serial)"
            rf"{_SEP}(?P<v>[A-Z0-9][A-Z0-9-]{{5,24}})\b",
            0.8,
        ),
        ("MAC address", r"\b(?:[0-9A-F]{2}[:-]){5}[0-9A-F]{2}\b", 0.7),
    ]

    def validate(self, value: str, match: re.Match[str]) -> bool:
        return _has_digit(value, 3)


@register
class VehicleIdRecognizer(RegexRecognizer):
    ENTITY = "VEHICLE_ID"
    NEEDS = Needs(digits=1)
    PATTERNS = [
        ("VIN", r"(?-i:\b(?P<v>[A-HJ-NPR-Z0-9]{17})\b)", 0.6),
        ("labelled plate", rf"\b(?:licen[cs]e\s+plate|plate|tag|VIN|vehicle\s+id){_NO}{_SEP}(?P<v>[A-Z0-9][A-Z0-9 -]{{2,8}}[A-Z0-9])\b", 0.75),
    ]

    def validate(self, value: str, match: re.Match[str]) -> bool:
        return _has_digit(value, 1) and any(c.isalpha() for c in value)


_AGE_AFTER_NAME = re.compile(r",[ \t]*(?P<v>\d{1,3})[ \t]*(?:,|\(|$)")


@register
class AgeRecognizer(RegexRecognizer):
    """Ages; those over 89 are their own entity, since Safe Harbor removes only those (and aggregates them)."""

    ENTITIES = ("AGE", "AGE_OVER_89")
    NEEDS = Needs(digits=1, model=frozenset({"PERSON"}))  # the comma rule reads the model's PERSON spans
    PATTERNS = [
        ("N years old", r"\b(?P<v>\d{1,3})(?:[-\s]?(?:years?|yrs?|y/?o|yo)(?:[-\s]old)?)(?![\w])", 0.6),
        ("aged N", r"\b(?:aged?|age:|age\s+of)\s*(?P<v>\d{1,3})\b", 0.6),
        ("in her 90s", r"\bin\s+(?:his|her|their)\s+(?P<v>(?:90|100|110))'?s\b", 0.6),
    ]

    AFTER_NAME = 0.6  # the comma rule needs the model's PERSON spans; without the model only the patterns run

    def validate(self, value: str, match: re.Match[str]) -> bool:
        return 0 < int(value) < 125

    def entity_for(self, value: str, match: re.Match[str]) -> str:
        return "AGE_OVER_89" if int(value) > 89 else "AGE"

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        """The patterns, and a number set off by commas right after a name the model found ("Ana Ruiz, 34, from
        Pune"), the way notes give an age."""
        out = super().analyze(text, entities, nlp_artifacts)
        for ent in (nlp_artifacts.entities if nlp_artifacts is not None else []):
            if ent.label_ != "PERSON":
                continue
            m = _AGE_AFTER_NAME.match(text, ent.end_char)
            if m and self.validate(m.group("v"), m):
                entity = self.entity_for(m.group("v"), m)
                if entity in entities:
                    out.append(self.result(entity, *m.span("v"), self.AFTER_NAME, "name, N,"))
        return out


@register
class PersonDateRecognizer(RegexRecognizer):
    """Dates tied to a person (birth, admission, discharge, death, service); plain dates stay DATE_TIME."""

    ENTITY = "PERSON_DATE"
    NEEDS = Needs(digits=1)
    PATTERNS = [(
        "date after a personal event",
        r"\b(?:DOB|D\.O\.B\.?|date\s+of\s+(?:birth|death|service|admission|discharge|surgery|visit|injury)|born(?:\s+on)?|"
        r"birth\s*date|birthday|admitted(?:\s+on)?|admission(?:\s+date)?|discharged(?:\s+on)?|discharge\s+date|died(?:\s+on)?|"
        r"deceased(?:\s+on)?|seen\s+on|visited\s+on|surgery\s+on|DOS|enrolled\s+on|graduated\s+on)"
        rf"\s*[:#]?\s*(?:on\s+)?(?P<v>{DATE})",
        0.85,
    )]


@register
class FacilityRecognizer(RegexRecognizer):
    """Hospitals and clinics by name: they place a patient as precisely as an address."""

    ENTITY = "FACILITY"
    FLAGS = CASE_SENSITIVE
    _NAME = r"(?:(?:St\.?|Saint)\s+)?(?:[A-Z][a-zA-Z'.&-]+\s+){1,4}"
    _KIND = (r"(?:Hospital|Medical\s+Cent(?:er|re)|Health\s+(?:Cent(?:er|re)|System|Clinic)|Clinic|Infirmary|Hospice|"
             r"Nursing\s+Home|Rehabilitation\s+Cent(?:er|re)|Surgery\s+Cent(?:er|re)|Surgical\s+Cent(?:er|re)|Urgent\s+Care|"
             r"Cancer\s+Cent(?:er|re)|Care\s+Cent(?:er|re)|Memorial\s+Hospital)")
    PATTERNS = [
        ("Name + facility kind", rf"\b(?P<v>{_NAME}{_KIND})\b", 0.7),
        ("facility kind of Name", rf"\b(?P<v>{_KIND}\s+of\s+(?:the\s+)?(?:[A-Z][a-zA-Z'.-]+\s*){{1,3}})", 0.7),
    ]
