"""What every signed-in screen shares: header, navigation line, footer, and calling the service layer.

``guard`` runs a quick call on the interface thread; ``background`` runs a long one in a thread worker (the service
layer is synchronous) and hands the result back on the interface thread. Either way a ``UserError`` becomes an error
notification, never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, TypeVar

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header

from appliance.errors import UserError, disk_full_error, is_disk_full
from appliance.service.session import Session
from appliance.tui.components.nav import NavBar

T = TypeVar("T")


def report_error(app, e: BaseException) -> None:
    if not isinstance(e, UserError) and is_disk_full(e):
        e = disk_full_error("saving", "the failed step was rolled back")
    if isinstance(e, UserError):
        app.notify(str(e), title="Not done", severity="error", timeout=8)
    else:  # our bug: say so plainly, keep the interface alive
        app.notify(f"{type(e).__name__}: {e}", title="Unexpected error (please report)", severity="error", timeout=12)


class AppScreen(Screen):
    NAME = ""  # the Place name, for the navigation line

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar(self.NAME)
        yield from self.body()
        yield Footer()

    def body(self) -> ComposeResult:
        yield from ()

    @property
    def session(self) -> Session:
        session = self.app.session  # type: ignore[attr-defined]
        if session is None:
            raise UserError("not signed in")
        return session

    @property
    def home(self) -> Path:
        return self.app.home  # type: ignore[attr-defined]

    def guard(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T | None:
        """Call ``fn`` now; on failure notify and return None."""
        try:
            return fn(*args, **kw)
        except Exception as e:  # noqa: BLE001 - every failure becomes a notification
            report_error(self.app, e)
            return None

    def background(
        self,
        fn: Callable[..., T],
        *args: Any,
        done: Callable[[T], None] | None = None,
        failed: Callable[[BaseException], None] | None = None,
        group: str = "service",
        **kw: Any,
    ) -> None:
        """Run ``fn`` in a thread worker; ``done(result)`` or ``failed(error)`` run back on the interface thread."""
        app = self.app

        def work() -> None:
            try:
                result = fn(*args, **kw)
            except BaseException as e:  # noqa: BLE001
                app.call_from_thread(failed or (lambda err: report_error(app, err)), e)
                return
            if done is not None:
                app.call_from_thread(done, result)

        self.run_worker(work, thread=True, group=group, exit_on_error=False)
