"""One line under the header: the screens this user's role allows, with their keys, the current one marked."""

from __future__ import annotations

from textual.widgets import Static

from appliance.tui.keys import label as key_label


class NavBar(Static):
    def __init__(self, current: str) -> None:
        super().__init__(id="nav")
        self.current = current

    def on_mount(self) -> None:
        parts = []
        for place in self.app.allowed_places():  # type: ignore[attr-defined]
            label = f"{key_label(place.key)} {place.title}"
            parts.append(f"[reverse] {label} [/]" if place.name == self.current else f" {label} ")
        self.update("".join(parts))
