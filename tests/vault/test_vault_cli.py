"""The vault's CLI commands, driven through their own argparse registration."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from appliance.cli import vault_cmds
from appliance.errors import UserError
from appliance.vault import Vault, db, layout
from vault_helpers import meta_key


def _open(home: Path, user: str, passphrase: str) -> Vault:
    return Vault.open(home, user, passphrase)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="appliance")
    sub = parser.add_subparsers(dest="command")
    vault_cmds.register(sub)
    return parser


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """run('user', 'add', ...) → (exit code, stdout); passphrases go through files."""
    home = tmp_path / "home"
    secrets = tmp_path / "secrets"
    secrets.mkdir()

    def pw(name: str, value: str) -> str:
        p = secrets / name
        p.write_text(value + "\n")
        return str(p)

    def run(*argv: str) -> tuple[int, str]:
        args = _parser().parse_args([*argv, "--home", str(home)])
        code = args.func(args)
        out = capsys.readouterr()
        return code, out.out + out.err

    return SimpleNamespace(run=run, pw=pw, home=home)


def test_init_users_status_verify_log(cli, tmp_path: Path) -> None:
    root = cli.pw("root", "root-passphrase-1")
    code, out = cli.run("init", "--user", "root", "--passphrase-file", root)
    assert code == 0 and "vault created" in out and "AES-256-GCM" in out
    with pytest.raises(UserError, match="already exists"):
        cli.run("init", "--user", "root", "--passphrase-file", root)

    alice = cli.pw("alice", "alice-passphrase-1")
    rita = cli.pw("rita", "rita-passphrase-12")
    assert cli.run("user", "add", "alice", "--role", "author", "--user", "root", "--passphrase-file", root, "--new-passphrase-file", alice)[0] == 0
    assert cli.run("user", "add", "rita", "--role", "reviewer", "--user", "root", "--passphrase-file", root, "--new-passphrase-file", rita)[0] == 0
    code, out = cli.run("user", "list", "--user", "root", "--passphrase-file", root)
    assert "alice" in out and "reviewer" in out

    with pytest.raises(UserError, match="permission denied"):
        cli.run("user", "add", "eve", "--role", "admin", "--user", "alice", "--passphrase-file", alice, "--new-passphrase-file", alice)
    with pytest.raises(UserError, match="wrong passphrase for user alice"):
        cli.run("vault", "status", "--user", "alice", "--passphrase-file", root)

    code, out = cli.run("vault", "status", "--json", "--user", "alice", "--passphrase-file", alice)
    st = json.loads(out)
    assert st["encrypted"] is True and st["cipher"] == "GCM" and st["users_by_role"] == {"admin": 1, "author": 1, "reviewer": 1}

    code, out = cli.run("audit", "verify", "--user", "rita", "--passphrase-file", rita)
    assert code == 0 and "audit log OK" in out
    code, out = cli.run("audit", "log", "--by", "root", "--action", "user.*", "--since", "2000-01-01", "--user", "rita", "--passphrase-file", rita)
    assert out.count("user.add") == 2 and "eve" not in out
    dest = tmp_path / "export.jsonl"
    code, out = cli.run("audit", "log", "--action", "access.denied", "--jsonl", str(dest), "--user", "rita", "--passphrase-file", rita)
    entries = [json.loads(x) for x in dest.read_text().splitlines()]
    assert [e["user"] for e in entries] == ["alice"] and entries[0]["params"]["permission"] == "user.manage"
    with pytest.raises(UserError, match="invalid time"):
        cli.run("audit", "log", "--since", "yesterday", "--user", "rita", "--passphrase-file", rita)

    new = cli.pw("alice2", "alice-passphrase-2")
    assert cli.run("user", "passwd", "--user", "alice", "--passphrase-file", alice, "--new-passphrase-file", new)[0] == 0
    assert cli.run("vault", "status", "--user", "alice", "--passphrase-file", new)[0] == 0

    code, out = cli.run("vault", "rotate-key", "--user", "root", "--passphrase-file", root)
    assert code == 0 and "re-encrypted" in out
    assert cli.run("audit", "verify", "--user", "rita", "--passphrase-file", rita)[0] == 0


def test_audit_verify_exit_code_on_tampering(cli) -> None:
    root = cli.pw("root", "root-passphrase-1")
    cli.run("init", "--user", "root", "--passphrase-file", root)
    with _open(cli.home, "root", "root-passphrase-1") as v:
        key, path = meta_key(v), v.db_path
    con = db.connect(layout.temp_dir(cli.home))
    db.attach(con, path, "t", key)
    con.execute("UPDATE t.audit SET action = 'nothing' WHERE seq = 1")
    con.close()
    code, out = cli.run("audit", "verify", "--user", "root", "--passphrase-file", root)
    assert code == vault_cmds.AUDIT_FAILED_EXIT and "FAILED at entry 1" in out


def test_import_through_cli_with_task_spec(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import appliance.spec

    spec = SimpleNamespace(name="specialty", label_ids=["cardiology", "oncology"], source_text="[task]\nname = 'specialty'\n")
    monkeypatch.setattr(appliance.spec, "load_task", lambda path: spec)
    root = cli.pw("root", "root-passphrase-1")
    alice = cli.pw("alice", "alice-passphrase-1")
    cli.run("init", "--user", "root", "--passphrase-file", root)
    cli.run("user", "add", "alice", "--role", "author", "--user", "root", "--passphrase-file", root, "--new-passphrase-file", alice)
    seeds = tmp_path / "notes.jsonl"
    seeds.write_text('{"note": "palpitations at night", "dept": "cardiology"}\n{"note": "new mass on imaging", "dept": "oncology"}\n')
    code, out = cli.run("import", str(seeds), "--task", "t.toml", "--text-column", "note", "--label-column", "dept", "--user", "alice", "--passphrase-file", alice)
    assert code == 0 and "imported 2 seed records into seed set 'notes'" in out
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"note": "fine", "dept": "cardiology"}\n{"note": "x", "dept": "neurology"}\n')
    with pytest.raises(UserError, match=r"bad\.jsonl: row 2: unknown label 'neurology'"):
        cli.run("import", str(bad), "--task", "t.toml", "--text-column", "note", "--label-column", "dept", "--user", "alice", "--passphrase-file", alice)
    with _open(cli.home, "alice", "alice-passphrase-1") as v:
        sets = v.list_seed_sets()
        assert [s["name"] for s in sets] == ["notes"] and sets[0]["task_name"] == "specialty"
        assert v.get_task(sets[0]["task_id"])["spec_toml"] == spec.source_text


def test_shipped_task_and_seeds_import(cli) -> None:
    """The real task spec loader and a shipped seed file, end to end."""
    repo = Path(__file__).resolve().parents[2]
    task, seeds = repo / "tasks" / "sst2_sentiment.toml", repo / "tasks" / "seeds" / "sst2_sentiment.jsonl"
    root = cli.pw("root", "root-passphrase-1")
    alice = cli.pw("alice", "alice-passphrase-1")
    cli.run("init", "--user", "root", "--passphrase-file", root)
    cli.run("user", "add", "alice", "--role", "author", "--user", "root", "--passphrase-file", root, "--new-passphrase-file", alice)
    code, out = cli.run("import", str(seeds), "--task", str(task), "--text-column", "text", "--label-column", "label", "--user", "alice", "--passphrase-file", alice)
    assert code == 0 and "imported" in out
