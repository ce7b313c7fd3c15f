"""Task specs: stored as text with their sha256, readable by authors, reviewers and auditors (job configurations
refer to them)."""

from __future__ import annotations

import hmac
from typing import Any

from appliance.errors import BadInput, IntegrityError
from appliance.vault import audit, schema
from appliance.vault.core import VaultCore, check_label_name, sha256_text
from appliance.vault.keys import now_iso

# The entry that vouches for a spec, and the permission its signer's role must hold (``audit.permitted_entries``).
TASK_PERMISSIONS = {"task.add": "task.write"}
_FIELDS = ("id", "name", "spec_toml", "sha256", "created_at", "created_by")


class TasksMixin(VaultCore):
    def add_task(self, name: str, toml_text: str) -> int:
        """Store a task spec; the same name and text again returns the existing id."""
        self.require("task.write")
        check_label_name("task name", name)
        if not isinstance(toml_text, str):
            raise BadInput("task spec must be text")
        digest = sha256_text(toml_text)
        with self.transaction() as con:
            row = con.execute("SELECT id FROM tasks WHERE name = ? AND sha256 = ?", [name, digest]).fetchone()
            if row:
                return int(row[0])
            # Past every id the log has seen: a task row deleted by raw SQL does not hand its id (and entry) on.
            task_id = max([schema.next_id(con, "tasks"), *(o["task_id"] + 1 for *_, o, _ in
                                                           audit.permitted_entries(con, TASK_PERMISSIONS)
                                                           if schema.plausible_id(o.get("task_id")))])
            self._insert(con, "tasks", {"id": task_id, "name": name, "spec_toml": toml_text, "sha256": digest,
                                        "created_at": now_iso(), "created_by": self.user})
            self.audit("task.add", {"task_id": task_id}, {"name": name, "sha256": digest})
        return task_id

    def get_task(self, task_id: int) -> dict[str, Any]:
        """A stored spec, checked against the digest, name and author its ``task.add`` entry keeps: a spec edited by raw
        SQL (labels or prompts changed under a job that refers to it, or another task's name given to it, which
        ``find_task`` would then return) is refused, not generated from or evaluated against."""
        self.require("task.read")
        with self._mutex:
            row = self._by_id("tasks", _FIELDS, task_id, "task")
            logged = [(p.get("sha256"), p.get("name"), user) for _, user, _, o, p in
                      audit.permitted_entries(self._con, TASK_PERMISSIONS) if o.get("task_id") == task_id]
        text = row["spec_toml"] if isinstance(row["spec_toml"], str) else ""
        digest = sha256_text(text)
        if len(logged) != 1 or not isinstance(logged[0][0], str) or not hmac.compare_digest(logged[0][0], digest) \
                or row["sha256"] != digest or logged[0][1:] != (row["name"], row["created_by"]):
            raise IntegrityError(f"task {task_id}'s spec is not the one its task.add audit entry names: it was changed "
                                 "outside the app; run `audit verify` and ask an admin")
        return row

    def find_task(self, name: str) -> dict[str, Any] | None:
        """The latest stored version of the task called ``name``."""
        self.require("task.read")
        row = self._one("SELECT id FROM tasks WHERE name = ? ORDER BY id DESC LIMIT 1", [name])
        return self.get_task(int(row[0])) if row else None

    def list_tasks(self) -> list[dict[str, Any]]:
        self.require("task.read")
        return self._rows("tasks", ("id", "name", "sha256", "created_at", "created_by"))
