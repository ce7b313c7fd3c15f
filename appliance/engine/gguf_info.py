"""Read a GGUF file's metadata (architecture, context length, chat template) through llama.cpp."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from pathlib import Path

import llama_cpp as C

from appliance.errors import UserError


@dataclass(frozen=True)
class GGUFInfo:
    architecture: str
    context_length: int
    has_chat_template: bool
    parameters: int
    file_type: str


def _meta(model, key: str) -> str | None:
    buf = ctypes.create_string_buffer(4096)
    n = C.llama_model_meta_val_str(model, key.encode(), buf, 4096)
    return buf.value.decode("utf-8", errors="replace") if n >= 0 else None


def read_gguf_info(path: Path) -> GGUFInfo:
    from appliance.engine.llama import _init_backend

    _init_backend()
    with path.open("rb") as f:
        if f.read(4) != b"GGUF":
            raise UserError(f"not a GGUF model file: {path}")
    params = C.llama_model_default_params()
    params.vocab_only = True
    model = C.llama_model_load_from_file(str(path).encode(), params)
    if not model:
        raise UserError(f"llama.cpp cannot read GGUF file: {path}")
    try:
        arch = _meta(model, "general.architecture") or "unknown"
        ctx = int(_meta(model, f"{arch}.context_length") or 0)
        tmpl = C.llama_model_chat_template(model, None)
        ftype = _meta(model, "general.file_type") or ""
        return GGUFInfo(arch, ctx, bool(tmpl), int(C.llama_model_n_params(model)), ftype)
    finally:
        C.llama_model_free(model)
