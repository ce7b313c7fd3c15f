"""Load a registered model: verify its sha256, pick the compute copy, hand it to llama.cpp."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from appliance.engine.convert import DEFAULT_COMPUTE_TYPE, Seal, compute_copy
from appliance.engine.llama import LocalModel, gpu_offload_supported
from appliance.engine.registry import ModelEntry, Registry
from appliance.errors import BadInput
from appliance.paths import model_cache_dir


@dataclass(frozen=True)
class LoadedModel:
    entry: ModelEntry
    source_path: Path
    compute_path: Path
    compute_sha256: str
    compute_type: str
    model: LocalModel


GPU_LAYERS_ENV = ("APPLIANCE_N_GPU_LAYERS", "APPLIANCE_GPU_LAYERS")  # the second: the name used before, still read


def default_gpu_layers() -> int:
    """Layers to offload: all (-1) when this llama.cpp build can offload to a GPU, none (0) on a CPU build.

    ``$APPLIANCE_N_GPU_LAYERS`` (or ``--n-gpu-layers``) overrides, e.g. a number of layers when the model does not fit
    in GPU memory. Asking for layers on a CPU build is harmless: llama.cpp keeps them on the CPU."""
    for name in GPU_LAYERS_ENV:
        env = os.environ.get(name, "").strip()
        if env:
            try:
                value = int(env)
            except ValueError:
                raise BadInput(f"${name} must be an integer (-1 = all layers, 0 = CPU only), not {env!r}") from None
            if value < -1:
                raise BadInput(f"${name} must be -1 (all layers), 0 or a number of layers, not {value}")
            return value
    return -1 if gpu_offload_supported() else 0


def verified_copy(
    home: Path, name: str | None = None, compute_type: str | None = None, seal: Seal | None = None
) -> tuple[ModelEntry, Path, Path, str, str]:
    """The registered model verified by its sha256, and the compute copy to load with that copy's sha256:
    ``(entry, source path, compute path, compute sha256, compute type)``. Nothing is loaded: a driver whose workers
    decode elsewhere (``appliance.cluster``) needs only the hashes they must match."""
    entry, source = Registry(home).verified_path(name)
    ctype = compute_type or os.environ.get("APPLIANCE_COMPUTE_TYPE") or DEFAULT_COMPUTE_TYPE
    path, digest = compute_copy(entry, source, model_cache_dir(home), ctype, seal)
    return entry, source, path, digest, ctype


def load_model(
    home: Path,
    name: str | None = None,
    *,
    compute_type: str | None = None,
    n_threads: int | None = None,
    n_gpu_layers: int | None = None,
    max_parallel: int = 32,
    ctx_per_seq: int = 512,
    lora_path: Path | None = None,
    seal: Seal | None = None,
) -> LoadedModel:
    """Verify the model, pick (or make) its compute copy and load it. ``seal`` (``Seal.of(vault)``) binds the copy to
    a vault: every load on behalf of a vault passes it; loads outside one (benchmarks, tests) need none."""
    if n_gpu_layers is not None and n_gpu_layers < -1:
        raise BadInput(f"n_gpu_layers must be -1 (all layers), 0 or a number of layers, not {n_gpu_layers}")
    entry, source, path, digest, ctype = verified_copy(home, name, compute_type, seal)
    model = LocalModel(
        path,
        instruct=entry.instruct,
        n_threads=n_threads,
        n_gpu_layers=default_gpu_layers() if n_gpu_layers is None else n_gpu_layers,
        max_parallel=max_parallel,
        ctx_per_seq=ctx_per_seq,
        lora_path=lora_path,
    )
    return LoadedModel(entry=entry, source_path=source, compute_path=path, compute_sha256=digest, compute_type=ctype, model=model)
