from __future__ import annotations

import pytest

from appliance.generate.common import read_seed_file
from appliance.spec import load_task
from tests.methods.method_helpers import TASKS


@pytest.fixture(scope="session")
def sst2():
    return load_task(TASKS / "sst2_sentiment.toml")


@pytest.fixture(scope="session")
def sst2_seeds():
    return read_seed_file(TASKS / "seeds" / "sst2_sentiment.jsonl")
