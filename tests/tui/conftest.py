"""Fixtures for the TUI tests: a fast KDF (tests only), a vault with users of every role, and a driver that runs an
app under Textual's Pilot (``App.run_test``) from a synchronous test (no pytest-asyncio here)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Awaitable, Callable

import pytest

from tests.key_helpers import share_keys
from appliance.vault import Vault
from tests.vault.vault_helpers import FAST_KDF, PASSPHRASES, ROLES, use_fast_kdf


@pytest.fixture(autouse=True)
def fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_kdf(monkeypatch)


@pytest.fixture(scope="session")
def assembled_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model cache holding the models assembled from packages (Gemma 3, 253 MB), built once per session: the Home
    screen verifies every model, and each test's home would otherwise assemble its own copy."""
    from appliance.engine.registry import Registry
    from appliance.paths import model_cache_dir

    shared = tmp_path_factory.mktemp("assembled-models")
    registry = Registry(shared)
    for entry in registry.entries.values():
        if entry.source_kind == "assemble":
            registry.locate(entry)
    return model_cache_dir(shared)


@pytest.fixture
def home(tmp_path: Path, assembled_models: Path) -> Path:
    """A vault with an admin (root), two authors (alice, bob) and a reviewer (rita); its model cache links to the
    session's assembled models (hard links: the same verified bytes, no copy; no test here alters a model file)."""
    from appliance.paths import model_cache_dir

    home = tmp_path / "home"
    with Vault.create(home, "root", PASSPHRASES["root"], kdf_params=FAST_KDF) as v:
        for name in ("alice", "bob", "rita"):
            v.add_user(name, ROLES[name], PASSPHRASES[name])
    share_keys(home, "alice", PASSPHRASES["alice"], ["bob", "rita"])
    for model in assembled_models.iterdir():
        if model.is_file():
            os.link(model, model_cache_dir(home) / model.name)
    return home


class Driver:
    """The app and its pilot, with the notifications it showed and a few steps every test needs."""

    def __init__(self, app, pilot) -> None:
        self.app, self.pilot = app, pilot
        self.notes: list[tuple[str, str]] = []
        original = app.notify

        def notify(message, *a, **kw):
            self.notes.append((str(message), kw.get("severity", "information")))
            return original(message, *a, **kw)

        app.notify = notify

    async def settle(self) -> None:
        """Let workers finish and the interface process what they posted."""
        for _ in range(3):
            await self.app.workers.wait_for_complete()
            await self.pilot.pause()

    def q(self, selector: str, kind=None):
        return self.app.screen.query_one(selector, kind) if kind else self.app.screen.query_one(selector)

    async def sign_in(self, user: str, passphrase: str | None = None) -> None:
        self.q("#user").value = user
        self.q("#passphrase").value = passphrase or PASSPHRASES[user]
        await self.click("#unlock")
        await self.settle()

    async def sign_out(self) -> None:
        await self.pilot.press("f10")
        await self.settle()

    async def click(self, selector: str) -> None:
        """Press a button (as a click would, without aiming at the screen: a notification toast may cover it)."""
        self.q(selector).press()
        await self.pilot.pause()

    async def go(self, key: str) -> None:
        await self.pilot.press(key)
        await self.settle()

    def errors(self) -> list[str]:
        return [m for m, sev in self.notes if sev == "error"]


def drive(home: Path, scenario: Callable[[Driver], Awaitable[None]], size=(100, 40)) -> None:
    from appliance.tui.app import ApplianceApp

    async def main() -> None:
        app = ApplianceApp(home=home)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await scenario(Driver(app, pilot))

    asyncio.run(main())
