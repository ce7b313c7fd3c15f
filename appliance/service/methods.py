"""A generation method configured for one request: options from the request, seeds read through the vault.

Seeds are read with ``vault.list_seeds``, which only an author may call (reviewers and admins never read raw
seeds) and which the vault's roles enforce; only the seed set's name is stored in the job, never its records, so a
resumed job reads them again the same way. What a method needs and does comes from its declared capabilities, and
its ``check`` (Aug-PE's privacy budget) runs here, before the job is created, so a refused request writes nothing.
"""

from __future__ import annotations

from typing import Any

from appliance.errors import BadInput
from appliance.generate import Method, get_method, method_class
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
    caps = method_class(name).capabilities
    named = task.attribute_placeholders  # refused before the model loads, not as a literal "{NAME}" in every prompt
    if named and caps.uses_label_prompts and not caps.fills_attributes:
        shown = ", ".join("{" + n + "}" for n in sorted(named))
        raise BadInput(f"task {task.name}: label prompts name attributes ({shown}); only attrprompt fills them, not {name}")
    if policy is not None and caps.spends_privacy and policy.dp_epsilon_per_seed_set is not None:
        asked = opts.get("epsilon_budget")
        opts["epsilon_budget"] = min(asked, policy.dp_epsilon_per_seed_set) if asked else policy.dp_epsilon_per_seed_set
    if seed_set:
        if session is None:
            raise ValueError("reading a seed set needs a session")
        opts["seeds"] = [{"id": s["id"], "text": s["text"], "label": s["label"]} for s in session.vault.list_seeds(seed_set)]
    if policy is not None and opts.get("seeds") and caps.shows_seeds and not policy.raw_seeds_in_prompts:
        from appliance.guard.gate import seed_redactor

        opts["redact"] = seed_redactor(policy)
    method = get_method(name, opts)
    return method, dict(method.check(task) or {})


def seeds_sent_to_workers(method: Method, policy: Policy) -> str:
    """What seed text a job decoded outside this process (Ray workers, another machine) sends there: "none",
    "redacted" or "raw". Seeds leave the driver only inside the prompts of a method that shows seeds, and raw only
    when the policy allows raw seeds in prompts (``prompts.raw_seeds_allowed``); anything else is refused here,
    before a prompt leaves. ``build_method`` already redacts where the policy asks: this is the check that holds for
    a method built any other way, and the value the job's audit entry records."""
    if not method.seeds or not method.capabilities.shows_seeds:
        return "none"
    if method.redact is not None:
        return "redacted"
    if policy.raw_seeds_in_prompts:
        return "raw"
    raise BadInput(f"policy {policy.name} does not allow raw seeds in prompts, and method {method.name} would send "
                   "them unredacted to the cluster's workers")
