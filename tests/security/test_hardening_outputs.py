"""Attacks with output paths: a careless or hostile path must never destroy the vault or an existing file.

Each refusal is one line with exit 2, every file in the home is byte-for-byte unchanged, and the vault still opens
and its audit log verifies.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from appliance.errors import UserError
from appliance.outputs import write_output
from appliance.vault import Vault, layout
from tests.security.hardening_helpers import (
    PW, assert_one_line_error, digests, make_vault, pw_file, run_cli, still_opens, use_fast_kdf,
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    use_fast_kdf(monkeypatch)
    monkeypatch.delenv("APPLIANCE_HOME", raising=False)
    h = tmp_path / "home"
    make_vault(h)
    return h


def _db(home: Path) -> Path:
    return next(home.glob("vault-*.duckdb"))


def _audit_log(capsys, home: Path, tmp_path: Path, target: str | Path, *extra: str):  # noqa: ANN001
    return run_cli(capsys, "audit", "log", "--home", str(home), "--user", "root",
                   "--passphrase-file", str(pw_file(tmp_path, "root")), "--jsonl", str(target), *extra)


def test_audit_export_onto_the_key_file_or_database_is_refused(home: Path, tmp_path: Path, capsys) -> None:
    before = digests(home)
    for target in (layout.key_file(home), _db(home), layout.checkpoint_file(home), home / "new-file.jsonl", home):
        rc, _, err = _audit_log(capsys, home, tmp_path, target, "--force")  # --force does not open the home either
        assert_one_line_error(rc, err, "inside the appliance home")
    assert digests(home) == before
    still_opens(home)


def test_report_json_onto_the_database_is_refused_before_any_work(home: Path, tmp_path: Path, capsys) -> None:
    before = digests(home)
    rc, out, err = run_cli(capsys, "report", "1", "--home", str(home), "--user", "alice",
                           "--passphrase-file", str(pw_file(tmp_path, "alice")), "--no-model", "--json", str(_db(home)))
    assert_one_line_error(rc, err, "inside the appliance home")
    assert "stored" not in out
    assert digests(home) == before
    still_opens(home)


def test_symlinks_into_the_home_are_followed_and_refused(home: Path, tmp_path: Path, capsys) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "report.jsonl").symlink_to(layout.key_file(home))
    (outside / "dir").symlink_to(home, target_is_directory=True)
    before = digests(home)
    for target in (outside / "report.jsonl", outside / "dir" / "fresh.jsonl", outside / "dir" / ".." / "home" / "x"):
        rc, _, err = _audit_log(capsys, home, tmp_path, target, "--force")
        assert_one_line_error(rc, err, "inside the appliance home")
    assert digests(home) == before
    still_opens(home)


def test_an_existing_file_is_never_replaced_without_force(home: Path, tmp_path: Path, capsys) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_text("my thesis\n")
    rc, _, err = _audit_log(capsys, home, tmp_path, precious)
    assert_one_line_error(rc, err, "already exists; choose another path")
    assert precious.read_text() == "my thesis\n"
    link = tmp_path / "dangling"
    link.symlink_to(tmp_path / "nowhere")  # a dangling link still names something: refused too
    rc, _, err = _audit_log(capsys, home, tmp_path, link)
    assert_one_line_error(rc, err, "already exists")
    assert not (tmp_path / "nowhere").exists()
    rc, out, err = _audit_log(capsys, home, tmp_path, precious, "--force")
    assert rc == 0 and "entries written" in out, err
    assert precious.read_text().startswith("{") and "vault.init" in precious.read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # the temporary name is gone
    still_opens(home)


def test_the_tui_paths_go_through_the_same_checks(home: Path, tmp_path: Path) -> None:
    """The TUI's audit export calls ``Vault.export_audit`` directly (no CLI check before it)."""
    before = digests(home)
    with Vault.open(home, "root", PW["root"]) as v:
        for target in (layout.key_file(home), _db(home)):
            with pytest.raises(UserError, match="inside the appliance home"):
                v.export_audit(target, force=True)
    after = digests(home)
    assert set(after) == set(before) and after[layout.KEY_FILE] == before[layout.KEY_FILE]
    still_opens(home)


def test_write_output_refuses_a_directory_and_a_missing_parent(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="is a directory"):
        write_output(tmp_path, "x", None, force=True)
    with pytest.raises(UserError, match="no directory"):
        write_output(tmp_path / "missing" / "x.json", "x", None)
    written = write_output(tmp_path / "ok.json", "{}", None)
    assert written.read_text() == "{}" and stat.S_IMODE(written.stat().st_mode) == 0o600


def test_export_target_inside_the_home_is_refused(home: Path, tmp_path: Path, capsys) -> None:
    before = digests(home)
    for target in (home, home / "model-cache", home / "exports"):
        rc, _, err = run_cli(capsys, "export", "1", "--home", str(home), "--user", "alice",
                             "--passphrase-file", str(pw_file(tmp_path, "alice")), "--format", "jsonl", "--to", str(target))
        assert_one_line_error(rc, err, "inside the appliance home")
    assert not (home / "exports").exists()
    after = digests(home)  # the session opened (its unlock is audited): no file added, the key file untouched
    assert set(after) == set(before) and after[layout.KEY_FILE] == before[layout.KEY_FILE]
    still_opens(home)


def test_init_refuses_a_shared_directory_that_is_not_a_vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    use_fast_kdf(monkeypatch)
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    (shared / "team-notes.txt").write_text("not the appliance's\n")
    rc, _, err = run_cli(capsys, "init", "--home", str(shared), "--user", "root", "--passphrase-file", str(pw_file(tmp_path, "root")))
    assert_one_line_error(rc, err, "is not empty and holds no vault")
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755  # not made owner-only
    assert sorted(p.name for p in shared.iterdir()) == ["team-notes.txt"]
    # a home that holds only what the appliance put there before init (the model registry, the cache) is fine
    fresh = tmp_path / "fresh"
    (fresh / "model-cache").mkdir(parents=True)
    (fresh / "models.toml").write_text("")
    rc, out, err = run_cli(capsys, "init", "--home", str(fresh), "--user", "root", "--passphrase-file", str(pw_file(tmp_path, "root")))
    assert rc == 0 and "vault created" in out, err
    rc, _, err = run_cli(capsys, "init", "--home", str(fresh), "--user", "root", "--passphrase-file", str(pw_file(tmp_path, "root")))
    assert_one_line_error(rc, err, "a vault already exists")
