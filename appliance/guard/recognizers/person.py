"""Names the small NER model misses: after an honorific, or after a word that announces a person."""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from appliance.guard.prescreen import Needs
from appliance.guard.recognizers import register
from appliance.guard.recognizers.base import CASE_SENSITIVE, RegexRecognizer
from appliance.guard.recognizers.names import census, english, english_word

_CAP = r"[A-Z][a-zA-Z'’-]+"


_TITLES = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Rev|Sr|Fr|Capt|Sgt|Lt|Col|Judge|Nurse|Professor|Doctor|Coach|Principal)"
# An honorific followed by words in lower case, as hurried notes write names ("Dr. reddy", "Mr. kowalski's").
_TITLE_LOWER = re.compile(rf"\b{_TITLES}\.?[ \t]+(?P<v>[a-z][a-z'’-]+(?:[ \t]+[a-z][a-z'’-]+){{0,2}})")


@register
class TitledPersonRecognizer(RegexRecognizer):
    """A capitalised name after an honorific; or lower-case words after one, as far as they are not English words
    ("Dr. reddy" is a name; "Dr. on call" is not)."""

    ENTITY = "PERSON"
    FLAGS = CASE_SENSITIVE
    PATTERNS = [(
        "honorific + name",
        rf"\b{_TITLES}\.?\s+(?P<v>{_CAP}(?:\s+[A-Z]\.)?(?:\s+{_CAP}){{0,2}})",
        0.7,
    )]
    LOWER_SCORE = 0.7

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        out = super().analyze(text, entities, nlp_artifacts)
        if "PERSON" not in entities:
            return out
        common = english()[0]
        given, surnames = census()
        for m in _TITLE_LOWER.finditer(text):
            start = end = m.start("v")
            for w in re.finditer(r"[a-z][a-z'’-]+", m.group("v")):
                word = re.sub(r"['’]s$", "", w.group())
                if word in common or (english_word(word) and word not in given and word not in surnames):
                    break  # the name ends where English begins
                end = start + w.start() + len(word)
            if end > start:
                out.append(self.result("PERSON", start, end, self.LOWER_SCORE, "honorific + lower-case name"))
        return out


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


# Honorifics (English forms in common use); they give away sex and often marital status or profession.
_HONORIFIC = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Rev|Sir|Dame|Lady|Lord|Fr|Sr)"


@register
class TitleRecognizer(RegexRecognizer):
    """Honorifics in front of a name ("Mrs. Okafor") and job titles a sentence ties to a person ("worked at the
    bakery as a pastry chef", "Occupation: midwife"): with a name or an employer they narrow down who it is."""

    ENTITY = "TITLE"
    FLAGS = CASE_SENSITIVE
    PATTERNS = [
        ("honorific before a name", rf"\b(?P<v>{_HONORIFIC}\.?)(?=[ \t]+[A-Z])", 0.6),
        ("worked as", r"(?i:\b(?:work(?:ed|s|ing)?|employed|hired|job|serv(?:ed|es|ing)|quit)\b)[^.\n?!]{0,60}?"
                      r"(?i:\bas)[ \t]+(?:(?i:an?)[ \t]+)?(?P<v>[\w-]+(?:[ \t]+[\w-]+){0,3}?)(?=[ \t]*[,.;!?\n]|$|[ \t]+(?i:at|for|in|since|but|until)\b)", 0.6),
        ("labelled job title", r"(?i:\b(?:job[ \t]+title|occupation|position|profession)[ \t]*:[ \t]*)(?P<v>[^\n,.;]{2,40}?)(?=[ \t]*[\n,.;]|$)", 0.6),
    ]


# Words that mark a name-shaped span as an organisation (common company, institution and media words).
_ORG_WORDS = frozenset(
    "inc inc. llc ltd ltd. corp corp. co co. company group bank partners associates technologies technology systems "
    "services solutions foundation institute university college school hospital clinic center centre agency association "
    "society trust fund capital media news tv labs lab health care insurance holdings international global airlines "
    "church council department ministry office board committee club team press records studios pictures entertainment "
    "business data software network networks energy motors pharma industries enterprises consulting management "
    "marketing communications digital analytics online web cloud mobile financial finance investments".split()
)
_LIST = re.compile(r"\b[^\W\d_][\w'’-]*(?:,[ \t]+[^\W\d_][\w'’-]*)+,?[ \t]+(?:and|or|&)[ \t]+[^\W\d_][\w'’-]*\b", re.IGNORECASE)
_KIN = re.compile(
    r"\b(?P<v>[A-Z][\w'-]+)['’]s[ \t]+(?:daughter|son|wife|husband|mother|father|brother|sister|child|children|"
    r"partner|friend|mom|mum|dad|aunt|uncle|niece|nephew|cousin|grandmother|grandfather|widow|boyfriend|girlfriend)\b")
# A contact block (letterhead, signature, address label) starts with the person's name on a line of its own, followed
# within a few lines by a street number, a phone number or an e-mail address.
_CONTACT_NAME = re.compile(r"^[ \t>*|-]*(?P<v>[A-Z][^\W\d_]*\.?(?:[ \t]+[A-Z][^\W\d_'’-]*\.?){1,2})[ \t]*$", re.MULTILINE)
_CONTACT_DETAIL = re.compile(r"^[ \t>*|-]*\d{1,5}[ \t]+\S|@|\d{3}[\s.-]?\d{3,4}[\s.-]?\d{3,4}", re.MULTILINE)
# Family and partners: the words both the kinship rules and the role rule below start from.
_FAMILY = (r"son|daughter|wife|husband|partner|mother|father|mom|mum|dad|brother|sister|aunt|uncle|niece|nephew|cousin|"
           r"grandson|granddaughter|grandmother|grandfather|fianc[ée]e?")
# "my son Kwame", "her husband Tomasz Nowak", "his wife, deepa": a kinship word after a possessive, then the name
# (in lower case, one word that is no English word).
_KIN_WORDS = rf"(?:kid|kids|child|boyfriend|girlfriend|{_FAMILY})"
_KIN_NAME = re.compile(
    rf"(?i:\b(?:my|our|his|her|their|your)[ \t]+{_KIN_WORDS}),?[ \t]+"
    r"(?P<v>[A-Z][^\W\d_][\w'’-]*(?:[ \t]+[A-Z][^\W\d_][\w'’-]*)?)")
_KIN_LOWER = re.compile(rf"(?i:\b(?:my|our|his|her|their|your)[ \t]+{_KIN_WORDS}),?[ \t]+(?P<v>[a-z][a-z'’-]+)\b")
# "neighbor Mateo checks in", "grandson Kwame": a word for someone's role or relation, then one capitalised word.
_ROLE_ONE = re.compile(
    rf"(?i:\b(?:neighbou?r|roommate|flatmate|caregiver|carer|guardian|friend|classmate|{_FAMILY}|grandma|grandpa|"
    r"stepson|stepdaughter|stepmother|stepfather|sibling|twin|student|pupil|patient|pt\.?|client|resident|tutor|coach|"
    r"interpreter|sponsor)),?[ \t]+(?P<v>[A-Z][^\W\d_][\w'’-]*)\b")
# "Last name: Okafor", "What's your surname? Boyle": the answer to a question about a name.
_NAME_FIELD = re.compile(
    r"(?i:\b(?:(?:first|last|given|family|middle|maiden)[ \t]+name|surname|forename))(?:[ \t]+is)?[ \t]*[:?,-]?[ \t]*"
    r"(?P<v>[A-Z][^\W\d_][\w'’-]*(?:[ \t]+[A-Z][^\W\d_][\w'’-]*)?)")
# "Name: what they said", a line at a time: a transcript's speaker labels.
_SPEAKER = re.compile(r"^[ \t]*(?P<v>[A-Z][^\W\d_'’-]+):[ \t]*\S", re.MULTILINE)
_CUE_ONE = re.compile(
    r"(?i:\b(?:my[ \t]+name[ \t]+is|name[ \t]+is|I[ \t]+am|I'm|this[ \t]+is|called|named|dear|directed[ \t]+by|"
    r"starring|(?:written|directed|produced|signed|prepared|reviewed)[ \t]+by|says|said|asked|thanks|thank[ \t]+you|hi|hello|hey))[:,]?[ \t]+"
    r"(?P<v>[A-Z][\w'’-]+(?:[ \t]+[A-Z]\.?)?(?:[ \t]+[A-Z][\w'’-]+)?)(?=[ \t]*(?:[,.!?;:\n]|$))")


@register
class PersonContextRecognizer(RegexRecognizer):
    """Names the small NER model misses or mislabels, found with what it did find in the same record:

    - a word that is part of a name found elsewhere in the record is that name again ("directed by Bryan Maclean
      and starring Maclean");
    - in a list ("Ana, Tom, Joe and Li") where the model tagged at least two items as people, all items are people;
    - a possessive before a kinship word ("Omar's daughter") or after one ("my son Kwame", "his wife, deepa"), a word
      for a role or relation before a single capitalised name that is no English word ("neighbor Mateo"), a name
      after a cue ("my name is", "called", "Dear") or a name field ("Last name: Okafor", "your surname? Boyle");
    - a span the model called an organisation that has a name's shape (two or three capitalised words, or with a
      middle initial), none of the words organisations carry ("Inc", "Bank", "Health", "&", "and") and no common
      English word ("Thoracic Surgery", "Nursing Home").
    """

    ENTITY = "PERSON"
    NEEDS = Needs(model=frozenset({"PERSON"}))  # the model's people and organisations
    NEEDS_NLP = True
    SCORE = 0.86  # above the NER model's 0.85: where this disagrees with the model's label, this is the reason

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        if "PERSON" not in entities:
            return []
        ents = list(nlp_artifacts.entities) if nlp_artifacts is not None else []
        people = [(e.start_char, e.end_char) for e in ents if e.label_ == "PERSON"]
        out: list[RecognizerResult] = []

        def add(start: int, end: int, why: str) -> None:
            out.append(self.result("PERSON", start, end, self.SCORE, why))

        for m in _KIN.finditer(text):
            add(*m.span("v"), "possessive kinship")
        for m in _CUE_ONE.finditer(text):
            add(*m.span("v"), "cue + name")
        common = english()[0]
        given = census()[0]
        for rx, why in ((_KIN_NAME, "possessive kinship + name"), (_NAME_FIELD, "name field + name"),
                        (_ROLE_ONE, "role + name")):
            for m in rx.finditer(text):
                first = m.group("v").split()[0].lower()
                if first in common or (rx is _ROLE_ONE and english_word(first) and first not in given):
                    continue  # "my daughter Has a fever", "patient Denies", "student Council"
                add(*m.span("v"), why)
        for m in _KIN_LOWER.finditer(text):
            word = m.group("v")
            if word not in common and (not english_word(word) or word in given):  # "his wife, deepa"; not "her son said"
                add(*m.span("v"), "possessive kinship + lower-case name")
        for e in ents:
            if e.label_ in ("ORG", "ORGANIZATION") and _name_shaped(e.text) and _name_words(e.text):  # Presidio's label
                add(e.start_char, e.end_char, "organisation with a name's shape")
        for m in _CONTACT_NAME.finditer(text):
            if _name_shaped(m.group("v"), min_words=2) and _CONTACT_DETAIL.search(text, m.end(), m.end() + 200):
                add(*m.span("v"), "first line of a contact block")
        speakers = [m for m in _SPEAKER.finditer(text)]
        if len(speakers) >= 2 and any(any(s <= m.start("v") < e for s, e in people) for m in speakers):
            for m in speakers:
                add(*m.span("v"), "speaker label in a dialogue with named speakers")
        known = people + [(r.start, r.end) for r in out]
        names = {w for s, e in known for w in re.findall(r"[^\W\d_][\w'’-]{2,}", text[s:e]) if w[:1].isupper()}
        for w in names:
            for m in re.finditer(rf"(?<![\w'’-]){re.escape(w)}(?![\w'’-])", text):
                if not any(s <= m.start() and m.end() <= e for s, e in known):
                    add(m.start(), m.end(), "name seen elsewhere in the record")
        for m in _LIST.finditer(text):
            items = [(i.start() + m.start(), i.end() + m.start()) for i in re.finditer(r"[^\W\d_][\w'’-]*", m.group())
                     if i.group().lower() not in ("and", "or")]
            tagged = sum(any(s <= a and b <= e for s, e in people) for a, b in items)
            if tagged >= 2 and 2 * tagged >= len(items):  # not a drug list where the model took two drugs for people
                for a, b in items:
                    add(a, b, "list of people")
        return out


def _name_shaped(span: str, min_words: int = 2) -> bool:
    words = span.split()
    if not min_words <= len(words) <= 3 or any(w.lower().strip(",.") in _ORG_WORDS for w in words):
        return False
    if "&" in span or " and " in span or " of " in span or "\n" in span:
        return False
    return all(re.fullmatch(r"[A-Z]\.?|[A-Z][a-z\u00e0-\u024f'’-]+", w, re.UNICODE) is not None for w in words)


def _name_words(span: str) -> bool:
    """The words could be a person's name rather than a department or a device ("Thoracic Surgery", "Cell Saver"):
    none is a common English word unless it is a census surname after a listed given name ("Zoe Young"), and each is
    either a census name or not an English noun at all (see ``names``)."""
    given, surnames = census()
    common, nouns = english()
    words = [w.strip(".").lower() for w in span.split()]
    for i, w in enumerate(words):
        if len(w) <= 1:
            continue
        if w in common and not (i > 0 and w in surnames and words[0] in given and words[0] not in nouns):
            return False
        if w in nouns and w not in given and w not in surnames:
            return False
    return True
