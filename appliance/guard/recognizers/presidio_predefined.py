"""The Presidio predefined recognizers the gate uses, each with what a text must hold for it to find anything.

Presidio loads them with its own configuration (context words, regions); the others it ships (UK NHS numbers,
crypto wallets, MAC addresses, UUIDs) report nothing a policy names, so the analyzer leaves them out.

- Every pattern for a number-shaped identifier has a digit in it. US driver licences: every alternative of the
  pinned Presidio's two patterns has [0-9] (``tests/guard/test_prescreen.py`` checks the patterns).
- A phone number: Presidio's recognizer accepts only numbers that ``phonenumbers`` validates for one of its
  regions, and no region there has a valid number shorter than 4 digits (Germany's shortest; the metadata's
  ``possible_length``). It is the costliest pattern recognizer (it parses every digit run for eight regions), and
  most clinical numbers are doses and sizes.
- E-mail: an '@'; URL: a dot followed by a letter; IP address: a digit or a colon (IPv6 may be all letters).
- The NER model (``SpacyRecognizer``) reports what ``pii.NER_MAPPING`` maps its labels to; what it needs to see is
  ``prescreen.NerPrescreen``'s to decide, so each of its entities reads the model's spans of that entity.
"""

from __future__ import annotations

from appliance.guard.pii import NER_MAPPING
from appliance.guard.prescreen import Needs
from appliance.guard.recognizers import adopt

DIGIT = Needs(digits=1)

for _name, _entity in [
    ("CreditCardRecognizer", "CREDIT_CARD"), ("UsBankRecognizer", "US_BANK_NUMBER"),
    ("UsLicenseRecognizer", "US_DRIVER_LICENSE"), ("UsItinRecognizer", "US_ITIN"),
    ("UsPassportRecognizer", "US_PASSPORT"), ("UsSsnRecognizer", "US_SSN"), ("IbanRecognizer", "IBAN_CODE"),
    ("MedicalLicenseRecognizer", "MEDICAL_LICENSE"),
]:
    adopt(_name, {_entity: DIGIT})
adopt("PhoneRecognizer", {"PHONE_NUMBER": Needs(digits=4)})
adopt("EmailRecognizer", {"EMAIL_ADDRESS": Needs(text="@")})
adopt("UrlRecognizer", {"URL": Needs(text=r"\.[^\W\d_]")})
adopt("IpRecognizer", {"IP_ADDRESS": Needs(text=r"[:\d]")})
adopt("DateRecognizer", {"DATE_TIME": Needs()})
adopt("SpacyRecognizer", {e: Needs(model=frozenset({e})) for e in sorted(set(NER_MAPPING.values()))})
