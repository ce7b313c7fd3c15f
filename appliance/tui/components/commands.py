"""The command palette (Ctrl+P): every screen the user may open, and every action of the screen they are on.

Actions come from the screens' own key bindings, so a new binding is in the palette without further work."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from appliance.tui.keys import key_of, label


class ActionsProvider(Provider):
    def _commands(self) -> list[tuple[str, str, object]]:
        app = self.app
        out: list[tuple[str, str, object]] = []
        for place in getattr(app, "allowed_places", lambda: [])():
            out.append((f"Go to {place.title}", f"open the {place.title} screen ({label(place.key)})",
                        partial(app.run_action, f"go('{place.name}')")))
        screen = self.screen
        for binding in getattr(screen, "BINDINGS", []):
            if isinstance(binding, tuple) or not binding.description:
                continue
            out.append((f"{binding.description}", f"{getattr(screen, 'TITLE', None) or type(screen).__name__} · "
                        f"key {binding.key}", partial(screen.run_action, binding.action)))
        if getattr(app, "session", None) is not None:
            out.append(("Sign out", f"close the vault and sign in as another user ({key_of('sign_out')})", partial(app.run_action, "sign_out")))
        out.append(("Help", f"keys, screens and roles ({key_of('help')})", partial(app.run_action, "help")))
        return out

    async def discover(self) -> Hits:
        for title, help_text, cmd in self._commands():
            yield DiscoveryHit(title, cmd, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, cmd in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), cmd, help=help_text)
