"""Contact identifiers: phone formats Presidio's ``phonenumbers``-based recognizer misses, ZIP/postal codes
(Safe Harbor's geographic subdivisions smaller than a state: after a state's abbreviation or name, a Canadian
province, or a label) and card numbers given as such. Street addresses are in
``address``."""

from __future__ import annotations

import re

from appliance.guard.prescreen import Needs
from appliance.guard.recognizers import register
from appliance.guard.recognizers.base import RegexRecognizer

_STATES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK "
    "OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR GU VI AS MP"
).split()
_STATE_NAMES = (
    "Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|District of Columbia|Florida|Georgia|"
    "Hawaii|Idaho|Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|Michigan|Minnesota|"
    "Mississippi|Missouri|Montana|Nebraska|Nevada|New Hampshire|New Jersey|New Mexico|New York|North Carolina|"
    "North Dakota|Ohio|Oklahoma|Oregon|Pennsylvania|Rhode Island|South Carolina|South Dakota|Tennessee|Texas|Utah|"
    "Vermont|Virginia|Washington|West Virginia|Wisconsin|Wyoming|Puerto Rico|Guam"
).split("|")
_STATE = "(?:" + "|".join(_STATES + [n.replace(" ", r"\s+") for n in _STATE_NAMES]) + ")"
# Canadian provinces and territories, before a postcode ("ON K2V 6K5").
_PROVINCE = "(?:AB|BC|MB|NB|NL|NS|NT|NU|ON|PE|QC|SK|YT)"


@register
class UsPhoneRecognizer(RegexRecognizer):
    """North American and international formats written the ways people write them (dots, spaces, extensions)."""

    ENTITY = "PHONE_NUMBER"
    NEEDS = Needs(digits=7)  # ``validate``
    PATTERNS = [
        ("NANP", r"(?<![\w/.-])(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}(?:\s*(?:x|ext\.?|extension)\s*\d{1,5})?(?![\w/-])", 0.6),
        ("international", r"(?<![\w/.-])\+\d{1,3}[\s.-]?(?:\(?\d{1,4}\)?[\s.-]?){2,5}\d{2,4}(?:\s*(?:x|ext\.?)\s*\d{1,5})?(?![\w/-])", 0.6),
        ("labelled", r"\b(?:phone|tel|telephone|fax|cell|mobile|pager|call)\s*(?:number|no\.?|#)?\s*[:#.]?\s*(?P<v>\+?[\d(][\d\s().-]{6,18}\d)", 0.75),
        # Any national grouping ("0494 92 82 32", "01.84.17.61.18", "79 2718 1155") a few words after a word that
        # announces a phone number, on the same line ...
        ("cue word before", r"\b(?:phone|tel|telephone|call|calling|ring|mobile|cell|cellphone|fax|pager|text|sms|whatsapp|"
                            r"dial|reach|answering|messages?)\b[^\n\d@]{0,20}?(?P<v>\+?\(?\d{1,5}\)?(?:[ .-]\(?\d{1,6}\)?){0,5})(?![\w/:@.-]\w|\w)", 0.7),
        # ... or followed by the line's label, as in signatures ("416 60 039 office", "07700 063 966-Fax").
        ("label after", r"(?<![\w.+/)-])(?P<v>\+?\(?\d{1,5}\)?(?:[ .-]\(?\d{1,6}\)?){1,5})[ \t-]*(?:office|mobile|cell|fax|home|work|desk)\b", 0.7),
    ]

    def validate(self, value: str, match: re.Match[str]) -> bool:
        digits = sum(c.isdigit() for c in value)
        return 7 <= digits <= 15


@register
class ZipCodeRecognizer(RegexRecognizer):
    ENTITY = "ZIP_CODE"
    NEEDS = Needs(digits=1)
    PATTERNS = [
        ("state + zip", rf"(?-i:\b{_STATE}\.?,?\s+(?P<v>\d{{5}}(?:-\d{{4}})?)\b)", 0.7),
        ("province + postcode", rf"(?-i:\b{_PROVINCE}\.?,?\s+(?P<v>[A-Z]\d[A-Z]\s?\d[A-Z]\d)\b)", 0.8),
        ("labelled zip", r"\b(?:zip(?:\s*code)?|postal\s+code|post\s*code)\s*[:#]?\s*(?P<v>\d{5}(?:-\d{4})?)\b", 0.8),
        # Other countries' postcodes after the same labels: digits in one or two groups ("3520", "394 13"), Polish ("53-320"),
        # British ("SW1A 1AA") and Canadian ("K1A 0B1") shapes.
        ("labelled postcode", r"\b(?:zip(?:\s*code)?|postal\s+code|post\s*code|postcode)(?:\s+is)?\s*[:#]?\s*"
                              r"(?P<v>\d{3,6}(?:[ -]\d{2,4})?|\d\d-\d{3}|[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}|[A-Z]\d[A-Z]\s?\d[A-Z]\d)(?![\w-])", 0.9),
    ]


def luhn_valid(digits: str) -> bool:
    """The check digit every payment card number carries (ISO/IEC 7812)."""
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


@register
class LabelledCardRecognizer(RegexRecognizer):
    """Card numbers Presidio's recognizer misses (its issuer prefixes leave out Mastercard's 2-series, JCB's 2131 and
    19-digit cards): 12 to 19 digits, optionally in groups, a few words after 'card', 'cc' or a card brand, with a
    valid Luhn check digit."""

    ENTITY = "CREDIT_CARD"
    NEEDS = Needs(digits=12)
    PATTERNS = [(
        "card cue + Luhn",
        r"\b(?:card|cc|visa|mastercard|amex|maestro|jcb|discover)\b[^\n\d]{0,25}?(?P<v>\d(?:[ -]?\d){11,18})(?![\w-])",
        0.8,
    )]

    def validate(self, value: str, match: re.Match[str]) -> bool:
        digits = "".join(c for c in value if c.isdigit())
        return 12 <= len(digits) <= 19 and luhn_valid(digits)
