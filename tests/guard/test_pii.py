"""PII scanning: our HIPAA/FERPA recognizers on top of Presidio, offline by construction, explicit degraded mode."""

from __future__ import annotations

import socket

import pytest

from appliance.errors import UserError
from appliance.guard import pii

CASES = [
    ("Seen by Dr. Okafor; MRN: 00482913.", {"PERSON": "Okafor", "MEDICAL_RECORD_NUMBER": "00482913"}),
    ("Member ID: QHP44819203 on file.", {"HEALTH_PLAN_ID": "QHP44819203"}),
    ("Billing account number 7734-99120 is overdue.", {"ACCOUNT_NUMBER": "7734-99120"}),
    ("Pacemaker serial no. PM-449201-X checked.", {"DEVICE_ID": "PM-449201-X"}),
    ("The 94-year-old was admitted on March 3, 2021.", {"AGE_OVER_89": "94", "PERSON_DATE": "March 3, 2021"}),
    ("DOB: 04/11/1987, transferred from Riverside General Hospital.", {"PERSON_DATE": "04/11/1987", "FACILITY": "Riverside General Hospital"}),
    ("Lives at 17 Birchwood Lane, Apt 4, Dayton, OH 45402.", {"STREET_ADDRESS": "17 Birchwood Lane", "ZIP_CODE": "45402"}),
    ("Call 555.201.7788 or (555) 201-7789 ext 4.", {"PHONE_NUMBER": "555.201.7788"}),
    ("VIN 1HGCM82633A004352 registered.", {"VEHICLE_ID": "1HGCM82633A004352"}),
    ("Student ID: 20419387 at Jefferson Middle School.", {"STUDENT_ID": "20419387", "SCHOOL": "Jefferson Middle School"}),
    ("Priya Raman received a C- in chemistry this term.", {"STUDENT_GRADE": "Priya Raman received a C-"}),
    ("Email j.doe@example.org or see https://clinic.example.org/x from 10.2.3.4.",
     {"EMAIL_ADDRESS": "j.doe@example.org", "URL": "https://clinic.example.org/x", "IP_ADDRESS": "10.2.3.4"}),
]


@pytest.mark.parametrize("text,expected", CASES, ids=[c[0][:24] for c in CASES])
def test_recognizers_find_safe_harbor_and_ferpa_identifiers(scanner, text: str, expected: dict[str, str]) -> None:
    found = {(f.entity, text[f.start:f.end]) for f in scanner.scan([text])[0]}
    for entity, value in expected.items():
        assert any(e == entity and value in v for e, v in found), (entity, value, found)


def test_clinical_text_without_identifiers_is_clean(scanner) -> None:
    text = "Burning epigastric pain 30 min after meals for two months; 8-week PPI trial, BP 128/82, HR 74."
    blocking = {"PERSON", "PHONE_NUMBER", "MEDICAL_RECORD_NUMBER", "STREET_ADDRESS", "US_SSN", "ACCOUNT_NUMBER"}
    assert not [f for f in scanner.scan([text])[0] if f.entity in blocking]


def test_batch_scan_keeps_order_and_skips_empty(scanner) -> None:
    texts = ["", "Call 555-201-7788.", "   ", "Nothing to see."]
    out = scanner.scan(texts)
    assert out[0] == [] and out[2] == [] and [f.entity for f in out[1]] == ["PHONE_NUMBER"]


def test_a_full_scan_opens_no_network_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    """Build the analyzer from scratch and scan an e-mail address (tldextract's trigger) with the network cut."""
    def refuse(*a, **k):
        raise AssertionError(f"network access attempted: {a!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    import tldextract.tldextract as tx

    monkeypatch.setattr(tx, "TLD_EXTRACTOR", tx.TLDExtract())  # as shipped: would fetch the suffix list
    from appliance.guard.pii import PiiScanner
    from appliance.guard.recognizers import known_entities

    s = PiiScanner(known_entities())
    out = s.scan(["Write to maria.lopez@university.edu or call +1 617 555 0142, John Smith, 12 Elm Street."])[0]
    assert {"EMAIL_ADDRESS", "PHONE_NUMBER", "PERSON"} <= {f.entity for f in out}


def test_missing_model_is_refused_unless_the_policy_allows_degraded_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pii, "model_installed", lambda name=pii.MODEL_NAME: False)
    with pytest.raises(UserError, match="allow_degraded"):
        pii.PiiScanner({"PERSON", "EMAIL_ADDRESS"}, allow_degraded=False)
    s = pii.PiiScanner({"PERSON", "EMAIL_ADDRESS", "US_SSN"}, allow_degraded=True)
    assert s.degraded
    found = {f.entity for f in s.scan(["John Smith, john@example.com, SSN 078-05-1120"])[0]}
    assert "EMAIL_ADDRESS" in found and "PERSON" not in found
