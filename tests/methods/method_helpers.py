"""Helpers the method tests import by a unique name (``from conftest import …`` picks whichever folder's conftest
was imported first when folders are run together)."""

from __future__ import annotations

from pathlib import Path

TASKS = Path(__file__).resolve().parents[2] / "tasks"


def collect(method, model, task, n, seed=0):
    out = []
    for batch in method.run(model, task, n, seed=seed):
        out += batch
    return out
