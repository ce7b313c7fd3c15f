"""Attacks on `models add`, the way a user's own (larger) GGUF enters the appliance: a truncated or cut file, a name
or license that would forge a line of `models list` or carry markup, a name that shadows a shipped model. Each is
one line, exit 2, and nothing is registered (no models.toml written)."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.engine.registry import Registry
from tests.security.hardening_helpers import assert_one_line_error, run_cli


@pytest.fixture(scope="module")
def gguf() -> Path:
    """The embedded default model's file (a real GGUF; nothing here loads its weights)."""
    return Registry(Path("/nonexistent-home")).verified_path(None)[1]


@pytest.mark.parametrize("keep", [4, 1 << 20, 0.6])
def test_a_cut_gguf_is_refused(tmp_path: Path, gguf: Path, keep: float, capsys) -> None:
    """The magic only, the header and part of the vocabulary, most of the weights: llama.cpp refuses each."""
    body = gguf.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(body[: keep if isinstance(keep, int) else int(len(body) * keep)])
    home = tmp_path / "home"
    rc, _, err = run_cli(capsys, "models", "add", str(cut), "--name", "cut", "--home", str(home))
    assert_one_line_error(rc, err, "GGUF")
    assert not home.exists()


@pytest.mark.parametrize("argv, needle", [
    (["--name", "mine\nsmollm2-135m-instruct (default)  llama  135M"], "invalid model name"),
    (["--name", "[bold red]mine"], "invalid model name"),
    (["--name", "../../mine"], "invalid model name"),
    (["--name", ""], "invalid model name"),
    (["--name", "m" * 65], "invalid model name"),
    (["--name", "mine", "--license", "MIT\ngemma3-270m  gemma3"], "invalid model license"),
    (["--name", "smollm2-135m-instruct"], "already registered"),
])
def test_a_name_or_license_that_would_not_print_as_one_field_is_refused(
        tmp_path: Path, gguf: Path, argv: list[str], needle: str, capsys) -> None:
    home = tmp_path / "home"
    rc, _, err = run_cli(capsys, "models", "add", str(gguf), *argv, "--home", str(home))
    assert_one_line_error(rc, err, needle)
    assert not (home / "models.toml").exists()


def test_a_file_name_that_is_no_model_name_becomes_a_plain_one(tmp_path: Path, gguf: Path, capsys) -> None:
    """Without a name the file's stem is used, kept to the characters a name may hold ("my model (copy)" ->
    "my-model-copy"); a name the user types is taken as typed, so an odd one is refused."""
    odd = tmp_path / "my model (copy).gguf"
    odd.symlink_to(gguf)
    home = tmp_path / "home"
    rc, _, err = run_cli(capsys, "models", "add", str(odd), "--name", "my model", "--home", str(home))
    assert_one_line_error(rc, err, "invalid model name")
    rc, out, err = run_cli(capsys, "models", "add", str(odd), "--home", str(home))
    assert rc == 0 and "added my-model-copy" in out, err
    rc, out, _ = run_cli(capsys, "models", "list", "--home", str(home))
    assert rc == 0 and sum(line.startswith("my-model-copy ") for line in out.splitlines()) == 1
