"""Cheap pre-screens: what a text must contain before a recognizer, or the NER model, can find anything in it.

The NER model is four fifths of the gate's time. Most generated sentences give it nothing to look at: no capital
letter past the start of a sentence, no digit, no date word. Skipping the model there, and the number recognizers in
texts without a digit, leaves the findings exactly as they were: ``tests/guard/test_prescreen.py`` compares both
paths on the presidio-research sentences, clinical sentences and texts written to poke at the rules' edges.

Each recognizer declares its own condition (``Needs``, next to its patterns: ``appliance.guard.recognizers``); the
scanner derives from the recognizers it loaded which entities a text could hold (``TextPrescreen``) and where the
model must run (``NerPrescreen``), so a new recognizer brings its own pre-screen and nothing is kept by hand here:

- *Number-shaped identifiers*: every pattern for them has a digit in it; a phone number at least four.
- *E-mail, URL, IP address*: an '@'; a dot followed by a letter; a digit or a colon.
- *Recognizers that read the model's spans* ("a person named near a grade", "Ana Ruiz, 34,"): the model must run
  wherever it could find what they read, even when the policy does not ask for that entity itself.

What the model itself needs to see, for each kind of entity it reports:

- *Names, places, organisations* (the NER model): a capital letter that does not merely start a sentence with a
  common English word, or a lower-case word that may be part of a name. Words that start a sentence count only when
  they are common English words (not nouns) and not given names ("The", "Left", "Pulmonary" do not call for the
  model; "Will", "Maria", "Smith", "Estonia" do). Lower-case given names, surnames that are not English words and
  titles ("the patient john smith", "dr. patel") call for it too, and a text with no capital letter at all always
  goes to the model: there casing says nothing, and the model still finds lower-case names ("lena andersson").
- *Nationalities and groups* (NRP): always the model; it finds them in lower case ("proud ecuadoreans").
- *Dates and times* (the NER model's DATE_TIME): a digit, or one of the calendar and clock words in ``_DATE_WORD``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Collection, Iterable, Mapping


@dataclass(frozen=True)
class Needs:
    """What a text must hold before a recognizer can find anything in it: a necessary condition, never a guess (the
    pre-screen drops a recognizer from a text only when its condition fails, so a wrong one loses findings)."""

    digits: int = 0  # at least this many digits (``str.isdigit``)
    text: str | None = None  # a regular expression found somewhere in the text
    model: frozenset[str] = frozenset()  # entities of the NER model whose spans the recognizer reads

    def met(self, digits: int, found: Collection[str]) -> bool:
        """Whether a text with ``digits`` digits in which the patterns ``found`` occur satisfies this."""
        return digits >= self.digits and (self.text is None or self.text in found)


class TextPrescreen:
    """Which of the asked entities a text could hold: those with at least one recognizer whose ``Needs`` it meets.

    Texts are grouped by what the needs look at (digit count up to the largest that matters, which patterns occur),
    so each group's answer is worked out once."""

    def __init__(self, needs: Mapping[str, Iterable[Needs]]) -> None:
        self._needs = {e: tuple(set(ns)) for e, ns in needs.items()}
        self._patterns = sorted({n.text for ns in self._needs.values() for n in ns if n.text is not None})
        self._compiled = [re.compile(p) for p in self._patterns]
        self._max_digits = max((n.digits for ns in self._needs.values() for n in ns), default=0)
        self._cache: dict[tuple, list[str]] = {}

    def entities_for(self, text: str) -> list[str]:
        digits = min(sum(map(str.isdigit, text)), self._max_digits)
        key = (digits, *(rx.search(text) is not None for rx in self._compiled))
        hit = self._cache.get(key)
        if hit is None:
            found = {p for p, ok in zip(self._patterns, key[1:]) if ok}
            hit = self._cache[key] = [e for e, ns in self._needs.items() if any(n.met(digits, found) for n in ns)]
        return hit


# Entities only the NER model reports (Presidio maps its labels to these), split by what the model needs to see.
NER_CASED_ENTITIES = frozenset({"PERSON", "LOCATION", "ORGANIZATION"})
NER_DATE_ENTITIES = frozenset({"DATE_TIME"})
NER_ALWAYS_ENTITIES = frozenset({"NRP"})  # the model finds nationalities in lower case too ("proud ecuadoreans")

# Calendar and clock words the model builds dates from without a digit ("two weeks ago", "overnight", "a later date").
_DATE_WORD = re.compile(
    r"(?i)(?:today|tonight|yesterday|tomorrow|ago\b|\bnow\b|morning|afternoon|evening|night|noon|midnight|\bday|week|"
    r"month|year|decade|centur|hour|minute|second|season|spring|summer|autumn|\bfall|winter|annual|daily|quarter|"
    r"semester|term\b|\bera\b|\bage|\bold\b|birthday|anniversar|holiday|christmas|easter|date|later|earlier|recent|"
    r"\bhalf\b|\bjan|\bfeb|\bmar|\bapr|\bmay\b|\bjun|\bjul|\baug|\bsep|\boct|\bnov|\bdec|\bmon|\btue|\bwed|\bthu|"
    r"\bfri|\bsat|\bsun)"
)
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_TITLES = frozenset({"dr", "mr", "mrs", "ms", "miss", "mx", "prof", "sr", "jr"})
_OPENERS = "\"'“‘(["


def _starts_sentence(text: str, i: int) -> bool:
    """Whether position ``i`` starts a sentence: the text's start, or after closing punctuation or a line break
    (quotes and brackets may sit in between)."""
    j = i
    while j > 0 and text[j - 1] in _OPENERS:
        j -= 1
    k = j
    while k > 0 and text[k - 1].isspace():
        k -= 1
    return k == 0 or (k < j and (text[k - 1] in ".!?:;" or "\n" in text[k:j]))


class NerPrescreen:
    """Says whether the NER model could find one of ``entities`` (its own: PERSON, DATE_TIME, …) in a text;
    conservative by construction."""

    def __init__(self, entities: set[str] | frozenset[str]) -> None:
        from spacy.lang.en.stop_words import STOP_WORDS

        from appliance.guard.recognizers.names import census, english

        self.always = bool(entities & NER_ALWAYS_ENTITIES)
        self.cased = bool(entities & NER_CASED_ENTITIES)
        self.dates = bool(entities & NER_DATE_ENTITIES)
        given, surnames = census()
        common, nouns = english()
        # Given names, less function words the census also lists ("in", "an", "so"; "will" and "may" stay names).
        self._given = given - (STOP_WORDS - {"will", "may"})
        # Words that may start a sentence without calling for the model: common English words (stop words,
        # adjectives, adverbs, verbs) that are not given names ("Left", "Then" stay plain though they are surnames
        # too; "Will", "Grace" do not). Nouns are never plain: WordNet's include places and people ("Estonia").
        self._plain_words = common - self._given
        # Lower-case words that may be part of a name in an otherwise cased text ("the patient john smith", "dr.
        # patel"): the model finds those, so they call for it.
        self._namelike_words = (given - common) | (surnames - common - nouns) | _TITLES
        self._plain_cache: dict[str, bool] = {}
        self._namelike_cache: dict[str, bool] = {}

    def _plain(self, lower: str) -> bool:
        """A sentence-initial word that is common English, or an inflection of it ("Estimated", "Denies")."""
        hit = self._plain_cache.get(lower)
        if hit is None:
            from appliance.guard.recognizers.names import english_lemmas

            hit = lower in self._plain_words or (lower not in self._given and any(
                lemma in self._plain_words for pos, lemmas in english_lemmas(lower).items() if pos != "noun"
                for lemma in lemmas))
            self._plain_cache[lower] = hit
        return hit

    def _namelike(self, lower: str) -> bool:
        """A lower-case word that may be a name: listed, and not an inflection of an English word whose lemma is no
        given name ("brought", "stones", "vessels" are English; "owens" may be Owen's)."""
        hit = self._namelike_cache.get(lower)
        if hit is None:
            from appliance.guard.recognizers.names import english_lemmas

            hit = lower in self._namelike_words and not any(
                lemma != lower and lemma not in self._given for lemmas in english_lemmas(lower).values() for lemma in lemmas)
            self._namelike_cache[lower] = hit
        return hit

    def _plain_capitals(self, text: str) -> bool:
        """True when every capital letter starts a sentence with a plain English word (and there is at least one),
        and no lower-case word may be a name."""
        seen = False
        for m in _WORD.finditer(text):
            word = m.group()
            if word.islower():
                if self._namelike(word):
                    return False
                continue
            if not (word[0].isupper() and (len(word) == 1 or word[1:].islower())):
                return False  # "mmHg", "LV", "O'Brien": capitals inside a word
            if not _starts_sentence(text, m.start()) or not self._plain(word.lower()):
                return False
            seen = True
        return seen

    def needs_ner(self, text: str) -> bool:
        if self.always:
            return True
        if self.dates and (any(c.isdigit() for c in text) or _DATE_WORD.search(text)):
            return True
        return self.cased and not self._plain_capitals(text)
