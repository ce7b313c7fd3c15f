"""One PII scanner (spaCy model loaded once) shared by the gate tests."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def scanner():
    from appliance.guard.pii import PiiScanner
    from appliance.guard.recognizers import known_entities

    return PiiScanner(known_entities())
