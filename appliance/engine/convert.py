"""Kernel-friendly compute copies of a verified model file.

Why: ggml's CPU kernels gain little from batching on Q4_1 weights (measured on 2 cores: 32 parallel sequences
reach only about 2.3× the single-sequence speed), while Q8_0 or BF16 weights batch well (3.3–3.9×). Q8_0 written
from Q4_1 is close to lossless (8-bit blocks re-encode 4-bit affine blocks), works with plain AVX2 kernels, and is
the default. The copy is made with llama.cpp's own quantizer from the file whose sha256 was just verified, stored in
the installation's model cache, and its own sha256 is recorded beside it so it is verified on every later load too.
"""

from __future__ import annotations

import ctypes
import json
from pathlib import Path

import llama_cpp as C

from appliance.engine.registry import ModelEntry, sha256_file
from appliance.errors import UserError

COMPUTE_TYPES = {
    "source": None,
    "q8_0": C.LLAMA_FTYPE_MOSTLY_Q8_0,
    "bf16": C.LLAMA_FTYPE_MOSTLY_BF16,
    "f16": C.LLAMA_FTYPE_MOSTLY_F16,
    "q4_0": C.LLAMA_FTYPE_MOSTLY_Q4_0,
}
DEFAULT_COMPUTE_TYPE = "q8_0"


def compute_copy(entry: ModelEntry, verified_source: Path, cache_dir: Path, compute_type: str) -> tuple[Path, str]:
    """The model to load for ``compute_type`` and its sha256: the verified source itself, or a verified derived copy."""
    if compute_type not in COMPUTE_TYPES:
        raise UserError(f"unknown compute type: {compute_type} (known: {', '.join(COMPUTE_TYPES)})")
    if compute_type == "source" or entry.quantization.lower() == compute_type:
        return verified_source, entry.sha256
    target = cache_dir / f"{entry.sha256[:16]}-{compute_type}.gguf"
    sidecar = target.with_suffix(".json")
    if target.exists() and sidecar.exists():
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        if meta.get("source_sha256") == entry.sha256 and sha256_file(target) == meta.get("sha256"):
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
        raise RuntimeError(f"llama.cpp could not write a {compute_type} copy of {entry.name} (code {rc})")
    digest = sha256_file(tmp)
    tmp.replace(target)
    sidecar.write_text(
        json.dumps({"source_sha256": entry.sha256, "compute_type": compute_type, "sha256": digest}), encoding="utf-8"
    )
    return target, digest
