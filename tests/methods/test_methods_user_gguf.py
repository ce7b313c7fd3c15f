"""A user's larger GGUF works with every method (issue #15, part 5): the shipped Gemma 3 270M *base* file, registered
with `models add` as the user's own, runs each registered method through the service layer (vault, privacy gate,
job) for a few records. A base model has no chat template, so `models add` must record it as not instruction-tuned
and every method must build raw completion prompts for it. Seed-reading methods get a seed set from the vault; the
options in CHEAP (where a method declares them) keep each job to a few seconds (the compute copy is made once, by the
first job of the module)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from appliance.generate import METHODS, method_class
from tests.conftest import TASKS
from tests.vault.vault_helpers import init_author_home

PW = "user-gguf-passphrase-1"
N = 2
# One round, small feedback pools, little over-generation: the least work each method's loop allows.
CHEAP = {"rounds": 1, "val_per_label": 2, "pool_per_label": 2, "n_demos": 2, "oversample": 2.0}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, model_home: Path) -> Path:
    """A vault with an author, the Gemma base GGUF added as `my-gemma`, and the shipped SST-2 seeds as a seed set."""
    from appliance.engine.registry import Registry
    from appliance.generate.common import read_seed_file
    from appliance.service.models import add_model
    from appliance.service.session import Session

    _, gguf = Registry(model_home).verified_path("gemma3-270m")  # assembled once into the session's model cache
    home = tmp_path_factory.mktemp("user-gguf")
    init_author_home(home, PW)
    with Session.open(home, "ana", PW) as s:
        entry = add_model(home, gguf, name="my-gemma", session=s)
        s.vault.import_seeds("sst", read_seed_file(TASKS / "seeds" / "sst2_sentiment.jsonl"))
    assert (entry.architecture, entry.instruct, entry.source_kind) == ("gemma3", False, "file")
    return home


def request_for(method: str) -> Any:
    """``N`` records of ``method``; seeds and the CHEAP options where the method declares them."""
    from appliance.service.generation import GenerationRequest
    from appliance.spec import load_task

    cls = method_class(method)
    options = {k: v for k, v in CHEAP.items() if k in cls.declared()}
    return GenerationRequest(task=load_task(TASKS / "sst2_sentiment.toml"), method=method, n=N, model="my-gemma",
                             seed=1, max_parallel=8, method_options=options,
                             seed_set="sst" if cls.capabilities.needs_seeds else None)


@pytest.mark.model
@pytest.mark.parametrize("method", METHODS.names())
def test_every_method_runs_on_a_user_base_gguf(home: Path, method: str) -> None:
    from appliance.service.generation import run_generation
    from appliance.service.session import Session

    with Session.open(home, "ana", PW) as s:
        result = run_generation(s, home, request_for(method))
        job = s.vault.get_job(result.job_id)
    assert job["status"] == "succeeded" and job["config"]["model"] == "my-gemma"
    assert result.records, f"{method}: no record accepted ({result.dropped})"
    assert {r["label"] for r in result.records} <= {"positive", "negative"}
    assert all(r["text"].strip() for r in result.records)
