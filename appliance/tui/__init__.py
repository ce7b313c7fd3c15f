"""The terminal user interface: one Textual app over the service layer (it holds no logic of its own).

``appliance`` with no arguments (on a terminal) or ``appliance tui`` opens it. Screens live in ``screens/`` (one per
file), reusable widgets in ``components/``, styles in ``*.tcss``.
"""

from __future__ import annotations

from pathlib import Path


def run_tui(home: str | Path | None = None, user: str | None = None) -> int:
    from appliance.tui.app import ApplianceApp

    ApplianceApp(home=home, user=user).run()
    return 0
