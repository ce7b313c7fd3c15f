"""Contact identifiers: phone formats Presidio's ``phonenumbers``-based recognizer misses, street addresses and ZIP
codes (Safe Harbor's geographic subdivisions smaller than a state)."""

from __future__ import annotations

import re

from appliance.guard.recognizers import register
from appliance.guard.recognizers.base import CASE_SENSITIVE, RegexRecognizer

# USPS Publication 28 street suffixes (the common ones, full and abbreviated).
_SUFFIX = (
    r"(?:Street|St|Avenue|Ave|Av|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter|Circle|Cir|"
    r"Parkway|Pkwy|Highway|Hwy|Square|Sq|Trail|Trl|Alley|Aly|Loop|Row|Crescent|Close|Path|Pike|Plaza|Plz|Ridge|Run|"
    r"Point|Pt|Crossing|Xing|Creek|Heights|Hts|Hills?|Park|Gardens?|Green|Springs?|Station|Sta|Summit|View|Vista|Walk|"
    r"Wells?|Mills?|Manor|Meadows?|Junction|Jct|Knolls?|Landing|Lakes?|Islands?|Harbor|Grove|Forest|Falls|Estates?|"
    r"Glen|Fields?|Ferry|Ford|Expressway|Expy|Courts|Cove|Corners?|Common|Cliffs?|Centers?|Causeway|Canyon|Brooks?|"
    r"Bridge|Branch|Bluffs?|Bend|Beach|Mountain|Mount|Orchard|Oval|Pass|Pines?|Plains?|Port|Prairie|Ranch|Rapids?|"
    r"River|Route|Rte|Shores?|Spur|Stream|Trace|Track|Tunnel|Turnpike|Tpke|Valley|Vly|Villages?|Ville|Vis|Via)"
)
_UNIT = r"(?:\s*,?\s*(?:Apt|Apartment|Suite|Ste|Unit|#|Room|Rm|Floor|Fl|Bldg|Building)\.?\s*#?\s*[A-Z0-9-]+)?"
_STATES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK "
    "OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR GU VI AS MP"
).split()
_STATE = "(?:" + "|".join(_STATES) + ")"
_CITY_STATE_ZIP = rf"(?:\s*,?\s*\n?\s*(?:[A-Z][a-zA-Z.'-]+\s+){{0,3}}[A-Z][a-zA-Z.'-]+,?\s+(?:{_STATE}|[A-Z][a-z]+)\.?(?:\s+\d{{5}}(?:-\d{{4}})?)?)?"


@register
class UsPhoneRecognizer(RegexRecognizer):
    """North American and international formats written the ways people write them (dots, spaces, extensions)."""

    ENTITY = "PHONE_NUMBER"
    PATTERNS = [
        ("NANP", r"(?<![\w/.-])(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}(?:\s*(?:x|ext\.?|extension)\s*\d{1,5})?(?![\w/-])", 0.6),
        ("international", r"(?<![\w/.-])\+\d{1,3}[\s.-]?(?:\(?\d{1,4}\)?[\s.-]?){2,5}\d{2,4}(?:\s*(?:x|ext\.?)\s*\d{1,5})?(?![\w/-])", 0.6),
        ("labelled", r"\b(?:phone|tel|telephone|fax|cell|mobile|pager|call)\s*(?:number|no\.?|#)?\s*[:#.]?\s*(?P<v>\+?[\d(][\d\s().-]{6,18}\d)", 0.75),
    ]

    def validate(self, value: str, match: re.Match[str]) -> bool:
        digits = sum(c.isdigit() for c in value)
        return 7 <= digits <= 15


@register
class StreetAddressRecognizer(RegexRecognizer):
    ENTITY = "STREET_ADDRESS"
    FLAGS = CASE_SENSITIVE
    PATTERNS = [
        (
            "number + street + suffix",
            rf"\b\d{{1,6}}[A-Z]?\s+(?:[NSEW]\.?\s+|North\s+|South\s+|East\s+|West\s+)?(?:[A-Z0-9][a-zA-Z0-9'.-]*\s+){{0,3}}"
            rf"[A-Z][a-zA-Z'.-]*\s+{_SUFFIX}\b\.?(?:\s+(?:N|S|E|W|NE|NW|SE|SW)\b\.?)?{_UNIT}{_CITY_STATE_ZIP}",
            0.7,
        ),
        ("PO box", r"\b(?:P\.?\s?O\.?\s+Box|Post\s+Office\s+Box)\s+\d{1,6}\b", 0.7),
    ]


@register
class ZipCodeRecognizer(RegexRecognizer):
    ENTITY = "ZIP_CODE"
    PATTERNS = [
        ("state + zip", rf"(?-i:\b{_STATE}\.?,?\s+(?P<v>\d{{5}}(?:-\d{{4}})?)\b)", 0.7),
        ("labelled zip", r"\b(?:zip(?:\s*code)?|postal\s+code|post\s*code)\s*[:#]?\s*(?P<v>\d{5}(?:-\d{4})?)\b", 0.8),
    ]
