"""Sign in: user name and passphrase (masked). A wrong passphrase gives one clear message on the screen. When the
home has no vault yet, the same screen creates one with its first admin."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label, Static

from appliance.service.session import Session
from appliance.tui.screens.base import error_text, run_in_background
from appliance.vault import layout


class UnlockScreen(Screen):
    TITLE = "Sign in"

    def compose(self) -> ComposeResult:
        home = self.app.home  # type: ignore[attr-defined]
        self.new_vault = not layout.key_file(home).exists()
        yield Header()
        with Vertical(id="unlock-box"):
            if self.new_vault:
                yield Static(f"No vault in {home} yet. Create it: choose the first admin's name and passphrase.",
                             id="unlock-intro")
            else:
                yield Static(f"Vault: {home}", id="unlock-intro")
            yield Label("User")
            yield Input(value=self.app.default_user, placeholder="user name", id="user")  # type: ignore[attr-defined]
            yield Label("Passphrase")
            yield Input(password=True, placeholder="passphrase", id="passphrase")
            if self.new_vault:
                yield Label("Repeat the passphrase")
                yield Input(password=True, placeholder="passphrase again", id="passphrase2")
            yield Button("Create vault" if self.new_vault else "Sign in", id="unlock", variant="primary")
            yield Static("", id="unlock-error")
        yield Footer()

    def on_mount(self) -> None:
        user = self.query_one("#user", Input)
        (self.query_one("#passphrase", Input) if user.value else user).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "user":
            self.query_one("#passphrase", Input).focus()
        elif event.input.id == "passphrase" and self.new_vault:
            self.query_one("#passphrase2", Input).focus()
        else:
            self.action_unlock()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "unlock":
            self.action_unlock()

    def action_unlock(self) -> None:
        user = self.query_one("#user", Input).value.strip()
        passphrase = self.query_one("#passphrase", Input).value
        error = self.query_one("#unlock-error", Static)
        if not user or not passphrase:
            error.update("Type your user name and passphrase.")
            return
        if self.new_vault and passphrase != self.query_one("#passphrase2", Input).value:
            error.update("The two passphrases differ.")
            return
        error.update("Unlocking…")
        self.query_one("#unlock", Button).disabled = True
        home = self.app.home  # type: ignore[attr-defined]
        opener = Session.init if self.new_vault else Session.open
        run_in_background(self, opener, home, user, passphrase, done=self.app.signed_in,  # type: ignore[attr-defined]
                          failed=self._failed, group="unlock")

    def _failed(self, error: BaseException) -> None:
        message = error_text(error)
        self.query_one("#unlock-error", Static).update(message[:1].upper() + message[1:])
        self.query_one("#unlock", Button).disabled = False
        pw = self.query_one("#passphrase", Input)
        pw.value = ""
        pw.focus()
