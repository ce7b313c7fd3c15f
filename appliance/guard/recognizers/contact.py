"""Contact identifiers: phone formats Presidio's ``phonenumbers``-based recognizer misses, and ZIP/postal codes
(Safe Harbor's geographic subdivisions smaller than a state). Street addresses are in ``address``."""

from __future__ import annotations

import re

from appliance.guard.recognizers import register
from appliance.guard.recognizers.base import CASE_SENSITIVE, RegexRecognizer

_STATES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK "
    "OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR GU VI AS MP"
).split()
_STATE = "(?:" + "|".join(_STATES) + ")"


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
class ZipCodeRecognizer(RegexRecognizer):
    ENTITY = "ZIP_CODE"
    PATTERNS = [
        ("state + zip", rf"(?-i:\b{_STATE}\.?,?\s+(?P<v>\d{{5}}(?:-\d{{4}})?)\b)", 0.7),
        ("labelled zip", r"\b(?:zip(?:\s*code)?|postal\s+code|post\s*code)\s*[:#]?\s*(?P<v>\d{5}(?:-\d{4})?)\b", 0.8),
    ]
