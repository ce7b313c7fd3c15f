"""Layering: the CLI and the TUI reach the vault only through ``appliance.service`` (which checks roles and audits),
and every module of the package stays short enough to read in one sitting."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
INTERFACES = ("appliance/cli", "appliance/tui")
MAX_LINES = 400



def _sources(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (REPO / folder).rglob("*.py"))


def _vault_uses(path: Path) -> list[tuple[int, str]]:
    """Every ``<anything>.vault`` attribute in the file (``session.vault``, ``s.vault``, ``self.session.vault``)."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    return [(node.lineno, lines[node.lineno - 1].strip()) for node in ast.walk(ast.parse(text))
            if isinstance(node, ast.Attribute) and node.attr == "vault"]


def test_cli_and_tui_reach_the_vault_only_through_the_service_layer() -> None:
    found = []
    for path in _sources(*INTERFACES):
        rel = path.relative_to(REPO).as_posix()
        found += [f"{rel}:{lineno}: {line}" for lineno, line in _vault_uses(path)]
    assert not found, "the CLI/TUI call the vault directly; add a service function:\n" + "\n".join(found)


def test_the_walk_sees_a_vault_call() -> None:
    """The check above would pass on a walk that found nothing: prove it finds each spelling."""
    code = "def f(session, s):\n    session.vault.list_jobs()\n    s.vault.status()\n    self.session.vault.x\n"
    tree = ast.parse(code)
    assert sum(isinstance(n, ast.Attribute) and n.attr == "vault" for n in ast.walk(tree)) == 3
    assert _sources(*INTERFACES), "no interface sources found"


def test_every_module_stays_short() -> None:
    long = [f"{p.relative_to(REPO).as_posix()}: {n} lines" for p in _sources("appliance")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES]
    assert not long, f"modules over {MAX_LINES} lines (split them along what they do):\n" + "\n".join(long)
