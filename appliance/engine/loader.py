"""Load a registered model: verify its sha256, pick the compute copy, hand it to llama.cpp."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from appliance.engine.convert import DEFAULT_COMPUTE_TYPE, compute_copy
from appliance.engine.llama import LocalModel, gpu_offload_supported
from appliance.engine.registry import ModelEntry, Registry
from appliance.paths import model_cache_dir


@dataclass(frozen=True)
class LoadedModel:
    entry: ModelEntry
    source_path: Path
    compute_path: Path
    compute_sha256: str
    compute_type: str
    model: LocalModel


def default_gpu_layers() -> int:
    """All layers on a GPU build (-1), none on a CPU build; $APPLIANCE_GPU_LAYERS overrides."""
    env = os.environ.get("APPLIANCE_GPU_LAYERS")
    if env is not None and env.lstrip("-").isdigit():
        return int(env)
    return -1 if gpu_offload_supported() else 0


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
) -> LoadedModel:
    registry = Registry(home)
    entry, source = registry.verified_path(name)
    ctype = compute_type or os.environ.get("APPLIANCE_COMPUTE_TYPE") or DEFAULT_COMPUTE_TYPE
    path, digest = compute_copy(entry, source, model_cache_dir(home), ctype)
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
