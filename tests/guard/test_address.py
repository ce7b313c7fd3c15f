"""The multi-locale street address recognizer: street type before, after or glued to the name, multi-line
addresses with unit, town and postcode, and no addresses made out of doses or plain numbers."""

from __future__ import annotations

import pytest

ADDRESSES = [
    ("Send it to 42 Willow Crescent, Leeds LS6 2QT please.", "42 Willow Crescent, Leeds LS6 2QT"),
    ("Her flat is at Rua das Flores 128, Coimbra.", "Rua das Flores 128, Coimbra"),
    ("He moved to 9 rue Victor Hugo\nApt. 3\nLyon\nFrance 69002", "9 rue Victor Hugo\nApt. 3\nLyon\nFrance 69002"),
    ("Clinic mail goes to Lindenstraße 14, 10115 Berlin.", "Lindenstraße 14, 10115 Berlin"),
    ("Patient lives on ul. Ogrodowa 7, Łódź.", "ul. Ogrodowa 7, Łódź"),
    ("Forwarding address: Mannerheimintie 21 B\nHelsinki", "Mannerheimintie 21 B\nHelsinki"),
    ("Return to 1200 Aster Court Suite 300, Dayton, OH 45402.", "1200 Aster Court Suite 300, Dayton, OH 45402"),
    ("Meet at the corner of Elm Street and Fifth Avenue.", "Elm Street and Fifth Avenue"),
    ("PSC 1234, Box 5678\nAPO AE 09012", "PSC 1234, Box 5678\nAPO AE 09012"),
]


@pytest.mark.parametrize("text,address", ADDRESSES, ids=[a for _, a in ADDRESSES])
def test_addresses_in_several_locales(scanner, text: str, address: str) -> None:
    found = [text[f.start:f.end] for f in scanner.scan([text])[0] if f.entity == "STREET_ADDRESS"]
    assert any(address in v for v in found), found


@pytest.mark.parametrize("text", [
    "Started Aspirin 81 mg daily and Metoprolol 25 mg twice a day.",
    "Follow up in 2 weeks; Room 4 was cleaned at 10 am.",
    "He walked 3 miles via the park yesterday.",
    "BP 128/82, HR 74, temperature 37.2, weight 82 kg.",
])
def test_doses_and_numbers_are_not_addresses(scanner, text: str) -> None:
    assert not [f for f in scanner.scan([text])[0] if f.entity == "STREET_ADDRESS"]
