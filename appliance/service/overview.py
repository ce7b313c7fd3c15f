"""What the home screen shows: the vault's state, the models' verification, recent jobs and export requests,
each only as far as the user's role may see it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.service.models import ModelStatus, verify_models
from appliance.service.session import Session


@dataclass
class Overview:
    status: dict[str, Any]
    last_verification: dict[str, Any] | None  # the latest audit.verify entry (roles that read the log)
    models: list[ModelStatus] | None  # None when not verified this time (hashing every model file takes seconds)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    exports: list[dict[str, Any]] = field(default_factory=list)
    budgets: list["Budget"] = field(default_factory=list)  # privacy budget per seed set (roles that read the ledger)


@dataclass(frozen=True)
class Budget:
    """ε spent on a seed set's privacy ledger against the policy's budget (basic composition: sums)."""

    seed_set: str  # the name for authors; "#id" for reviewers, who may read the ledger but not the seed sets
    spent_epsilon: float
    spent_delta: float
    budget_epsilon: float
    charges: int

    @property
    def left_epsilon(self) -> float:
        return max(0.0, self.budget_epsilon - self.spent_epsilon)


def vault_status(session: Session) -> dict[str, Any]:
    """Where the vault is, its encryption, its size, its users by role and its contents, and who is signed in."""
    return session.vault.status()


def last_audit_verification(session: Session) -> dict[str, Any] | None:
    if not session.can("audit.read"):
        return None
    entries = session.vault.audit_entries(action="audit.verify")
    return entries[-1] if entries else None


def privacy_budgets(session: Session, policy: str = "default") -> list[Budget]:
    """Spent / budget per seed set under ``policy``'s budget. Authors see the sets by name; reviewers may read the
    ledger but not the seed sets, so theirs are by id (sets are never deleted: ids run 1..count); admins see none."""
    if not session.can("ledger.read"):
        return []
    from appliance.guard.policy import load_policy
    from appliance.service.adapters import budget_of

    budget = budget_of(load_policy(policy))
    vault = session.vault
    if session.can("seed.read"):
        refs: list[tuple[str, str | int]] = [(s["name"], s["name"]) for s in vault.list_seed_sets()]
    else:
        refs = [(f"#{i}", i) for i in range(1, vault.status()["counts"]["seed_sets"] + 1)]
    out = []
    for label, ref in refs:
        spent = vault.privacy_spent(ref)
        out.append(Budget(label, spent["epsilon"], spent["delta"], budget, len(spent["entries"])))
    return out


def overview(session: Session, home: Path, jobs: int = 8, verify: bool = True) -> Overview:
    """Everything for the home screen; ``verify`` hashes every model file (run it off the interface thread)."""
    can_exports = session.can("export.request") or session.can("export.decide")
    return Overview(
        status=vault_status(session),
        last_verification=last_audit_verification(session),
        models=verify_models(home) if verify else None,
        jobs=session.vault.list_jobs(limit=jobs) if session.can("record.read") else [],
        exports=session.vault.list_exports()[:jobs] if can_exports else [],
        budgets=privacy_budgets(session),
    )
