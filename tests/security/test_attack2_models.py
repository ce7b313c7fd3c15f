"""Insider attacks on the model registry, beyond test_generator_models_add: a license that splits or reorders a line
without an ASCII control (NEL, LINE SEPARATOR, a bidi override, a C1 escape, a zero-width space), names that look like
a shipped model (letter case, Cyrillic letters, full-width letters), path-like and option-like names, and
models.toml edited by hand to bring in what `models add` refuses: a name or license that would forge a line, or an
entry named like the embedded default, which used to replace it silently (its own sha256 pin made `models verify`
say ok, and every job without --model ran on the insider's file)."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w

from appliance.engine.registry import Registry, sha256_file
from tests.security.hardening_helpers import assert_one_line_error, run_cli

DEFAULT = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def gguf() -> Path:
    """The embedded default model's file (a real GGUF; nothing here loads its weights)."""
    return Registry(Path("/nonexistent-home")).verified_path(None)[1]


@pytest.mark.parametrize("license", [
    "MIT\x85smollm2-135m-instruct (default)", "MIT\u2028gemma3-270m  gemma3", "MIT\u2029x", "\u202eTIM",
    "MIT\x9b31m", "MIT\u200b", "MIT\x1b[2J", "MIT\tx",
])
def test_a_license_that_splits_or_reorders_a_line_is_refused(
        tmp_path: Path, gguf: Path, license: str, capsys) -> None:
    home = tmp_path / "home"
    rc, _, err = run_cli(capsys, "models", "add", str(gguf), "--name", "mine", "--license", license,
                         "--home", str(home))
    assert_one_line_error(rc, err, "invalid model license")
    assert not (home / "models.toml").exists()


@pytest.mark.parametrize("name, needle", [
    ("SmolLM2-135M-Instruct", "already registered: smollm2-135m-instruct"),  # the Hugging Face spelling
    ("GEMMA3-270M", "already registered: gemma3-270m"),
    ("smollm2-135m-\u0456nstruct", "invalid model name"),  # Cyrillic і
    ("\uff53mollm2-135m-instruct", "invalid model name"),  # full-width s
    ("smollm2-135m-instruct\u200b", "invalid model name"),
    ("a/b", "invalid model name"), ("a\\b", "invalid model name"), ("..", "invalid model name"),
    (".hidden", "invalid model name"), ("mine ", "invalid model name"),
])
def test_a_name_that_shadows_or_escapes_is_refused(tmp_path: Path, gguf: Path, name: str, needle: str,
                                                   capsys) -> None:
    home = tmp_path / "home"
    rc, _, err = run_cli(capsys, "models", "add", str(gguf), "--name", name, "--home", str(home))
    assert_one_line_error(rc, err, needle)
    assert not (home / "models.toml").exists()


def test_sixty_four_characters_is_the_longest_name(tmp_path: Path, gguf: Path, capsys) -> None:
    home = tmp_path / "home"
    rc, _, err = run_cli(capsys, "models", "add", str(gguf), "--name", "m" * 64, "--home", str(home))
    assert rc == 0, err
    assert Registry(home).get("m" * 64).sha256 == Registry(home).get(None).sha256


def _edited_registry(home: Path, gguf: Path, **fields: str) -> None:
    """models.toml as an insider writes it by hand: their file, pinned with its own sha256."""
    entry = {"name": "mine", "filename": gguf.name, "source": {"file": str(gguf)}, "sha256": sha256_file(gguf),
             "license": "MIT", "architecture": "llama", "context_length": 2048, "instruct": True, **fields}
    home.mkdir(parents=True, exist_ok=True)
    (home / "models.toml").write_text(tomli_w.dumps({"model": [entry]}), encoding="utf-8")


@pytest.mark.parametrize("fields, needle", [
    ({"name": DEFAULT}, f"model {DEFAULT} repeats the name {DEFAULT}"),
    ({"name": DEFAULT.upper(), "default": True}, f"repeats the name {DEFAULT}"),
    ({"name": "mine\nsmollm2-135m-instruct (default)"}, "invalid model name at model[0]"),
    ({"name": "[@click=app.quit]mine"}, "invalid model name at model[0]"),
    ({"license": "MIT\u2028gemma3-270m  gemma3"}, "invalid model license at model[0]"),
])
@pytest.mark.parametrize("command", [["models", "list"], ["models", "verify"]])
def test_an_edited_registry_cannot_replace_a_shipped_model_or_forge_a_line(
        tmp_path: Path, gguf: Path, fields: dict[str, str], needle: str, command: list[str], capsys) -> None:
    home = tmp_path / "home"
    _edited_registry(home, gguf, **fields)
    rc, _, err = run_cli(capsys, *command, "--home", str(home))
    assert_one_line_error(rc, err, needle)
    assert str(home / "models.toml") in err


def test_an_edited_registry_with_plain_entries_still_reads(tmp_path: Path, gguf: Path, capsys) -> None:
    home = tmp_path / "home"
    _edited_registry(home, gguf, license="CC BY 4.0 (see https://example.org/licence)")
    rc, out, err = run_cli(capsys, "models", "list", "--home", str(home))
    assert rc == 0, err
    assert Registry(home).get(None).name == DEFAULT  # the default stays the shipped, pinned model
    assert sum(line.startswith("mine ") for line in out.splitlines()) == 1
