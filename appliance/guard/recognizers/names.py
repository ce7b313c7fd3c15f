"""People's names recognised from what a name is made of: a given name and a surname from the US Census name lists.

The small NER model misses many names, calls others organisations ("Zoe Young", "Maja S Hermansen") and finds
almost nothing in all-lower-case text ("follow up with patricia desrosiers"). The US Census Bureau's 1990 name
frequency lists (public domain; shipped by the ``names`` package: 1,219 male and 4,275 female given names,
88,799 surnames) say which words are given names and which are surnames, independently of the text's casing.
They miss most names from outside the US, so the given names of Faker's locales (MIT; about 15,000 more that are no
English word: "Deepa", "Kofi", "Nikola", "Chinedu") join them.

Many names are also English words ('Will', 'May', 'Hope', 'Lane', 'Young', 'White', 'Brown'), so a word counts as a
name part only when it is not a common English word. Common means: a spaCy stop word, or an adjective, adverb or verb
in the WordNet lemma index that ships with the spaCy model's lemmatizer, or one of a few place, organisation and
calendar words. Nouns are allowed only where the word is a listed name and the other part of the name is present
too (WordNet lists 'smith' and 'john' as nouns). The rules, from strongest to weakest evidence:

- *Given + surname* (optionally a middle initial), both listed: a person, even where the model said organisation
  (score above the model's) and, in text without a single capital letter, in lower case; in capitals too, where both
  words are ("NISHA IYER" in a note typed in capitals, "LUCA PAPADOPOULOS" in a sentence).
- *Given + capitalised unknown word* ("Sigrid Nyström"): the given name is listed, the other word is not English;
  scored below the model, so its own label wins where it has one.
- *A listed given name alone*, capitalised, that is not an English word at all (not even a noun): "Todd", "Mario".

- *Unknown capitalised word + listed surname* ("Homero Portillo"): scored below the model as well.

Nothing here fires where the NER model labels the span a place, a facility or a nationality.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from appliance.guard.prescreen import Needs
from appliance.guard.recognizers import register
from appliance.guard.recognizers.base import RegexRecognizer

# Words that follow a given name in place, organisation and calendar names ("Austin Street", "Mary Hospital").
_NOT_SURNAME = frozenset(
    "street st avenue ave road rd lane ln drive dr court ct way place pl boulevard blvd park square plaza bridge beach "
    "river lake mountain mount hill hills valley county city town village island islands bay harbor harbour port "
    "station airport center centre hospital clinic school college university academy institute church chapel hall "
    "house museum library gallery theatre theater stadium arena hotel inn cafe restaurant bank company group inc llc "
    "ltd corp co foundation trust fund society association club team orchestra band records press news times post "
    "journal review magazine show award awards prize day week month year monday tuesday wednesday thursday friday "
    "saturday sunday january february march april may june july august september october november december "
    "syndrome disease disorder test sign reflex procedure catheter".split()
)
# Given names that are (also) place or calendar words, kept out of the single-word rule and the lower-case rule.
_NOT_GIVEN = frozenset(
    "april may june august january christmas easter sunday monday tuesday wednesday thursday friday saturday "
    "paris sydney dallas austin houston phoenix denver florence georgia virginia carolina dakota indiana "
    "victoria chelsea jordan china india asia africa america".split()
)
# NER labels that rule a span out, as Presidio reports them (it maps GPE/LOC/FAC to LOCATION and NORP to NRP, and
# drops products, works, events and laws before recognizers see them).
_BLOCKING_LABELS = frozenset({"LOCATION", "NRP", "GPE", "LOC", "FAC", "NORP"})
_WORD = re.compile(r"(?<![\w'’.-])([^\W\d_][\w'’-]*)(?![\w'’-])")
_NEXT = re.compile(r"[ \t]+(?:[A-Z]\.?[ \t]+)?(?P<w>[^\W\d_][\w'’-]*)(?![\w'’-])")


def _census_file(name: str) -> list[str]:
    text = resources.files("names").joinpath(name).read_text(encoding="ascii")
    return [ln.split()[0].lower() for ln in text.splitlines() if ln.strip()]


_LATIN_NAME = re.compile(r"^[A-Za-zÀ-ÖØ-öø-ÿĀ-žḀ-ỿ'’-]{3,}$")


def world_given_names() -> frozenset[str]:
    """Given names of every locale Faker ships (Latin script, three letters or more), lower case: the 1990 US Census
    lists miss most names from elsewhere (Deepa, Kofi, Nikola, Chinedu). Faker's are plain class attributes of its
    person providers; a locale whose module fails to import is skipped."""
    import importlib
    import pkgutil

    import faker.providers.person as person

    out: set[str] = set()
    for mod in pkgutil.iter_modules(person.__path__):
        try:
            provider = importlib.import_module(f"{person.__name__}.{mod.name}").Provider
        except (ImportError, AttributeError):
            continue
        for attr in ("first_names", "first_names_male", "first_names_female", "first_names_nonbinary"):
            values = provider.__dict__.get(attr)
            if isinstance(values, (dict, list, tuple, set, frozenset)):
                out.update(n.lower() for n in values if isinstance(n, str) and _LATIN_NAME.match(n))
    return frozenset(out)


@lru_cache(maxsize=1)
def census() -> tuple[frozenset[str], frozenset[str]]:
    """(given names, surnames), lower case: the US Census lists, given names widened by those of
    ``world_given_names`` that are no English word."""
    # Faker's lists hold English words too ("Council", "Floor", "Among"): those say nothing, so only the others join.
    world = frozenset(w for w in world_given_names() if not english_word(w))
    given = frozenset(_census_file("dist.male.first") + _census_file("dist.female.first")) | world
    return given, frozenset(_census_file("dist.all.last"))


_POS = ("adj", "adv", "verb", "noun")


@lru_cache(maxsize=1)
def _wordnet() -> tuple[dict[str, frozenset[str]], dict[str, list[tuple[str, str]]], dict[str, dict[str, list[str]]]]:
    """The pinned spaCy model's rule-lemmatizer tables: WordNet's lemma index, suffix rules and irregular forms, by
    part of speech. Empty without the model (degraded mode)."""
    try:
        import spacy

        from appliance.guard.pii import MODEL_NAME, model_installed

        if model_installed(MODEL_NAME):
            lookups = spacy.load(MODEL_NAME, exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "ner", "senter"]) \
                .get_pipe("lemmatizer").lookups
            index, rules, exc = (lookups.get_table(t) for t in ("lemma_index", "lemma_rules", "lemma_exc"))
            return ({pos: frozenset(index.get(pos, [])) for pos in _POS},
                    {pos: [(old, new) for old, new in rules.get(pos, [])] for pos in _POS},
                    {pos: dict(exc.get(pos, {})) for pos in _POS})
    except (OSError, ImportError, KeyError, ValueError):
        pass
    return {}, {}, {}


def english_lemmas(word: str) -> dict[str, set[str]]:
    """The lemmas of a lower-case word by part of speech, as spaCy's rule lemmatizer finds them ("brought" → verb
    "bring", "stones" → noun "stone"); only lemmas WordNet lists."""
    index, rules, exc = _wordnet()
    out: dict[str, set[str]] = {}
    for pos in index:
        found = {w for w in exc[pos].get(word, []) if w in index[pos]}
        if word in index[pos]:
            found.add(word)
        for old, new in rules[pos]:
            if word.endswith(old) and len(word) > len(old):
                base = word[: len(word) - len(old)] + new
                if base in index[pos]:
                    found.add(base)
        if found:
            out[pos] = found
    return out


@lru_cache(maxsize=65536)
def english_word(word: str) -> bool:
    """A lower-case word that is English: a stop word, in WordNet, or an inflection of a WordNet word ("denies")."""
    return word in english()[0] or bool(english_lemmas(word))


@lru_cache(maxsize=1)
def english() -> tuple[frozenset[str], frozenset[str]]:
    """(common words, nouns): spaCy's stop words plus WordNet's adjectives, adverbs and verbs; WordNet's nouns.

    The WordNet index comes with the pinned spaCy model's rule lemmatizer; without the model (degraded mode) only
    the stop words are known, and the rules that need the noun list stay off."""
    from spacy.lang.en.stop_words import STOP_WORDS

    index, _, _ = _wordnet()
    common = set(STOP_WORDS)
    for pos in ("adj", "adv", "verb"):
        common.update(index.get(pos, ()))
    return frozenset(common), frozenset(index.get("noun", ()))


@register
class CensusNameRecognizer(RegexRecognizer):
    ENTITY = "PERSON"
    NEEDS = Needs(model=frozenset({"PERSON"}))  # the model's spans around the names
    NEEDS_NLP = True
    BOTH_LISTED = 0.87  # above the NER model (0.85) and the context rules (0.86): one finding per name, always this one
    GIVEN_PLUS_WORD = 0.7
    GIVEN_ALONE = 0.6
    # The model often calls a lone given name, or a given name and surname, a place or an organisation ("Rafael",
    # "Kofi", "Magnus Bergström"). Where its span is exactly the name and the given name is no English word at all
    # (not even a noun: WordNet lists the places that share a given name, "Charlotte", "Eugene", "Helena"), the
    # name wins over the model's label.
    OVER_MODEL = 0.87

    def __init__(self) -> None:
        super().__init__()
        self.given, self.surnames = census()
        self.common, self.nouns = english()

    def _given(self, w: str, alone: bool = False) -> bool:
        lw = w.lower()
        if lw not in self.given or lw in self.common or lw in _NOT_GIVEN:
            return False
        return not (alone and lw in self.nouns)

    def _surname(self, w: str) -> bool:
        lw = w.lower()
        return lw in self.surnames and lw not in self.common and lw not in _NOT_SURNAME

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        if "PERSON" not in entities or not self.nouns:
            return []
        ents = list(nlp_artifacts.entities) if nlp_artifacts is not None else []
        blocked = [(e.start_char, e.end_char) for e in ents if e.label_ in _BLOCKING_LABELS]
        mislabelled = {(e.start_char, e.end_char) for e in ents if e.label_ != "PERSON"}
        lower_text = not any(c.isupper() for c in text)
        long_words = [w for w in _WORD.findall(text) if len(w) > 3]
        title_case = len(long_words) >= 4 and sum(w[0].isupper() for w in long_words) > 0.6 * len(long_words)
        out: list[RecognizerResult] = []
        used: set[int] = set()

        def add(start: int, end: int, score: float, why: str, given: str | None = None) -> None:
            if given is not None and (start, end) in mislabelled and self._given(given, alone=True):
                out.append(self.result("PERSON", start, end, self.OVER_MODEL, why + ", over the model's label"))
            elif not any(s < end and start < e for s, e in blocked):
                out.append(self.result("PERSON", start, end, score, why))

        for m in _WORD.finditer(text):
            s, e, w = m.start(), m.end(), m.group()
            capital = w[0].isupper() and not w.isupper()
            shout = len(w) > 1 and w.isupper()
            if not (capital or lower_text or shout):
                continue
            if not self._given(w):
                lw = w.lower()
                if capital and not title_case and lw not in self.given and lw not in self.common and lw not in self.nouns \
                        and lw not in _NOT_SURNAME:
                    nxt = _NEXT.match(text, e)
                    if nxt is not None and nxt.group("w")[0].isupper() and self._surname(nxt.group("w")):
                        add(s, nxt.end("w"), self.GIVEN_PLUS_WORD, "capitalised word + census surname")
                continue
            if s >= 3 and text[max(0, s - 6):s].rstrip().lower().endswith(("st.", "saint", "st")):
                continue  # St. Mary's, Saint Jude: churches and hospitals
            nxt = _NEXT.match(text, e)  # the next word on the line, after an optional middle initial
            if nxt is not None:
                nw, ne = nxt.group("w"), nxt.end("w")
                lnw = nw.lower()
                if shout and len(nw) > 1 and nw.isupper() and self._surname(nw):
                    add(s, ne, self.BOTH_LISTED, "census given name + surname, in capitals", given=w)
                    used.add(nxt.start("w"))
                    continue
                if lower_text or nw[0].isupper() and not nw.isupper():
                    if self._surname(nw):
                        add(s, ne, self.BOTH_LISTED, "census given name + surname", given=w)
                        used.add(nxt.start("w"))
                        continue
                    unknown = lnw not in self.common and lnw not in self.nouns
                    if capital and not title_case and lnw not in _NOT_SURNAME and (
                            unknown or lnw in self.surnames and w.lower() not in self.nouns):
                        add(s, ne, self.GIVEN_PLUS_WORD, "census given name + capitalised word", given=w)
                        used.add(nxt.start("w"))
                        continue
            if capital and not title_case and s not in used and self._given(w, alone=True):
                add(s, e, self.GIVEN_ALONE, "census given name", given=w)
        return out
