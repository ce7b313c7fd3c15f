"""Roles and what each may do.

Checked below every user interface (the vault and the service session call these), so the CLI, the TUI
and the generation code all get the same answers. Separation of duties: an admin manages users and keys
but reads no data; an author works with seeds, tasks and generation; a reviewer reads the audit log,
reviews quarantined records and decides exports, but never sees raw seed records. Nobody approves their
own export.
"""

from __future__ import annotations

from appliance.errors import UserError

ADMIN, AUTHOR, REVIEWER = "admin", "author", "reviewer"
ROLES = (ADMIN, AUTHOR, REVIEWER)

# permission -> (human phrase for refusals, roles allowed)
PERMISSIONS: dict[str, tuple[str, frozenset[str]]] = {
    "user.manage": ("manage users", frozenset({ADMIN})),
    "key.rotate": ("rotate the vault key", frozenset({ADMIN})),
    "vault.status": ("see the vault status", frozenset({ADMIN, AUTHOR, REVIEWER})),
    "audit.read": ("read the audit log", frozenset({ADMIN, REVIEWER})),
    "audit.verify": ("verify the audit log", frozenset({ADMIN, REVIEWER})),
    "seed.import": ("import seed records", frozenset({AUTHOR})),
    "seed.read": ("read raw seed records", frozenset({AUTHOR})),
    "task.write": ("define tasks", frozenset({AUTHOR})),
    "task.read": ("read task specs", frozenset({AUTHOR, REVIEWER})),
    "job.run": ("run generation jobs", frozenset({AUTHOR})),
    "record.read": ("read generated records", frozenset({AUTHOR, REVIEWER})),
    "record.review": ("review quarantined records", frozenset({REVIEWER})),
    "report.write": ("write reports", frozenset({AUTHOR})),
    "report.read": ("read reports", frozenset({AUTHOR, REVIEWER})),
    "export.request": ("request exports", frozenset({AUTHOR})),
    "export.decide": ("approve or deny exports", frozenset({REVIEWER})),
    "adapter.train": ("train DP adapters on seed records", frozenset({AUTHOR})),
    "adapter.list": ("list adapters", frozenset({AUTHOR, REVIEWER})),
    "ledger.read": ("read the privacy budget ledger", frozenset({AUTHOR, REVIEWER})),
    "model.add": ("register models", frozenset({ADMIN, AUTHOR})),
}


def allowed(role: str, permission: str) -> bool:
    try:
        return role in PERMISSIONS[permission][1]
    except KeyError:
        raise ValueError(f"unknown permission {permission!r}") from None


def describe(permission: str) -> str:
    return PERMISSIONS[permission][0]


def refusal(user: str, role: str, permission: str) -> UserError:
    return UserError(f"permission denied: user {user} ({role}) may not {describe(permission)}")


def check_not_own_export(approver: str, requested_by: str) -> None:
    """Four-eyes rule: the person who asked for an export cannot be the one who approves it."""
    if approver == requested_by:
        raise UserError(f"permission denied: user {approver} requested this export and cannot approve it")
