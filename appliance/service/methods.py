"""A generation method configured for one request: options from the request, seeds read through the vault.

Seeds are read with ``vault.list_seeds``, which only an author may call (reviewers and admins never read raw
seeds) and which the vault's roles enforce; only the seed set's name is stored in the job, never its records, so a
resumed job reads them again the same way. A method with a ``check`` (Aug-PE's privacy budget) is checked here,
before the job is created, so a refused request writes nothing.
"""

from __future__ import annotations

from typing import Any

from appliance.generate import Method, get_method
from appliance.service.session import Session
from appliance.spec import TaskSpec


def build_method(
    session: Session | None, name: str, task: TaskSpec, options: dict[str, Any] | None = None, seed_set: str | None = None
) -> tuple[Method, dict[str, Any]]:
    """The configured method and what its check reported (e.g. ε, δ, σ and rounds for Aug-PE; empty otherwise)."""
    opts = dict(options or {})
    if seed_set:
        if session is None:
            raise ValueError("reading a seed set needs a session")
        opts["seeds"] = [{"id": s["id"], "text": s["text"], "label": s["label"]} for s in session.vault.list_seeds(seed_set)]
    method = get_method(name, opts)
    report = method.check(task) if hasattr(method, "check") else {}
    return method, dict(report or {})
