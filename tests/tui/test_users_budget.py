"""Users, privacy budget and adapters in the TUI: from an empty home an admin creates the vault and adds an author and
a reviewer in the Users screen, who then sign in; a mismatched passphrase confirmation is refused; Home shows the
budget spent and left per seed set after a ledger charge; Generate lists DP adapters and trains one in a worker
(the minutes-long real training is tests/adapt's: here a fake stands in for it)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from textual.widgets import Input, Select, Static

from appliance.adapt.dp_lora import TrainProgress
from appliance.service import adapters as adapter_service
from appliance.tui.components.commands import ActionsProvider
from appliance.vault import Vault
from tests.conftest import TASKS
from tests.tui.conftest import drive
from tests.vault.vault_helpers import PASSPHRASES


def _rows(table) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def _fill_user(d, name: str, role: str | None, passphrase: str, confirmation: str | None = None) -> None:
    d.q("#new-user", Input).value = name
    if role:
        d.q("#new-role", Select).value = role
    d.q("#new-pass", Input).value = passphrase
    d.q("#new-pass2", Input).value = passphrase if confirmation is None else confirmation


def test_empty_home_admin_adds_author_and_reviewer_who_sign_in(tmp_path: Path) -> None:
    async def scenario(d) -> None:
        d.q("#user").value = "admin"
        d.q("#passphrase").value = "first-admin-passphrase"
        d.q("#passphrase2").value = "first-admin-passphrase"
        await d.click("#unlock")
        await d.settle()
        assert [p.name for p in d.app.allowed_places()] == ["home", "audit", "users"]
        await d.go("f11")
        assert type(d.app.screen).__name__ == "UsersScreen"
        for name, role in (("ann", "author"), ("rex", "reviewer"), ("tmp", "author")):
            await _fill_user(d, name, role, f"{name}-passphrase-1")
            await d.click("#add-user")
            await d.settle()
        assert d.q("#new-pass", Input).value == "" and d.q("#new-pass2", Input).value == ""  # not left on screen
        users = d.q("#user-list")
        assert [r[:3] for r in _rows(users)] == [["admin", "admin", "active"], ["ann", "author", "active"],
                                                 ["rex", "reviewer", "active"], ["tmp", "author", "active"]]
        users.move_cursor(row=3)
        await d.click("#remove-user")
        await d.settle()
        assert _rows(d.q("#user-list"))[3][:3] == ["tmp", "author", "disabled"]
        users.move_cursor(row=2)
        await _fill_user(d, "", None, "rex-new-passphrase")
        await d.click("#set-pass")
        await d.settle()
        assert any(m == "passphrase changed for rex" for m, _ in d.notes), d.notes
        await d.click("#rotate-key")  # tmp could have kept the data key
        await d.settle()
        assert any(m.startswith("vault re-encrypted under a new data key (generation ") for m, _ in d.notes), d.notes
        assert not d.errors(), d.errors()
        await d.sign_out()

        await d.sign_in("ann", "ann-passphrase-1")
        assert type(d.app.screen).__name__ == "HomeScreen" and d.app.session.role == "author"
        assert "seeds" in [p.name for p in d.app.allowed_places()]
        await d.sign_out()
        await d.sign_in("tmp", "tmp-passphrase-1")
        assert type(d.app.screen).__name__ == "UnlockScreen"  # disabled: cannot sign in
        await d.sign_in("rex", "rex-new-passphrase")
        assert d.app.session.role == "reviewer"

    drive(tmp_path / "empty", scenario)
    with Vault.open(tmp_path / "empty", "rex", "rex-new-passphrase") as v:
        actions = [(e["action"], e["object_ids"].get("user")) for e in v.audit_entries(action="user.*")]
        rotated = [e["action"] for e in v.audit_entries(action="key.rotat*")]
    assert actions == [("user.add", "ann"), ("user.add", "rex"), ("user.add", "tmp"), ("user.remove", "tmp"),
                       ("user.passwd", "rex")]
    # removing tmp and resetting rex's passphrase rotate the database key by themselves, then the button once more;
    # everyone signed in again afterwards, under the new key
    assert rotated == ["key.rotate", "key.rotated"] * 3


def test_users_refuses_mismatched_confirmation_and_is_admin_only(home: Path) -> None:
    async def scenario(d) -> None:
        await d.sign_in("root")
        await d.go("f11")
        palette = [title for title, _, _ in ActionsProvider(d.app.screen)._commands()]
        assert {"Go to Users", "Add user", "Disable user", "Set passphrase", "Rotate vault key"} <= set(palette), palette
        await _fill_user(d, "carol", "author", "carol-passphrase-1", "carol-passphrase-2")
        await d.click("#add-user")
        await d.settle()
        assert "the two passphrases differ" in d.errors()
        assert "carol" not in [r[0] for r in _rows(d.q("#user-list"))]
        d.q("#user-list").move_cursor(row=[r[0] for r in _rows(d.q("#user-list"))].index("root"))
        await d.click("#remove-user")
        await d.settle()
        assert "you cannot remove yourself" in d.errors()
        await d.sign_out()
        await d.sign_in("alice")  # an author sees users and grants keys, but the admin's controls are hidden
        await d.go("f11")
        assert type(d.app.screen).__name__ == "UsersScreen"
        assert all(not w.display for w in d.app.screen.query(".admin-only"))
        d.q("#user-list").move_cursor(row=[r[0] for r in _rows(d.q("#user-list"))].index("bob"))
        await d.click("#grant-keys")
        await d.settle()
        assert any(e.startswith("nothing to grant: user bob") for e in d.errors())  # bob holds her keys already

    drive(home, scenario)
    with Vault.open(home, "root", PASSPHRASES["root"]) as v:
        assert "carol" not in [u["name"] for u in v.list_users()]


def _seed_set_with_charge(home: Path) -> None:
    with Vault.open(home, "alice", PASSPHRASES["alice"]) as v:
        task_id = v.add_task("sst2_sentiment", (TASKS / "sst2_sentiment.toml").read_text(encoding="utf-8"))
        v.import_seeds("reviews", [("A lovely, patient film.", "positive"), ("Dull and far too long.", "negative")],
                       task_id=task_id)
        v.charge_privacy("reviews", "test-charge", "tests/tui", 1.5, 1e-5, 8.0)


def test_home_shows_budget_per_seed_set_after_a_charge(home: Path) -> None:
    _seed_set_with_charge(home)

    async def scenario(d) -> None:
        await d.sign_in("alice")
        await d.settle()
        assert _rows(d.q("#budgets")) == [["reviews", "1.50", "8", "6.50", "1e-05", "1"]]
        await d.sign_out()
        await d.sign_in("rita")  # reviewers read the ledger, not the seed sets: the set by its id
        await d.settle()
        assert _rows(d.q("#budgets")) == [["#1", "1.50", "8", "6.50", "1e-05", "1"]]
        await d.sign_out()
        await d.sign_in("root")  # admins read no data
        await d.settle()
        assert not d.q("#budgets").display and d.q("#budgets").row_count == 0

    drive(home, scenario)


FAKE_GATE = threading.Event()  # the fake waits here after its first step, so a test can stop it mid-training


def fake_train_adapter(session, home, req, on_progress=None):
    """FAKE stand-in for train_adapter (real DP training takes minutes and is tested in tests/adapt): reports
    progress, charges the ledger and stores a placeholder adapter body, as the real one does in its last step."""
    for step in (1, 2):
        if step == 2:
            FAKE_GATE.wait(timeout=10)
        on_progress(TrainProgress(step=step, total_steps=2, epsilon=req.epsilon * step / 2, loss=1.0 / step,
                                  seconds=float(step)))
    name = f"{req.seed_set}-eps{req.epsilon:g}-fake"
    manifest = {"name": name, "seed_set": req.seed_set, "n_records": 2, "in_plain_words": "(fake)",
                "privacy": {"epsilon": req.epsilon, "delta": 1e-5, "accountant": "rdp"}}
    with session.vault.transaction():
        session.vault.charge_privacy(req.seed_set, "dp-lora", name, req.epsilon, 1e-5, 8.0)
        session.vault.add_adapter(name, req.seed_set, "not-the-model", "0" * 64, b"FAKE adapter body", manifest)
    return manifest


def test_generate_adapter_selector_and_adapt_in_a_worker(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _seed_set_with_charge(home)
    monkeypatch.setattr(adapter_service, "train_adapter", fake_train_adapter)

    async def scenario(d) -> None:
        await d.sign_in("alice")
        await d.go("f5")
        assert d.q("#gen-adapter", Select).value is Select.NULL  # none by default
        d.q("#gen-seed-set", Select).value = "reviews"
        d.q("#gen-epsilon", Input).value = "2"
        # Stopped between steps (Cancel): nothing charged, nothing stored.
        FAKE_GATE.clear()
        await d.click("#adapt")
        for _ in range(200):
            if str(d.q("#gen-stats", Static).render()).startswith("training adapter: step 1/2"):
                break
            await d.pilot.pause(0.05)
        d.app.screen.action_cancel_job()
        FAKE_GATE.set()
        await d.settle()
        assert any("adapter training stopped before it finished" in m for m in d.errors()), d.notes
        assert d.q("#gen-adapter", Select).value is Select.NULL
        await d.click("#adapt")
        await d.settle()
        assert str(d.q("#gen-stats", Static).render()).startswith("adapter reviews-eps2-fake stored: ε = 2.00")
        assert d.q("#gen-adapter", Select).value == "reviews-eps2-fake"  # selected for the next job
        # The adapter reaches the job's request: this one was made for another model, refused before any loading.
        d.q("#gen-task", Select).value = "example:sst2_sentiment"
        d.q("#gen-seed-set", Select).clear()
        await d.click("#start")
        await d.settle()
        assert any("adapter 'reviews-eps2-fake' was trained for model not-the-model" in m for m in d.errors()), d.notes
        await d.go("f2")
        assert _rows(d.q("#budgets"))[0][:4] == ["reviews", "3.50", "8", "4.50"]

    drive(home, scenario)
