"""The Textual app: sign-in first, then the screens the user's role allows.

Screens are installed once per sign-in and switched between (so a running job keeps its screen and its progress
while the user looks elsewhere); signing out closes the session and uninstalls them. Quitting during a job asks
the job to stop after its current batch: it is closed as 'cancelled' with every committed batch kept, and
``appliance resume JOB`` (or Resume on the Generate screen) finishes it.
"""

from __future__ import annotations

import os
from pathlib import Path

from textual.app import App

from appliance.paths import resolve_home
from appliance.service.session import Session
from appliance.tui import keys
from appliance.tui.components.commands import ActionsProvider
from appliance.tui.keys import Place


class ApplianceApp(App):
    """The appliance in a terminal: clinicians, educators and compliance officers, no command line needed."""

    CSS_PATH = "app.tcss"
    TITLE = "Synthetic-data appliance"
    COMMANDS = App.COMMANDS | {ActionsProvider}
    BINDINGS = keys.bindings()  # one table of keys: appliance/tui/keys.py

    def __init__(self, home: str | Path | None = None, user: str | None = None) -> None:
        super().__init__()
        self.home: Path = resolve_home(home)
        self.default_user = user or os.environ.get("APPLIANCE_USER") or ""
        self.session: Session | None = None
        self.places = list(keys.PLACES)
        self._installed: list[str] = []

    # ------------------------------------------------------------------ sign-in and navigation

    def on_mount(self) -> None:
        from appliance.tui.screens.unlock import UnlockScreen

        self.push_screen(UnlockScreen())

    def allowed_places(self) -> list[Place]:
        if self.session is None:
            return []
        return [p for p in self.places if any(self.session.can(perm) for perm in p.permissions)]

    def signed_in(self, session: Session) -> None:
        """Called by the unlock screen: install the role's screens and show home."""
        self.session = session
        self.sub_title = f"{session.user} ({session.role})"
        for place in self.allowed_places():
            self.install_screen(place.factory(), place.name)
            self._installed.append(place.name)
        # The compliance officer's home is the audit log; everyone else starts on Home.
        self.switch_screen("audit" if session.role == "auditor" else "home")

    def action_go(self, name: str) -> None:
        if self.session is None:
            return
        if name not in self._installed:
            place = next((p for p in self.places if p.name == name), None)
            title = place.title if place else name
            self.notify(f"{title} is not available to the {self.session.role} role", severity="warning")
            return
        if self.screen is not self.get_screen(name):
            self.switch_screen(name)

    def action_help(self) -> None:
        from appliance.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_sign_out(self) -> None:
        from appliance.tui.screens.unlock import UnlockScreen

        if self.session is None:
            return
        await self._stop_jobs()
        self.switch_screen(UnlockScreen())
        for name in self._installed:
            self.uninstall_screen(name)
        self._installed.clear()
        self.session.close()
        self.session = None
        self.sub_title = ""

    # ------------------------------------------------------------------ jobs and quitting

    async def _stop_jobs(self) -> None:
        """Ask a running generation job to stop after its batch, and wait: it stays resumable."""
        if "generate" in self._installed:
            screen = self.get_screen("generate")
            if screen.job_running:  # type: ignore[attr-defined]
                self.notify("stopping the job after its current batch; resume it later", severity="warning")
                await screen.stop_job()  # type: ignore[attr-defined]

    async def action_quit(self) -> None:
        await self._stop_jobs()
        self.exit()

    def on_unmount(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None
