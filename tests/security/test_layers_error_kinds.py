"""Attacks meet typed refusals: a guessed passphrase, a role reaching past itself, an edited key file, an altered
export. Each gets one line and the exit code of its kind (4 access denied, 3 integrity), never a traceback and never
the generic "bad input"; the TUI titles the same errors by kind; and no domain error names a command-line flag."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from appliance.errors import AccessDenied, BadInput, IntegrityError, MissingDependency, UserError
from appliance.vault import Vault, layout
from tests.security.hardening_helpers import PW, make_vault, pw_file, run_cli, use_fast_kdf

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    use_fast_kdf(monkeypatch)
    h = tmp_path / "home"
    make_vault(h)
    return h


def one_line(rc: int, err: str, code: int, needle: str) -> None:
    assert rc == code, (rc, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in err, err


def test_a_guessed_passphrase_is_access_denied(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    guess = tmp_path / "guess.pw"
    guess.write_text("not-alices-passphrase\n", encoding="utf-8")
    rc, _, err = run_cli(capsys, "vault", "status", "--home", str(home), "--user", "alice", "--passphrase-file", str(guess))
    one_line(rc, err, AccessDenied.exit_code, "wrong passphrase for user alice")
    assert "not-alices-passphrase" not in err


@pytest.mark.parametrize("argv", [("user", "add", "mallory", "--role", "admin"), ("vault", "rotate-key"),
                                  ("user", "remove", "rita")])
def test_an_author_reaching_for_admin_commands_is_denied_and_audited(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    new_pw = tmp_path / "new.pw"
    new_pw.write_text("mallory-passphrase-1\n", encoding="utf-8")
    extra = ["--new-passphrase-file", str(new_pw)] if argv[:2] == ("user", "add") else []
    rc, _, err = run_cli(capsys, *argv, *extra, "--home", str(home), "--user", "alice",
                         "--passphrase-file", str(pw_file(tmp_path, "alice")))
    one_line(rc, err, AccessDenied.exit_code, "permission denied: user alice (author)")
    with Vault.open(home, "root", PW["root"]) as v:
        assert [e for e in v.audit_entries(action="access.denied") if e["user"] == "alice"]
        assert "mallory" not in [u["name"] for u in v.list_users()]


def test_a_role_edited_in_the_key_file_is_an_integrity_failure(home: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = layout.key_file(home)
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["users"]["alice"]["role"] = "admin"  # promote oneself by editing the file
    path.write_text(json.dumps(doc), encoding="utf-8")
    rc, _, err = run_cli(capsys, "user", "list", "--home", str(home), "--user", "alice",
                         "--passphrase-file", str(pw_file(tmp_path, "alice")))
    one_line(rc, err, IntegrityError.exit_code, "alice")


def test_a_truncated_key_file_is_an_integrity_failure(home: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = layout.key_file(home)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    rc, _, err = run_cli(capsys, "vault", "status", "--home", str(home), "--user", "root",
                         "--passphrase-file", str(pw_file(tmp_path, "root")))
    one_line(rc, err, IntegrityError.exit_code, "is damaged")


def test_the_tui_titles_each_kind_of_error() -> None:
    from appliance.tui.screens.base import report_error

    class App:
        def __init__(self) -> None:
            self.shown: list[tuple[str, str, str]] = []

        def notify(self, message: str, *, title: str, severity: str, timeout: float, markup: bool = True) -> None:
            self.shown.append((title, severity, message))

    app = App()
    for e in (AccessDenied("permission denied: x"), IntegrityError("log altered"), MissingDependency("no model"),
              BadInput("bad row"), UserError("plain"), OSError(28, "No space left on device")):
        report_error(app, e)
    titles = [t for t, _, _ in app.shown]
    assert titles == ["Access denied", "Integrity check failed", "Not installed", "Not done", "Not done", "Not done"]
    assert app.shown[0][1] == app.shown[1][1] == "error"
    assert "no space left on device" in app.shown[-1][2]  # a full disk is one plain line, not "unexpected error"


def _messages_raised(path: Path) -> list[tuple[int, str]]:
    """The literal text of every error constructed in a ``raise`` or ``return`` (f-strings' fixed parts)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        call = node.exc if isinstance(node, ast.Raise) else node.value if isinstance(node, ast.Return) else None
        if isinstance(call, ast.Call):
            name = getattr(call.func, "id", None) or getattr(call.func, "attr", "")
            if name.endswith(("Error", "Input", "Denied", "Dependency")) and call.args:
                parts = [n.value for n in ast.walk(call.args[0]) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
                out.append((node.lineno, "".join(parts)))
    return out


def test_domain_errors_name_fields_not_command_line_flags() -> None:
    """The service layer and the vault speak to the TUI as well: "--n must be…" would mean nothing there."""
    import re

    flag = re.compile(r"(?<![\w`-])--[a-z][a-z-]+")
    found = [f"{p.relative_to(REPO)}:{line}: {text}"
             for folder in ("appliance/service", "appliance/vault")
             for p in sorted((REPO / folder).rglob("*.py"))
             for line, text in _messages_raised(p) if flag.search(text)]
    assert not found, "\n".join(found)
    assert _messages_raised(REPO / "appliance/service/review.py"), "the walk found no error message at all"
