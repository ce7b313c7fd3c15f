"""Phone numbers in national groupings, postcodes and card numbers recognised from the word that announces them."""

from __future__ import annotations

import pytest

FOUND = [
    ("Please ring me on 0494 92 82 32 after lunch.", "PHONE_NUMBER", "0494 92 82 32"),
    ("You can reach me at 01.84.17.61.18 tomorrow.", "PHONE_NUMBER", "01.84.17.61.18"),
    ("Ana Lima\n781 1704 office\nana@example.org", "PHONE_NUMBER", "781 1704"),
    ("Her postcode is SW1A 1AA.", "ZIP_CODE", "SW1A 1AA"),
    ("Postal code: 53-320", "ZIP_CODE", "53-320"),
    ("The card 2223 0000 4841 0010 was declined.", "CREDIT_CARD", "2223 0000 4841 0010"),  # Mastercard 2-series
]


@pytest.mark.parametrize("text,entity,value", FOUND, ids=[v for _, _, v in FOUND])
def test_cued_identifiers_found(scanner, text: str, entity: str, value: str) -> None:
    found = {text[f.start:f.end] for f in scanner.scan([text])[0] if f.entity == entity}
    assert value in found, found


@pytest.mark.parametrize("text,entity", [
    ("The card 2223 0000 4841 0011 was declined.", "CREDIT_CARD"),  # fails the Luhn check
    ("Call me in 2 weeks about the 10 mg dose.", "PHONE_NUMBER"),
    ("Cell count was 12 000 per microlitre.", "PHONE_NUMBER"),
])
def test_cue_without_an_identifier_finds_nothing(scanner, text: str, entity: str) -> None:
    assert not [text[f.start:f.end] for f in scanner.scan([text])[0] if f.entity == entity]


def test_luhn() -> None:
    from appliance.guard.recognizers.contact import luhn_valid

    assert luhn_valid("4111111111111111") and luhn_valid("79927398713")
    assert not luhn_valid("4111111111111112")


@pytest.mark.parametrize("text,code", [
    ("She resides in Boise, Idaho 83790 with her aunt.", "83790"),
    ("Forwarding address: Providence, Rhode Island 02945.", "02945"),
    ("Mail to 12 Elm Cres, Ottawa, ON K2V 6K5.", "K2V 6K5"),
    ("Albany, NY 12284-0001", "12284-0001"),
])
def test_postcodes_after_a_state_name_or_a_province(text: str, code: str) -> None:
    from appliance.guard.recognizers.contact import ZipCodeRecognizer

    assert [text[r.start:r.end] for r in ZipCodeRecognizer().analyze(text, ["ZIP_CODE"])] == [code]


def test_a_state_name_before_a_year_is_no_postcode() -> None:
    from appliance.guard.recognizers.contact import ZipCodeRecognizer

    assert ZipCodeRecognizer().analyze("Moved from Texas 1985, then Ohio in 2001.", ["ZIP_CODE"]) == []
