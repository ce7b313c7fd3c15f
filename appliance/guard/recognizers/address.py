"""Street addresses as people write them in several countries, on one line or over several.

Safe Harbor removes every geographic subdivision smaller than a state, so the whole address counts: the street
line, the flat or suite, the town, the postcode. A single regular expression cannot cover the ways addresses are
written, so recognition is two steps:

1. a *street core*: a house number next to a street, where the street is recognised by its type word, which
   comes after the name in English ("12 Oak Lane"), before it in Romance and Slavic languages ("Rua do Sol 45",
   "ul. Cicha 86"), or is glued to it in Germanic, Nordic and Finnic ones ("Lindenstraße 4", "Mannerheimintie 8");
   or a capitalised name between two numbers ("221 Harbour 7", a building and a house number); or a PO box or a
   US military address; or "the corner of A and B";
2. the core is *extended* over what usually follows it, separated by commas or line breaks: a unit ("Apt. 4",
   "Suite 200"), town and region names (capitalised words), a state code, a postcode in one of the common shapes.

Numbers alone never make an address: a core needs a street type word or two numbers around a capitalised name,
and a number followed by a unit of measure ("Aspirin 81 mg") is not a house number.
"""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from appliance.guard.recognizers import register
from appliance.guard.recognizers.base import RegexRecognizer

# Street types written after the name: USPS Publication 28 suffixes (the common ones, full and abbreviated) and the
# usual British/Commonwealth ones.
_SUFFIX_AFTER = (
    "Street St Avenue Ave Av Road Rd Boulevard Blvd Lane Ln Drive Dr Court Ct Way Place Pl Terrace Ter Circle Cir "
    "Parkway Pkwy Highway Hwy Square Sq Trail Trl Alley Aly Loop Row Crescent Cres Close Path Pike Plaza Plz Ridge "
    "Run Point Pt Crossing Xing Creek Heights Hts Hill Hills Park Gardens Garden Green Springs Station Summit View "
    "Vista Walk Wells Mills Manor Meadows Junction Jct Knolls Landing Lakes Islands Harbor Harbour Grove Forest Falls "
    "Estates Estate Glen Fields Ferry Ford Expressway Expy Cove Corners Common Cliffs Causeway Canyon Brooks Bridge "
    "Branch Bluffs Bend Beach Mount Orchard Oval Pass Pines Plains Port Prairie Ranch Rapids River Route Rte Shores "
    "Spur Stream Trace Track Turnpike Tpke Valley Villages Village Via Mews Rise Parade Esplanade Quay Wharf Wynd Gate "
    "Gateway Flats Broadway Mall Radial Greens Motorway Fork Haven Isle Key Lodge Lodges Mission Neck Overpass Ramp Shoal "
    "Skyway Terrace Throughway Underpass Union Viaduct Well"
).split()

# Street types written before the name (French, Spanish, Portuguese, Italian, Catalan, Polish, Czech, Greek, …),
# with their usual abbreviations.
_TYPE_BEFORE = (
    "rue avenue av avda avenida calle carrer camino paseo plaza praça praca rua travessa largo estrada alameda via "
    "viale vicolo piazza piazzale corso strada ul ulica al aleja plac pl os osiedle bulevar boulevard bd chemin quai "
    "impasse allée allee place route rte cours passage ruelle rambla ronda carretera πλατεία οδός οδος λεωφόρος ulitsa "
    "prospekt náměstí namesti třída trida nábřeží utca"
).split()

# Street types glued to the end of the name or written after it as a separate word (German, Dutch, Danish,
# Norwegian, Swedish, Icelandic, Finnish, Estonian, Hungarian, Latvian, Lithuanian): from each language's usual
# words for street, road, way, lane, square.
_TYPE_BEFORE_SET = frozenset(_TYPE_BEFORE)

_TYPE_GLUED = (
    "straße strasse str weg gasse platz allee ring damm ufer steig straat laan plein gracht kade dijk singel steeg "
    "vej gade stræde vænget allé veien vegen veg gata gate gaten gatan vägen väg gränd stigen bakken vegur stræti "
    "katu tie kuja polku tori väylä kaari rinne tee tänav utca út tér iela gatvė"
).split()

_TYPE_GLUED_TUPLE = tuple(_TYPE_GLUED)
_TYPE_GLUED_SET = frozenset(_TYPE_GLUED)
_NUM = r"\d{1,5}[A-Za-z]?"
_W = r"[^\W\d_][\w'’.-]*"  # a word that starts with a letter (any script)
_SP = r"[ \t]+"
_MEASURE = (
    r"(?![ \t]*(?:mg|mcg|µg|g|kg|ml|mL|l|L|%|years?|yrs?|y/?o|days?|weeks?|wks?|months?|hours?|hrs?|h|min(?:utes)?|"
    r"sec(?:onds)?|times|units?|cm|mm|m|km|lbs?|oz|x|mmHg|bpm|cc|mEq|IU)\b)"
)


def _alt(words: list[str]) -> str:
    return "(?:" + "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True)) + ")"


_CORES: list[tuple[str, re.Pattern[str]]] = [
    ("number + name + street type", re.compile(
        rf"(?:{_NUM}{_SP}){{1,2}}(?P<n>(?:(?:[NSEW]\.?|North|South|East|West){_SP})?(?:{_W}{_SP}){{0,3}}{_W}){_SP}"
        rf"(?P<t>{_alt(_SUFFIX_AFTER)})\b\.?(?:{_SP}(?:N|S|E|W|NE|NW|SE|SW)\b\.?)?", re.IGNORECASE)),
    ("street type + name + number", re.compile(
        rf"(?:{_NUM}{_SP}){{0,2}}\b{_alt(_TYPE_BEFORE)}\.?{_SP}(?:{_W}{_SP}){{0,4}}{_NUM}\b\.?{_MEASURE}", re.IGNORECASE)),
    ("number + street type + name", re.compile(
        rf"(?:{_NUM}{_SP}){{1,2}}\b{_alt(_TYPE_BEFORE)}\.?{_SP}(?:{_W}[ \t]?){{1,5}}", re.IGNORECASE)),
    # The type (glued, "Lindenstraße 4", or a word of its own, "Karl Johans gate 7") is checked in ``_core_ok``: an
    # alternation of endings tried at every letter is slow.
    ("name with glued street type + number", re.compile(
        rf"(?:{_NUM}{_SP}){{0,2}}(?:{_W}{_SP}){{0,2}}(?P<s>[^\W\d_]{{2,}})\.?{_SP}{_NUM}\b\.?{_MEASURE}")),
    ("number + name + number", re.compile(
        rf"{_NUM}{_SP}(?:{_W}{_SP}){{1,3}}{_NUM}\b{_MEASURE}(?=[ \t]*(?:[,\n]|$|(?:Apt|Suite|Unit|Flat|Ste)\b))", re.IGNORECASE)),
    ("PO box", re.compile(r"\b(?:P\.?[ \t]?O\.?[ \t]+Box|Post[ \t]+Office[ \t]+Box)[ \t]+\d{1,6}\b", re.IGNORECASE)),
    ("military", re.compile(
        rf"\b(?:(?:PSC|CMR|Unit)[ \t]+\d{{3,5}},?[ \t]+Box[ \t]+\d{{1,5}}|(?:USNS|USNV|USS|USCGC)[ \t]+{_W}(?:[ \t]{_W})?)"
        r"(?:[ \t]*\n?[ \t]*(?:APO|FPO|DPO)[ \t]+(?:AA|AE|AP)[ \t]+\d{5})?")),
    ("corner of A and B", re.compile(
        r"(?i:\b(?:corner|intersection|junction)[ \t]+of[ \t]+)(?P<v>[^\n?!;]{2,60}?[ \t]+(?:and|&)[ \t]+[^\n?!;,]{2,40}?)"
        r"(?=[ \t]*(?:[?!;,]|\.(?:\s|$)|$))")),
]

# Cores that can match without a digit (a ship's name in a military address, a street corner); the rest need one.
_CORES_WITHOUT_DIGIT = frozenset({"military", "corner of A and B"})

_SEP = re.compile(r"[ \t]*,[ \t]*(?:\n[ \t>?*|#-]*)?|[ \t]*\n[ \t>?*|#-]*(?:,[ \t]*)?|[ \t]+")
_UNIT = re.compile(
    r"(?:Apt|Apartment|Suite|Ste|Unit|Flat|Room|Rm|Floor|Fl|Bldg|Building|Box|No|#)\.?[ \t]*#?[ \t]*[A-Z0-9][A-Z0-9-]*\b",
    re.IGNORECASE)
# Postcode shapes: US ZIP(+4), Brazil 5+3, Sweden/Czechia/Greece/Slovakia 3+2, Poland 2-3, 4-digit (most of
# Europe, Australia), Netherlands 4+2 letters, UK outward+inward, Canada A1A 1A1.
_POSTCODE = re.compile(
    r"(?:\d{5}(?:-\d{3,4})?|\d{3}[ ]\d{2}|\d{2}-\d{3}|\d{4}(?:[ ][A-Z]{2}\b)?|[A-Z]{1,2}\d[A-Z\d]?[ ]\d[A-Z]{2}|"
    r"[A-Z]\d[A-Z][ ]?\d[A-Z]\d)\b")
_PW = r"[^\W\d_](?:[^\W\d_]|['’-])*\.?"  # a place-name word: letters only, so "LS6 2QT" stays a postcode
_PLACE = re.compile(rf"{_PW}(?!\w)(?:[ \t]+\(?{_PW}\)?(?!\w)){{0,4}}")
_STATE = re.compile(r"[A-Z]{2,3}\b\.?")
_END_OF_PLACE = re.compile(r"[ \t]*(?:[,\n?!;:]|\.(?:\s|$)|$|\d)")
# Lower-case words that may sit inside a place name ("Chiclana de la Frontera", "Stratford upon Avon").
_CONNECTORS = frozenset("de la las los del da do dos das di du des le les u v na nad pod am an der den im sur upon on y e en of the i".split())
_PLACE_STOP = frozenset(
    "and or but for with to from in at is was are were he she they we you i it this that who which my our your his her "
    "their last next yesterday today tomorrow please thanks".split())


def _cap(word: str) -> bool:
    return word[:1].isupper()


def _place_ok(words: list[str], lowercase_text: bool) -> bool:
    if not words or len(words) > 5 or any(w.lower().strip("().") in _PLACE_STOP for w in words):
        return False
    if lowercase_text:
        return len(words) <= 3
    return _cap(words[0]) and _cap(words[-1].lstrip("(")) and all(_cap(w.lstrip("(")) or w in _CONNECTORS for w in words)


@register
class StreetAddressRecognizer(RegexRecognizer):
    ENTITY = "STREET_ADDRESS"
    MAX_PARTS = 6

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        if "STREET_ADDRESS" not in entities:
            return []
        spans: list[tuple[int, int, str]] = []
        lowercase_text = not any(c.isupper() for c in text)
        digit = any(c.isdigit() for c in text)
        for name, rx in _CORES:
            if not digit and name not in _CORES_WITHOUT_DIGIT:
                continue  # every other core has a house number, box or unit number: skip the scan (most of the cost)
            for m in rx.finditer(text):
                if not _core_ok(m, lowercase_text):
                    continue
                start, end = m.span("v") if "v" in rx.groupindex else m.span()
                start = self._trim_start(text, start, end)
                if start is None:
                    continue
                spans.append((start, self._extend(text, end), name))
        out = []
        for start, end, why in _merge(spans):
            value = text[start:end].rstrip(" \t\n,>")
            if value.endswith(".") and len(value.split()[-1]) > 4:  # a full stop, not an abbreviation ("St.")
                value = value[:-1]
            out.append(self.result("STREET_ADDRESS", start, start + len(value), 0.7, why))
        return out

    @staticmethod
    def _trim_start(text: str, start: int, end: int) -> int | None:
        """Drop leading sentence words the pattern swallowed ("on C. Lindenstraße 4" → "C. Lindenstraße 4"); refuse
        cores without a single capitalised word in ordinary (mixed-case) text."""
        core = text[start:end]
        lowercase_text = not any(c.isupper() for c in text)
        words = list(re.finditer(r"\S+", core))
        for w in words:
            tok = w.group()
            if tok[0].isdigit() or _cap(tok) or lowercase_text or tok.lower().rstrip(".") in _TYPE_BEFORE_SET:
                start += w.start()
                break
        else:
            return None
        core = text[start:end]
        if not lowercase_text and not any(_cap(t) for t in re.findall(r"[^\W\d_][\w'’.-]*", core)):
            return None
        return start

    def _extend(self, text: str, end: int) -> int:
        """Walk over the unit, town, region, state and postcode parts that follow the street."""
        lowercase_text = not any(c.isupper() for c in text)
        for _ in range(self.MAX_PARTS):
            sep = _SEP.match(text, end)
            if not sep:
                break
            pos, same_line = sep.end(), "," not in sep.group() and "\n" not in sep.group()
            if sep.group().count("\n") > 1:
                break
            m = _UNIT.match(text, pos) or _POSTCODE.match(text, pos)
            if m:
                end = m.end()
                continue
            m = _PLACE.match(text, pos)
            if m:
                words = m.group().split()
                while words and not _place_ok(words, lowercase_text):
                    words.pop()  # "Boston Last week" → "Boston"
                if words and same_line and not _END_OF_PLACE.match(text, pos + _span_of_words(text[pos:m.end()], len(words))):
                    # on the street's own line only an upper-case town ("12 Oak St Apt 4 LEEDS Tuesday") is safe
                    while words and not words[-1].isupper():
                        words.pop()
                if words:
                    end = pos + _span_of_words(text[pos:m.end()], len(words))
                    continue
            m = _STATE.match(text, pos)
            if m and same_line:
                end = m.end()
                continue
            break
        return end


def _core_ok(m: re.Match[str], lowercase_text: bool) -> bool:
    """Checks a regular expression cannot make cheaply: in ordinary mixed-case text an English street is written with
    capitals ("12 Oak Lane", not "0 Vicryl suture on a CT"); a glued type ends the street's name ("Lindenstraße")."""
    groups = m.re.groupindex
    if "s" in groups:
        street = m.group("s")
        if street.lower() in _TYPE_GLUED_SET:  # the type as a word of its own: a name must come before it
            before = m.string[m.start():m.start("s")].split()
            return bool(before) and not before[-1][0].isdigit() and (lowercase_text or _cap(before[-1]))
        return street.lower().endswith(_TYPE_GLUED_TUPLE) and (lowercase_text or _cap(street))
    if lowercase_text:
        return True
    if "t" in groups:
        return _cap(m.group("t")) and all(_cap(w) for w in m.group("n").split())
    return True


def _span_of_words(s: str, n: int) -> int:
    """Length of the prefix of ``s`` holding its first ``n`` whitespace-separated words."""
    ms = list(re.finditer(r"\S+", s))
    return ms[n - 1].end() if n and len(ms) >= n else 0


def _merge(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    for s, e, why in sorted(spans):
        if out and s <= out[-1][1]:
            ps, pe, pwhy = out[-1]
            out[-1] = (ps, max(pe, e), pwhy)
        else:
            out.append((s, e, why))
    return out
