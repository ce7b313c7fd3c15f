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


def last_audit_verification(session: Session) -> dict[str, Any] | None:
    if not session.can("audit.read"):
        return None
    entries = session.vault.audit_entries(action="audit.verify")
    return entries[-1] if entries else None


def overview(session: Session, home: Path, jobs: int = 8, verify: bool = True) -> Overview:
    """Everything for the home screen; ``verify`` hashes every model file (run it off the interface thread)."""
    can_exports = session.can("export.request") or session.can("export.decide")
    return Overview(
        status=session.vault.status(),
        last_verification=last_audit_verification(session),
        models=verify_models(home) if verify else None,
        jobs=session.vault.list_jobs(limit=jobs) if session.can("record.read") else [],
        exports=session.vault.list_exports()[:jobs] if can_exports else [],
    )
