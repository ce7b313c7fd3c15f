"""Roles, what each may do, and which keys each may hold.

Two tables, kept side by side because they must agree:

* ``PERMISSIONS`` is checked below every user interface (the vault and the service session call it), so the
  CLI, the TUI and the generation code all get the same answers.
* ``ROOM_ROLES`` says which roles may hold each class of data's key (``keys.py`` seals a room key only to a
  user whose role is listed). A permission that reads a room's plaintext is useless without its key, so the
  separation of duties holds even for an insider who reads the database with raw SQL.

Separation of duties: an admin manages users and keys but reads no data; an author works with seeds, tasks and
generation; a reviewer reviews generated records and decides exports, but never sees seed records; an auditor
(the compliance officer) verifies and reads the audit log, job configurations, gate statistics, the privacy
ledger and export manifests, and decrypts no record or seed text. Nobody approves their own export.
"""

from __future__ import annotations

from appliance.errors import AccessDenied, UserError

ADMIN, AUTHOR, REVIEWER, AUDITOR = "admin", "author", "reviewer", "auditor"
ROLES = (ADMIN, AUTHOR, REVIEWER, AUDITOR)
EVERYONE = frozenset(ROLES)

# Key rooms: each class of data is encrypted (or signed) under its own key, sealed only to these roles.
META, RECORDS, SEEDS, EXPORT = "meta", "records", "seeds", "export"
ROOM_ROLES: dict[str, frozenset[str]] = {
    META: EVERYONE,  # the database file itself: users, tasks, jobs, reports, ledger, manifests, audit log
    RECORDS: frozenset({AUTHOR, REVIEWER}),  # generated and quarantined record texts and contexts
    SEEDS: frozenset({AUTHOR}),  # seed record texts and DP adapters trained on them
    EXPORT: frozenset({AUTHOR}),  # the installation's export-signing key (authors write exports)
}
ROOM_PHRASES = {
    META: "the vault database",
    RECORDS: "generated records",
    SEEDS: "seed records",
    EXPORT: "the export-signing key",
}

# permission -> (human phrase for refusals, roles allowed)
PERMISSIONS: dict[str, tuple[str, frozenset[str]]] = {
    "user.manage": ("manage users", frozenset({ADMIN})),
    "user.list": ("list users", EVERYONE),
    "key.rotate": ("rotate the vault key", frozenset({ADMIN})),
    "vault.status": ("see the vault status", EVERYONE),
    "audit.read": ("read the audit log", frozenset({ADMIN, REVIEWER, AUDITOR})),
    "audit.verify": ("verify the audit log", frozenset({ADMIN, REVIEWER, AUDITOR})),
    "seed.import": ("import seed records", frozenset({AUTHOR})),
    "seed.read": ("read raw seed records", frozenset({AUTHOR})),
    "seed.list": ("list seed sets", frozenset({AUTHOR, REVIEWER, AUDITOR})),
    "task.write": ("define tasks", frozenset({AUTHOR})),
    "task.read": ("read task specs", frozenset({AUTHOR, REVIEWER, AUDITOR})),
    "job.run": ("run generation jobs", frozenset({AUTHOR})),
    "job.read": ("read job configurations", frozenset({AUTHOR, REVIEWER, AUDITOR})),
    "record.read": ("read generated records", frozenset({AUTHOR, REVIEWER})),
    "record.review": ("review quarantined records", frozenset({REVIEWER})),
    "report.write": ("write reports", frozenset({AUTHOR})),
    "record.filter": ("filter a job's records by label quality", frozenset({AUTHOR})),  # who runs `evaluate`
    "report.read": ("read reports", frozenset({AUTHOR, REVIEWER, AUDITOR})),
    "export.request": ("request exports", frozenset({AUTHOR})),
    "export.decide": ("approve or deny exports", frozenset({REVIEWER})),
    "export.read": ("read export requests and manifests", frozenset({AUTHOR, REVIEWER, AUDITOR})),
    "adapter.train": ("train DP adapters on seed records", frozenset({AUTHOR})),
    "adapter.list": ("list adapters", frozenset({AUTHOR, REVIEWER, AUDITOR})),
    "ledger.read": ("read the privacy budget ledger", frozenset({AUTHOR, REVIEWER, AUDITOR})),
    "key.grant": ("grant data keys to another user", frozenset({AUTHOR, REVIEWER})),
    "model.add": ("register models", frozenset({ADMIN, AUTHOR})),
}


def allowed(role: str, permission: str) -> bool:
    try:
        return role in PERMISSIONS[permission][1]
    except KeyError:
        raise ValueError(f"unknown permission {permission!r}") from None


def may_hold(role: str, room: str) -> bool:
    return role in ROOM_ROLES[room]


def describe(permission: str) -> str:
    return PERMISSIONS[permission][0]


def refusal(user: str, role: str, permission: str) -> UserError:
    return AccessDenied(f"permission denied: user {user} ({role}) may not {describe(permission)}")


def check_not_own_export(approver: str, requested_by: str) -> None:
    """Four-eyes rule: the person who asked for an export cannot be the one who approves it."""
    if approver == requested_by:
        raise AccessDenied(f"permission denied: user {approver} requested this export and cannot approve it")
