"""The audit log as the CLI and the TUI read it: entries (filtered), verification, the anchor digest, and export as
JSON Lines. The vault checks the role (``audit.read``, ``audit.verify``) and signs what it appends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from appliance.service.session import Session
from appliance.vault.audit import VerifyResult


def entries(
    session: Session, user: str | None = None, action: str | None = None, since: str | None = None,
    until: str | None = None,
) -> list[dict[str, Any]]:
    """Entries oldest first; ``action`` may end in ``*`` to match a prefix, times are the vault's UTC text form."""
    return session.vault.audit_entries(user=user, action=action, since=since, until=until)


def verify(session: Session, anchor: str | None = None) -> VerifyResult:
    """Check the hash chain, every signature and the checkpoint (and that the log still extends ``anchor``)."""
    return session.vault.verify_audit(anchor)


def anchor(session: Session) -> str:
    """A short digest of the log's head, to keep outside this machine (``verify`` proves the log extends it)."""
    return session.vault.audit_anchor()


def export_jsonl(
    session: Session, path: str | Path, *, force: bool = False, user: str | None = None, action: str | None = None,
    since: str | None = None, until: str | None = None,
) -> int:
    """Write the filtered entries as JSON Lines to ``path`` (outside the home); the number written."""
    return session.vault.export_audit(Path(path), force=force, user=user, action=action, since=since, until=until)
