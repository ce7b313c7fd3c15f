"""A user's session: the opened vault, who they are, and what their role lets them do.

The vault itself refuses anything the role does not allow (so generation code calling it directly is
held to the same rules); the session is where the CLI and the TUI ask first, so they can hide what a
user cannot do, and where multi-step operations (import a file for a task) live.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Collection

from appliance.errors import BadInput
from appliance.vault import roles
from appliance.vault.seed_import import ImportResult, import_file
from appliance.vault.store import Vault


class Session:
    """An opened vault plus the current user and role. Close it (or use ``with``) to release the vault."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault

    @classmethod
    def open(cls, home: str | Path | None, user: str | None, passphrase: str) -> "Session":
        if not user:
            raise BadInput("no user name given")
        return cls(Vault.open(home, user, passphrase))

    @classmethod
    def init(cls, home: str | Path | None, admin_user: str | None, passphrase: str) -> "Session":
        if not admin_user:
            raise BadInput("no user name given for the first admin")
        return cls(Vault.create(home, admin_user, passphrase))

    @property
    def user(self) -> str:
        return self.vault.user

    @property
    def role(self) -> str:
        return self.vault.role

    def can(self, permission: str) -> bool:
        return roles.allowed(self.role, permission)

    def require(self, permission: str) -> None:
        """UserError unless the role allows ``permission``; the refusal is written to the audit log."""
        self.vault.require(permission)

    def check_export_approval(self, export_id: int) -> dict[str, Any]:
        """May this user approve/deny the export? Reviewers only, and never their own request (audited)."""
        return self.vault.check_export_decision(export_id)

    def import_seed_file(
        self,
        path: str | Path,
        *,
        text_column: str,
        label_column: str | None = None,
        allowed_labels: Collection[str] | None = None,
        seed_set: str | None = None,
        task_name: str | None = None,
        task_toml: str | None = None,
    ) -> ImportResult:
        """Import a seed file for a task: the task spec is stored (or found) first, then the seeds, all checked."""
        self.require("seed.import")
        return import_file(
            self.vault,
            path,
            text_column=text_column,
            label_column=label_column,
            allowed_labels=allowed_labels,
            seed_set=seed_set,
            task_name=task_name,
            task_toml=task_toml,
        )

    def close(self) -> None:
        self.vault.close()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
