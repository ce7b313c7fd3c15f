"""Kernel-friendly compute copies of a verified model file.

Why: ggml's CPU kernels gain little from batching on Q4_1 weights (measured on 2 cores: 32 parallel sequences
reach only about 2.3× the single-sequence speed), while Q8_0 or BF16 weights batch well (3.3–3.9×). Q8_0 written
from Q4_1 is close to lossless (8-bit blocks re-encode 4-bit affine blocks), works with plain AVX2 kernels, and is
the default. The copy is made with llama.cpp's own quantizer from the file whose sha256 was just verified, stored in
the installation's model cache, and its own sha256 is recorded beside it so it is verified on every later load too.

The record beside the copy (``<copy>.json``, the sidecar) is written atomically and validated on every read: a damaged
one is one line naming the file. Loaded for a vault, the sidecar also carries a seal: an HMAC under a key the vault
derives (``Vault.derived_key``), so a copy replaced together with a consistent sidecar hash is refused instead of
loading under the source model's sha256. A copy made outside a vault (benchmarks, tests) has no seal; a vault load
re-makes it from the verified source (as it does after a key rotation) rather than trust it.
"""

from __future__ import annotations

import ctypes
import hashlib
import hmac
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llama_cpp as C

from appliance.engine.registry import ModelEntry, sha256_file
from appliance.errors import BadInput, IntegrityError, UserError, disk_full_error
from appliance.outputs import write_output

COMPUTE_TYPES = {
    "source": None,
    "q8_0": C.LLAMA_FTYPE_MOSTLY_Q8_0,
    "bf16": C.LLAMA_FTYPE_MOSTLY_BF16,
    "f16": C.LLAMA_FTYPE_MOSTLY_F16,
    "q4_0": C.LLAMA_FTYPE_MOSTLY_Q4_0,
}
DEFAULT_COMPUTE_TYPE = "q8_0"
SEAL_PURPOSE = "compute-copy-seal/1"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Seal:
    """What binds compute copies to one vault: a key derived from it and the key generation it belongs to."""

    key: bytes
    generation: str

    @classmethod
    def of(cls, vault: Any) -> "Seal":
        """The seal of an open ``Vault``."""
        return cls(vault.derived_key(SEAL_PURPOSE), vault.generation)

    def mac(self, meta: dict[str, Any], copy_name: str) -> str:
        fields = [copy_name, meta["source_sha256"], meta["compute_type"], meta["sha256"], self.generation]
        return hmac.new(self.key, json.dumps(fields).encode("utf-8"), hashlib.sha256).hexdigest()


def _read_sidecar(sidecar: Path) -> dict[str, Any]:
    """The sidecar's fields, checked; UserError naming the file and the problem."""
    def damaged(problem: str) -> UserError:
        return IntegrityError(f"compute-copy record {sidecar} is damaged ({problem}); delete it to have the copy re-made")

    try:
        meta = json.loads(sidecar.read_bytes())
    except OSError as e:
        raise BadInput(f"cannot read compute-copy record {sidecar}: {e.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise damaged("not JSON") from None
    if not isinstance(meta, dict):
        raise damaged("not a JSON object")
    for key in ("source_sha256", "sha256"):
        if not isinstance(meta.get(key), str) or not _HEX64.match(meta[key]):
            raise damaged(f"{key} is not a sha256")
    if meta.get("compute_type") not in COMPUTE_TYPES:
        raise damaged("unknown compute_type")
    seal = meta.get("seal")
    if seal is not None and not (isinstance(seal, dict) and isinstance(seal.get("generation"), str)
                                 and isinstance(seal.get("hmac"), str)):
        raise damaged("seal is not {generation, hmac}")
    return meta


def _trusted(meta: dict[str, Any], target: Path, seal: Seal | None) -> bool:
    """May the copy the sidecar describes be loaded (its bytes still to be hashed)? UserError on a broken seal."""
    if seal is None:
        return True
    stored = meta.get("seal")
    if stored is None or stored["generation"] != seal.generation:
        return False  # made outside this vault or before a key rotation: re-made from the verified source
    if not hmac.compare_digest(stored["hmac"], seal.mac(meta, target.name)):
        raise IntegrityError(f"compute copy {target} does not carry this vault's seal: it was replaced outside the "
                        f"appliance; refusing to load it (delete it and {target.with_suffix('.json').name} to have "
                        "it re-made from the verified model)")
    return True


def copy_target(entry: ModelEntry, cache_dir: Path, compute_type: str) -> Path | None:
    """Where the compute copy of ``entry`` for ``compute_type`` lives, or None when the source itself is loaded."""
    if compute_type not in COMPUTE_TYPES:
        raise BadInput(f"unknown compute type: {compute_type} (known: {', '.join(COMPUTE_TYPES)})")
    if compute_type == "source" or entry.quantization.lower() == compute_type:
        return None
    return cache_dir / f"{entry.sha256[:16]}-{compute_type}.gguf"


def compute_copy(
    entry: ModelEntry, verified_source: Path, cache_dir: Path, compute_type: str, seal: Seal | None = None
) -> tuple[Path, str]:
    """The model to load for ``compute_type`` and its sha256: the verified source itself, or a verified derived copy
    (sealed to the vault when ``seal`` is given)."""
    target = copy_target(entry, cache_dir, compute_type)
    if target is None:
        return verified_source, entry.sha256
    sidecar = target.with_suffix(".json")
    if target.exists() and sidecar.exists():
        meta = _read_sidecar(sidecar)
        if (meta["source_sha256"] == entry.sha256 and meta["compute_type"] == compute_type
                and _trusted(meta, target, seal) and sha256_file(target) == meta["sha256"]):
            return target, meta["sha256"]
    tmp = target.with_suffix(".partial")
    params = C.llama_model_quantize_default_params()
    params.ftype = COMPUTE_TYPES[compute_type]
    params.allow_requantize = True
    params.nthread = 1
    from appliance.engine.llama import _init_backend

    _init_backend()
    rc = C.llama_model_quantize(str(verified_source).encode(), str(tmp).encode(), ctypes.byref(params))
    if rc != 0:
        tmp.unlink(missing_ok=True)
        if shutil.disk_usage(cache_dir).free < 2 * verified_source.stat().st_size:  # llama.cpp says only "failed"
            raise disk_full_error(f"making the {compute_type} copy of {entry.name}")
        raise RuntimeError(f"llama.cpp could not write a {compute_type} copy of {entry.name} (code {rc})")
    digest = sha256_file(tmp)
    sidecar.unlink(missing_ok=True)  # a crash before the new record is written leaves a copy that is simply re-made
    tmp.replace(target)
    record: dict[str, Any] = {"source_sha256": entry.sha256, "compute_type": compute_type, "sha256": digest}
    if seal is not None:
        record["seal"] = {"generation": seal.generation, "hmac": seal.mac(record, target.name)}
    write_output(sidecar, json.dumps(record), None, force=True)
    return target, digest
