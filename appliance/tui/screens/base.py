"""What every signed-in screen shares: header, navigation line, footer, and calling the service layer.

``guard`` runs a quick call on the interface thread; ``background`` runs a long one in a thread worker (the service
layer is synchronous) and hands the result back on the interface thread (``run_in_background``, also used by the
sign-in screen). Either way a ``UserError`` becomes a notification titled by its kind, never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, TypeVar

from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header
from textual.worker import Worker

from appliance.errors import AccessDenied, IntegrityError, MissingDependency, UserError, disk_full_error, is_disk_full
from appliance.service.session import Session
from appliance.tui.components.nav import NavBar

T = TypeVar("T")

# How each kind of UserError is shown: the notification's title, severity and seconds on screen (errors.py's table).
NOTICES: dict[type[UserError], tuple[str, str, int]] = {
    AccessDenied: ("Access denied", "error", 10),
    IntegrityError: ("Integrity check failed", "error", 20),
    MissingDependency: ("Not installed", "warning", 12),
    UserError: ("Not done", "error", 8),  # bad input, and any UserError not listed above
}


def notice_for(e: UserError) -> tuple[str, str, int]:
    """(title, severity, timeout) for a UserError, by its kind."""
    return next(v for cls, v in NOTICES.items() if isinstance(e, cls))


def _as_shown(e: BaseException) -> BaseException:
    """A full disk is the machine's state, not our bug: it is shown as the one line a UserError gets."""
    return disk_full_error("saving", "the failed step was rolled back") if not isinstance(e, UserError) and is_disk_full(e) else e


def error_text(e: BaseException) -> str:
    """One line for an error: a UserError's own message; anything else is named as our bug."""
    e = _as_shown(e)
    return str(e) if isinstance(e, UserError) else f"unexpected error: {type(e).__name__}: {e}"


def report_error(app: App, e: BaseException) -> None:
    """A notification for an error: titled by its kind (access denied, integrity, …), never a traceback."""
    e = _as_shown(e)
    if isinstance(e, UserError):
        title, severity, timeout = notice_for(e)
        # markup=False: a message names files, columns, labels and names that others chose; "[/]" would crash it
        app.notify(str(e), title=title, severity=severity, timeout=timeout, markup=False)  # type: ignore[arg-type]
    else:  # our bug: say so plainly, keep the interface alive
        app.notify(f"{type(e).__name__}: {e}", title="Unexpected error (please report)", severity="error", timeout=12,
                   markup=False)


def run_in_background(
    screen: Screen,
    fn: Callable[..., T],
    *args: Any,
    done: Callable[[T], None] | None = None,
    failed: Callable[[BaseException], None] | None = None,
    group: str = "service",
    **kw: Any,
) -> Worker:
    """The one worker helper: run ``fn`` in a thread worker (the service layer is synchronous); ``done(result)`` or
    ``failed(error)`` (default: a notification) run back on the interface thread. If the app is closing by then,
    nothing is handed back: what the call did is already in the vault."""
    app = screen.app

    def hand_back(callback: Callable[[Any], None], value: Any) -> None:
        try:
            app.call_from_thread(callback, value)
        except RuntimeError:
            pass  # the app has stopped

    def work() -> None:
        try:
            result = fn(*args, **kw)
        except BaseException as e:  # noqa: BLE001 - every failure is handed back
            hand_back(failed or (lambda err: report_error(app, err)), e)
            return
        if done is not None:
            hand_back(done, result)

    return screen.run_worker(work, thread=True, group=group, exit_on_error=False)


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
            raise AccessDenied("not signed in")
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
    ) -> Worker:
        """Run ``fn`` in a thread worker (``run_in_background``)."""
        return run_in_background(self, fn, *args, done=done, failed=failed, group=group, **kw)
