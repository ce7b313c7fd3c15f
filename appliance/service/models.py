"""Model operations for the CLI and TUI: list, verify, add. No vault needed: models are public files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from appliance.engine.registry import ModelEntry, Registry, check_model_fields, name_from_file, sha256_file
from appliance.errors import AccessDenied, UserError
from appliance.service.session import Session
from appliance.vault import layout


@dataclass(frozen=True)
class ModelStatus:
    entry: ModelEntry
    path: Path | None
    state: str  # "ok", "missing", "mismatch", "not installed"
    detail: str = ""


def list_models(home: Path) -> list[ModelEntry]:
    return list(Registry(home).entries.values())


def verify_models(home: Path, names: list[str] | None = None) -> list[ModelStatus]:
    """Hash every (or the named) model file against its pinned sha256."""
    reg = Registry(home)
    out = []
    for name in names or reg.names():
        entry = reg.get(name)
        try:
            path = reg.locate(entry)
        except UserError as e:
            out.append(ModelStatus(entry, None, "not installed", str(e)))
            continue
        if not path.is_file():
            out.append(ModelStatus(entry, path, "missing", f"file missing: {path}"))
            continue
        digest = sha256_file(path)
        if digest == entry.sha256:
            out.append(ModelStatus(entry, path, "ok"))
        else:
            out.append(ModelStatus(entry, path, "mismatch", f"sha256 {digest[:12]}… ≠ pinned {entry.sha256[:12]}…"))
    return out


def add_model(
    home: Path, path: Path, name: str | None = None, license: str = "unknown", session: Session | None = None
) -> ModelEntry:
    """Register a GGUF. With a vault in ``home`` the caller must pass the user's ``session``: the role is checked and
    the addition audited (``model.add``: name, sha256, file). Before ``init`` there is no log to write to."""
    if session is None and layout.key_file(home).exists():
        raise AccessDenied(f"{home} holds a vault: registering a model needs a signed-in user (it is audited)")
    if session is not None:
        session.require("model.add")
    name = name_from_file(path) if name is None else name
    check_model_fields(name, license)
    entry = Registry(home).add(path, name=name, license=license)
    if session is not None:
        session.vault.audit("model.add", {"model": entry.name},
                            {"sha256": entry.sha256, "file": entry.source.get("file"), "license": entry.license})
    return entry
