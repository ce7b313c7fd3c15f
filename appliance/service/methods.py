"""A generation method configured for one request: options from the request, seeds read through the vault.

Seeds are read with ``vault.list_seeds``, which only an author may call (reviewers and admins never read raw
seeds) and which the vault's roles enforce; only the seed set's name is stored in the job, never its records, so a
resumed job reads them again the same way. A method with a ``check`` (Aug-PE's privacy budget) is checked here,
before the job is created, so a refused request writes nothing.
"""

from __future__ import annotations

from typing import Any

from appliance.errors import BadInput
from appliance.generate import METHODS, Method, get_method
from appliance.guard.policy import Policy
from appliance.service.session import Session
from appliance.spec import TaskSpec


def build_method(
    session: Session | None,
    name: str,
    task: TaskSpec,
    options: dict[str, Any] | None = None,
    seed_set: str | None = None,
    policy: Policy | None = None,
) -> tuple[Method, dict[str, Any]]:
    """The configured method and what its check reported (e.g. ε, δ, σ and rounds for Aug-PE; empty otherwise).

    The policy decides two things here: seeds shown in prompts are redacted by the gate's anonymizer unless it
    allows raw seeds (``prompts.raw_seeds_allowed``), and its ε per seed set is the budget a DP method may spend
    (an explicit, smaller ``epsilon_budget`` option still wins)."""
    opts = dict(options or {})
    cls = METHODS.get(name)
    fields = set(getattr(cls, "__dataclass_fields__", {}))
    named = task.attribute_placeholders  # refused before the model loads, not as a literal "{NAME}" in every prompt
    if named and cls is not None and getattr(cls, "uses_label_prompts", True) and not getattr(cls, "fills_attributes", False):
        shown = ", ".join("{" + n + "}" for n in sorted(named))
        raise BadInput(f"task {task.name}: label prompts name attributes ({shown}); only attrprompt fills them, not {name}")
    if policy is not None and "epsilon_budget" in fields and policy.dp_epsilon_per_seed_set is not None:
        asked = opts.get("epsilon_budget")
        opts["epsilon_budget"] = min(asked, policy.dp_epsilon_per_seed_set) if asked else policy.dp_epsilon_per_seed_set
    if seed_set:
        if session is None:
            raise ValueError("reading a seed set needs a session")
        opts["seeds"] = [{"id": s["id"], "text": s["text"], "label": s["label"]} for s in session.vault.list_seeds(seed_set)]
    if policy is not None and opts.get("seeds") and "redact" in fields and not policy.raw_seeds_in_prompts:
        from appliance.guard.gate import seed_redactor

        opts["redact"] = seed_redactor(policy)
    method = get_method(name, opts)
    report = method.check(task) if hasattr(method, "check") else {}
    return method, dict(report or {})
