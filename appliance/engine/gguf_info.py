"""Read a GGUF file's metadata (architecture, context length, chat template) and tokenizer through llama.cpp, loading
the vocabulary only (no weights)."""

from __future__ import annotations

import ctypes
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import llama_cpp as C

from appliance.errors import BadInput


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


@contextmanager
def _vocab_only(path: Path) -> Iterator[object]:
    from appliance.engine.llama import _init_backend

    _init_backend()
    with path.open("rb") as f:
        if f.read(4) != b"GGUF":
            raise BadInput(f"not a GGUF model file: {path}")
    params = C.llama_model_default_params()
    params.vocab_only = True
    model = C.llama_model_load_from_file(str(path).encode(), params)
    if not model:
        raise BadInput(f"llama.cpp cannot read GGUF file: {path}")
    try:
        yield model
    finally:
        C.llama_model_free(model)


@contextmanager
def gguf_tokenizer(path: Path) -> Iterator[Callable[[str], list[int]]]:
    """llama.cpp's tokenizer for a GGUF file, as ``LocalModel.tokenize`` uses it (no BOS, special tokens parsed)."""
    from appliance.engine.llama import tokenize_with

    with _vocab_only(path) as model:
        vocab = C.llama_model_get_vocab(model)
        yield lambda text: tokenize_with(vocab, text)


def read_gguf_info(path: Path) -> GGUFInfo:
    with _vocab_only(path) as model:
        arch = _meta(model, "general.architecture") or "unknown"
        ctx = int(_meta(model, f"{arch}.context_length") or 0)
        tmpl = C.llama_model_chat_template(model, None)
        ftype = _meta(model, "general.file_type") or ""
        return GGUFInfo(arch, ctx, bool(tmpl), int(C.llama_model_n_params(model)), ftype)
