"""The one table of the app's function keys: a key per screen (a ``Place``) and a key per app-wide action.

The app's key bindings, the navigation line, the help text and the command palette are all derived from these two
tables, so a key is written once."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from textual.binding import Binding
from textual.screen import Screen


@dataclass(frozen=True)
class Place:
    """A screen in the navigation: its name, title, key, the permission(s) that show it (any of them), and its screen
    class as ``module:Class`` under ``appliance.tui.screens`` (imported when the screen is installed)."""

    name: str
    title: str
    key: str
    permissions: tuple[str, ...]
    screen: str

    def factory(self) -> Screen:
        module, cls = self.screen.split(":")
        return getattr(importlib.import_module(f"appliance.tui.screens.{module}"), cls)()


@dataclass(frozen=True)
class AppKey:
    """A key for an app-wide action (help, sign out, quit); ``footer``: shown in the footer."""

    key: str
    action: str
    title: str
    footer: bool = False
    priority: bool = False


PLACES: tuple[Place, ...] = (
    Place("home", "Home", "f2", ("vault.status",), "home:HomeScreen"),
    Place("seeds", "Seeds", "f3", ("seed.import",), "seeds:SeedsScreen"),
    Place("tasks", "Tasks", "f4", ("task.write",), "tasks:TasksScreen"),
    Place("generate", "Generate", "f5", ("job.run",), "generate:GenerateScreen"),
    Place("review", "Review", "f6", ("record.read",), "review:ReviewScreen"),
    Place("quality", "Quality", "f7", ("report.read",), "quality:QualityScreen"),
    Place("audit", "Audit", "f8", ("audit.read",), "audit:AuditScreen"),
    Place("export", "Export", "f9", ("export.request", "export.decide"), "export:ExportScreen"),
    Place("users", "Users", "f11", ("user.manage", "key.grant"), "users:UsersScreen"),
)

APP_KEYS: tuple[AppKey, ...] = (
    AppKey("f1", "help", "Help", footer=True),
    AppKey("ctrl+q", "quit", "Quit", footer=True, priority=True),
    AppKey("f10", "sign_out", "Sign out"),
)


def label(key: str) -> str:
    """How a key is written for people: ``F10``, ``Ctrl+Q``."""
    return "+".join(part.capitalize() if len(part) > 2 else part.upper() for part in key.split("+"))


def app_key(action: str) -> str:
    """The key bound to an app-wide action (``app_key("help")`` → ``f1``)."""
    return next(k.key for k in APP_KEYS if k.action == action)


def key_of(action: str) -> str:
    """The label of the key bound to an app-wide action (``key_of("sign_out")`` → ``F10``)."""
    return label(app_key(action))


def bindings() -> list[Binding]:
    """The app's bindings: every app-wide key, then every screen's key (``go('name')``)."""
    return ([Binding(k.key, k.action, k.title, show=k.footer, priority=k.priority) for k in APP_KEYS]
            + [Binding(p.key, f"go('{p.name}')", p.title, show=False) for p in PLACES])


def keys_line() -> str:
    """Every key on one line, for the help screen."""
    actions = [f"{label(k.key)} {k.title.lower()}" for k in APP_KEYS]
    return " · ".join(actions[:1] + ["Ctrl+P command palette (every action)"] + actions[1:]
                      + [f"{label(p.key)} {p.title}" for p in PLACES])
