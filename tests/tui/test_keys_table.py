"""One table of function keys (``appliance/tui/keys.py``): the app's bindings, the help text and the navigation are
derived from it, and no other module of the TUI writes a function key."""

from __future__ import annotations

import re
from pathlib import Path

from appliance.tui import keys
from appliance.tui.app import ApplianceApp
from appliance.tui.screens.help import HELP

TUI = Path(__file__).resolve().parents[2] / "appliance" / "tui"


def test_the_app_binds_exactly_the_table_once_each() -> None:
    bound = [b.key for b in ApplianceApp.BINDINGS]
    assert sorted(bound) == sorted([k.key for k in keys.APP_KEYS] + [p.key for p in keys.PLACES])
    assert len(set(bound)) == len(bound)


def test_help_lists_every_key_of_the_table() -> None:
    for p in keys.PLACES:
        assert f"{keys.label(p.key)} {p.title}" in HELP
    for k in keys.APP_KEYS:
        assert f"{keys.label(k.key)} {k.title.lower()}" in HELP


def test_no_other_module_writes_a_function_key() -> None:
    fkey = re.compile(r"""["'\s(]([fF]\d{1,2})["'\s)]""")
    found = [f"{p.relative_to(TUI)}: {m.group(1)}" for p in sorted(TUI.rglob("*.py")) if p.name != "keys.py"
             for m in fkey.finditer(p.read_text(encoding="utf-8"))]
    assert not found, found
