"""Users: everyone with a role and the data keys they hold. Admins add a user (name, role, passphrase typed twice,
masked), disable the selected user, set a new passphrase for them, or rotate the database key; authors and
reviewers grant the data keys they hold to the selected user (an admin cannot: it holds none). The rules (confirmation, roles, who may do what) live in
``appliance.service.users`` and the vault; this screen only collects the fields and shows the outcome."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Input, Select, Static

from appliance.service import users as user_service
from appliance.tui.components.plain_table import PlainTable
from appliance.tui.screens.base import AppScreen


class UsersScreen(AppScreen):
    NAME = "users"
    TITLE = "Users"
    BINDINGS = [Binding("ctrl+n", "add_user", "Add user"), Binding("ctrl+r", "remove_user", "Disable user"),
                Binding("ctrl+t", "change_passphrase", "Set passphrase"),
                Binding("ctrl+k", "rotate_key", "Rotate vault key"), Binding("ctrl+g", "grant", "Grant my keys")]

    def body(self) -> ComposeResult:
        with Vertical(id="users"):
            yield PlainTable(id="user-list", cursor_type="row")
            yield Button("Grant my keys to the selected user", id="grant-keys", variant="primary")
            yield Static("New user, or a new passphrase for the selected one", classes="section admin-only")
            with Horizontal(classes="row admin-only"):
                yield Input(placeholder="user name", id="new-user")
                yield Select([(r, r) for r in user_service.role_names()], id="new-role", prompt="role")
            with Horizontal(classes="row admin-only"):
                yield Input(password=True, placeholder="passphrase", id="new-pass")
                yield Input(password=True, placeholder="passphrase again", id="new-pass2")
            with Horizontal(classes="row admin-only"):
                yield Button("Add user", id="add-user", variant="primary")
                yield Button("Set passphrase", id="set-pass")
                yield Button("Disable user", id="remove-user", variant="error")
                yield Button("Rotate vault key", id="rotate-key", variant="warning")
            yield Static("", id="users-status")

    def on_mount(self) -> None:
        self.query_one("#user-list", DataTable).add_columns("user", "role", "state", "keys", "added", "by")
        admin = self.session.can("user.manage")
        for widget in self.query(".admin-only"):
            widget.display = admin
        self.query_one("#grant-keys", Button).display = self.session.can("key.grant")

    def on_screen_resume(self) -> None:
        self.reload()

    def reload(self) -> None:
        table = self.query_one("#user-list", DataTable)
        table.clear()
        for u in self.guard(user_service.list_users, self.session) or []:
            table.add_row(u["name"], u["role"], "disabled" if u["disabled"] else "active", ",".join(u["keys"]) or "–",
                          u["created_at"][:16],
                          u["created_by"] or "–", key=u["name"])

    def _selected(self) -> str | None:
        table = self.query_one("#user-list", DataTable)
        if not table.row_count:
            self.notify("no user selected", severity="warning")
            return None
        return str(table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value)

    def _passphrases(self) -> tuple[str, str]:
        return self.query_one("#new-pass", Input).value, self.query_one("#new-pass2", Input).value

    def _done(self, message: str) -> None:
        for wid in ("#new-user", "#new-pass", "#new-pass2"):
            self.query_one(wid, Input).value = ""
        self.query_one("#users-status", Static).update(message)
        self.notify(message)
        self.reload()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"add-user": self.action_add_user, "remove-user": self.action_remove_user,
                   "set-pass": self.action_change_passphrase, "rotate-key": self.action_rotate_key,
                   "grant-keys": self.action_grant}
        if event.button.id in actions:
            actions[event.button.id]()

    def action_add_user(self) -> None:
        name = self.query_one("#new-user", Input).value.strip()
        role = self.query_one("#new-role", Select).value
        role = "" if role is Select.NULL else str(role)
        self.background(user_service.add_user, self.session, name, role, *self._passphrases(),
                        done=lambda _: self._done(f"user {name} added ({role})"))  # key derivation takes a moment

    def action_remove_user(self) -> None:
        name = self._selected()
        if name:  # removing re-encrypts the database under a new key: a worker keeps the screen responsive
            self.background(user_service.remove_user, self.session, name,
                            done=lambda _: self._done(f"user {name} disabled; the database key was rotated, their "
                                                      "data keys rotate at a holder's next sign-in"))

    def action_grant(self) -> None:
        name = self._selected()
        granted = name and self.guard(user_service.grant, self.session, name)
        if granted:
            self._done(f"granted to {name}: {', '.join(granted)}")

    def action_change_passphrase(self) -> None:
        name = self._selected()
        if name:
            self.background(user_service.change_passphrase, self.session, name, *self._passphrases(),
                            done=lambda _: self._done(f"passphrase changed for {name}"))

    def action_rotate_key(self) -> None:
        # Re-encrypting copies the whole database: a worker keeps the screen responsive meanwhile.
        self.background(user_service.rotate_key, self.session,
                        done=lambda generation: self._done(f"vault re-encrypted under a new data key (generation "
                                                           f"{generation}); every active user re-sealed"))
