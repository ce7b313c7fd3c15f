from __future__ import annotations

from pathlib import Path

import pytest

from appliance.generate.common import read_seed_file
from appliance.spec import load_task

TASKS = Path(__file__).resolve().parents[2] / "tasks"


@pytest.fixture(scope="session")
def sst2():
    return load_task(TASKS / "sst2_sentiment.toml")


@pytest.fixture(scope="session")
def sst2_seeds():
    return read_seed_file(TASKS / "seeds" / "sst2_sentiment.jsonl")


def collect(method, model, task, n, seed=0):
    out = []
    for batch in method.run(model, task, n, seed=seed):
        out += batch
    return out
