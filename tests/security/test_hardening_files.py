"""Attacks with damaged or swapped files the appliance reads: the compute-copy sidecar, the model registry, a policy.

Damage is one line naming the file and the problem, exit 2, never a traceback. A compute copy replaced together
with a consistent sidecar hash is refused for a vault; `models add` on a home with a vault is audited.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from appliance.engine import convert
from appliance.engine.convert import Seal, compute_copy
from appliance.engine.registry import Registry
from appliance.errors import UserError
from appliance.vault import Vault
from tests.security.hardening_helpers import (
    PW, assert_one_line_error, make_vault, pw_file, run_cli, use_fast_kdf,
)


def _entry_and_source(home: Path):  # noqa: ANN202
    """The default model's entry and its verified file (the real embedded model: nothing here loads it)."""
    return Registry(home).verified_path(None)


def _copy_paths(home: Path, entry) -> tuple[Path, Path]:  # noqa: ANN001
    from appliance.paths import model_cache_dir

    target = model_cache_dir(home) / f"{entry.sha256[:16]}-q8_0.gguf"
    return target, target.with_suffix(".json")


def _plant(target: Path, body: bytes, entry, seal: Seal | None) -> None:  # noqa: ANN001
    """A compute copy and its sidecar as the appliance writes them (fake weights: nothing loads them here)."""
    target.write_bytes(body)
    meta = {"source_sha256": entry.sha256, "compute_type": "q8_0", "sha256": hashlib.sha256(body).hexdigest()}
    if seal is not None:
        meta["seal"] = {"generation": seal.generation, "hmac": seal.mac(meta, target.name)}
    target.with_suffix(".json").write_text(json.dumps(meta))


@pytest.fixture
def fake_quantizer(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A named fake for llama.cpp's quantizer: writes known bytes and records that a copy was (re-)made."""
    made: list[str] = []

    def fake_quantize(src: bytes, dst: bytes, params) -> int:  # noqa: ANN001
        Path(dst.decode()).write_bytes(b"re-made from the verified source")
        made.append(dst.decode())
        return 0

    monkeypatch.setattr(convert.C, "llama_model_quantize", fake_quantize)
    return made


@pytest.mark.parametrize("damage", [
    b"",  # cut to nothing
    b'{"source_sha256": "b179',  # cut short
    b"\xff\xfe garbage",
    b"[1, 2, 3]",  # valid JSON, wrong shape
    b'{"source_sha256": 7, "compute_type": "q8_0", "sha256": "x"}',
    b'{"source_sha256": "%s", "compute_type": "q8_0", "sha256": "%s", "seal": "yes"}' % (b"a" * 64, b"b" * 64),
])
def test_damaged_sidecar_is_one_line_naming_the_file(tmp_path: Path, damage: bytes, fake_quantizer: list[str]) -> None:
    entry, source = _entry_and_source(tmp_path)
    target, sidecar = _copy_paths(tmp_path, entry)
    target.write_bytes(b"weights")
    sidecar.write_bytes(damage)
    with pytest.raises(UserError) as e:
        compute_copy(entry, source, target.parent, "q8_0")
    assert str(sidecar) in str(e.value) and "\n" not in str(e.value)
    assert not fake_quantizer


def test_damaged_sidecar_through_the_cli_is_exit_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """`appliance generate` reaches the sidecar after the vault opened: one line, exit 3 (a damaged file)."""
    use_fast_kdf(monkeypatch)
    home = tmp_path / "home"
    make_vault(home)
    entry, _ = _entry_and_source(home)
    target, sidecar = _copy_paths(home, entry)
    target.write_bytes(b"weights")
    sidecar.write_text('{"source_sha256": "')
    task = Path(__file__).resolve().parents[2] / "tasks" / "sst2_sentiment.toml"
    rc, _, err = run_cli(capsys, "generate", "--home", str(home), "--user", "alice", "--passphrase-file",
                         str(pw_file(tmp_path, "alice")), "--task", str(task), "--n", "2")
    assert_one_line_error(rc, err, f"compute-copy record {sidecar} is damaged", code=3)


def test_swapped_copy_with_consistent_sidecar_is_refused_for_the_vault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_quantizer: list[str]
) -> None:
    use_fast_kdf(monkeypatch)
    home = tmp_path / "home"
    make_vault(home)
    with Vault.open(home, "alice", PW["alice"]) as v:
        seal = Seal.of(v)
    with Vault.open(home, "rita", PW["rita"]) as v:
        assert Seal.of(v) == seal  # the same vault and key generation: the same seal, whoever opens it
    entry, source = _entry_and_source(home)
    target, sidecar = _copy_paths(home, entry)
    _plant(target, b"the copy the appliance made", entry, seal)
    assert compute_copy(entry, source, target.parent, "q8_0", seal) == (target, hashlib.sha256(target.read_bytes()).hexdigest())

    # the attacker swaps the weights and rewrites the sidecar's hash to match (keeping the seal he cannot recompute)
    evil = b"an attacker's model"
    meta = json.loads(sidecar.read_text())
    meta["sha256"] = hashlib.sha256(evil).hexdigest()
    target.write_bytes(evil)
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(UserError, match="does not carry this vault's seal"):
        compute_copy(entry, source, target.parent, "q8_0", seal)
    # ... or seals it with a key of his own: the same refusal
    _plant(target, evil, entry, Seal(b"k" * 32, seal.generation))
    with pytest.raises(UserError, match="does not carry this vault's seal"):
        compute_copy(entry, source, target.parent, "q8_0", seal)
    assert target.read_bytes() == evil and not fake_quantizer  # refused, not loaded, not silently replaced

    # without any seal (as benchmarks write it) the vault does not trust it: re-made from the verified source
    _plant(target, evil, entry, None)
    path, digest = compute_copy(entry, source, target.parent, "q8_0", seal)
    assert fake_quantizer and path.read_bytes() == b"re-made from the verified source"
    assert json.loads(sidecar.read_text())["seal"]["generation"] == seal.generation
    assert compute_copy(entry, source, target.parent, "q8_0", seal) == (path, digest)  # now sealed: loads as is
    # outside a vault (benchmarks, the test fixtures) the sidecar's hash is checked as before
    assert compute_copy(entry, source, target.parent, "q8_0") == (path, digest)


def test_another_vault_does_not_share_the_seal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_kdf(monkeypatch)
    seals = []
    for name in ("a", "b"):
        make_vault(tmp_path / name)
        with Vault.open(tmp_path / name, "root", PW["root"]) as v:
            seals.append(Seal.of(v).key)
    assert seals[0] != seals[1] and len(seals[0]) == 32


@pytest.mark.parametrize("text, needle", [
    (b"\xff\xfe", "not UTF-8"),
    (b"[[model]\nname =", "invalid model registry"),
    (b"model = 3\n", "model: must be list"),
    (b"[model]\nname = 'x'\n", "model: must be list"),
    (b"model = [1]\n", "model[0]: must be a table"),
    (b"[[model]]\nname = 'x'\n", "missing field"),
    (b"[[model]]\nname='x'\nfilename='x.gguf'\nsource={file='/x'}\nsha256='abc'\nlicense='MIT'\n"
     b"architecture='llama'\ncontext_length=512\ninstruct=true\n", "model[0].sha256: must be 64 lowercase hex"),
    (b"[[model]]\nname='x'\nfilename='x.gguf'\nsource={file='/x'}\nsha256='" + b"a" * 64 + b"'\nlicense='MIT'\n"
     b"architecture='llama'\ncontext_length='big'\ninstruct=true\n", "context_length: must be int, not str"),
    (b"[[model]]\nname='x'\nfilename='x.gguf'\nsource='/x'\nsha256='" + b"a" * 64 + b"'\nlicense='MIT'\n"
     b"architecture='llama'\ncontext_length=512\ninstruct=true\n", "source: must be dict"),
])
def test_damaged_model_registry_is_one_line(tmp_path: Path, text: bytes, needle: str, capsys) -> None:
    (tmp_path / "models.toml").write_bytes(text)
    rc, _, err = run_cli(capsys, "models", "list", "--home", str(tmp_path))
    assert_one_line_error(rc, err, needle)
    assert str(tmp_path / "models.toml") in err


@pytest.mark.parametrize("text, needle", [
    (b"\xff\xfe", "not UTF-8"),
    (b"[policy\nname=", "TOML syntax"),
    (b"policy = 3\n", "policy: must be a table"),
    (b"[policy]\nname = 'x'\n[pii]\nblock = 'PERSON'\n", "pii.block: must be list"),
    (b"[policy]\nname = 'x'\n[pii]\nblock = [1]\n", "pii.block: entries must be strings"),
    (b"[policy]\nname = 'x'\n[pii]\nthresholds = {PERSON = 'high'}\n", "pii.thresholds.PERSON: must be float"),
    (b"[policy]\nname = 'x'\n[memorization]\nmax_shared_tokens = 1e9\n", "must be int"),
])
def test_damaged_policy_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: bytes, needle: str, capsys) -> None:
    use_fast_kdf(monkeypatch)
    home = tmp_path / "home"
    make_vault(home)
    policy = tmp_path / "bad.toml"
    policy.write_bytes(text)
    task = Path(__file__).resolve().parents[2] / "tasks" / "sst2_sentiment.toml"
    rc, _, err = run_cli(capsys, "generate", "--home", str(home), "--user", "alice", "--passphrase-file",
                         str(pw_file(tmp_path, "alice")), "--task", str(task), "--n", "2", "--policy", str(policy))
    assert_one_line_error(rc, err, needle)
    assert str(policy) in err
    from appliance.guard.policy import load_policy

    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(UserError, match="cannot read policy"):
        load_policy(tmp_path / "dir.toml")


def test_models_add_on_a_vault_needs_a_user_and_is_audited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    use_fast_kdf(monkeypatch)
    home = tmp_path / "home"
    make_vault(home)
    _, source = _entry_and_source(home)
    mine = tmp_path / "mine.gguf"
    shutil.copyfile(source, mine)
    rc, _, err = run_cli(capsys, "models", "add", str(mine), "--name", "mine", "--home", str(home),
                         "--user", "rita", "--passphrase-file", str(pw_file(tmp_path, "rita")))
    assert_one_line_error(rc, err, "may not register models", code=4)
    assert "mine" not in Registry(home).names()
    rc, out, err = run_cli(capsys, "models", "add", str(mine), "--name", "mine", "--home", str(home),
                           "--user", "alice", "--passphrase-file", str(pw_file(tmp_path, "alice")))
    assert rc == 0 and "added mine" in out, err
    with Vault.open(home, "root", PW["root"]) as v:
        added = v.audit_entries(action="model.add")
        refused = v.audit_entries(user="rita")
    assert len(added) == 1 and added[0]["user"] == "alice" and added[0]["object_ids"]["model"] == "mine"
    assert added[0]["params"]["sha256"] == Registry(home).get("mine").sha256
    assert any("refus" in e["action"] or "denied" in e["action"] for e in refused), refused
