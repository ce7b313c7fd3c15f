"""Sign-in: a wrong passphrase gives one clear message and stays on the sign-in screen; the right one opens Home;
the role decides which screens exist; an empty home creates a vault."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from appliance.vault import Vault
from tests.tui.conftest import drive
from tests.vault.vault_helpers import PASSPHRASES


def test_wrong_then_right_passphrase(home: Path) -> None:
    async def scenario(d) -> None:
        await d.sign_in("alice", "not-the-passphrase")
        assert type(d.app.screen).__name__ == "UnlockScreen"
        assert str(d.q("#unlock-error", Static).render()) == "Wrong passphrase for user alice"
        assert d.q("#passphrase").value == ""  # cleared for the next try
        await d.sign_in("alice")
        assert type(d.app.screen).__name__ == "HomeScreen"
        assert "encrypted (AES-256-GCM)" in str(d.q("#vault-status", Static).render())
        assert d.app.session.role == "author"

    drive(home, scenario)


def test_role_decides_screens(home: Path) -> None:
    async def scenario(d) -> None:
        await d.sign_in("rita")  # reviewer: review, quality, audit, export, users (to grant); no seeds, tasks, generate
        assert [p.name for p in d.app.allowed_places()] == ["home", "review", "quality", "audit", "export", "users"]
        await d.go("f5")
        assert type(d.app.screen).__name__ == "HomeScreen"
        assert any("not available to the reviewer role" in m for m, _ in d.notes)
        await d.go("f8")
        assert type(d.app.screen).__name__ == "AuditScreen"
        await d.sign_out()
        await d.sign_in("alice")
        assert [p.name for p in d.app.allowed_places()] == ["home", "seeds", "tasks", "generate", "review", "quality",
                                                            "export", "users"]
        await d.sign_out()
        await d.sign_in("olga", "olga-passphrase-1")  # the compliance officer: the log, metadata, no record text
        assert [p.name for p in d.app.allowed_places()] == ["home", "quality", "audit"]
        assert type(d.app.screen).__name__ == "AuditScreen"  # their home
        assert not d.errors(), d.errors()

    with Vault.open(home, "root", PASSPHRASES["root"]) as v:
        v.add_user("olga", "auditor", "olga-passphrase-1")
    drive(home, scenario)


def test_new_vault_from_empty_home(tmp_path: Path) -> None:
    async def scenario(d) -> None:
        d.q("#user").value = "admin"
        d.q("#passphrase").value = "first-admin-passphrase"
        d.q("#passphrase2").value = "first-admin-passphrase"
        await d.click("#unlock")
        await d.settle()
        assert type(d.app.screen).__name__ == "HomeScreen"
        assert d.app.session.role == "admin"

    drive(tmp_path / "empty", scenario)
