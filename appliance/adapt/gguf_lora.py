"""Write trained LoRA matrices as a llama.cpp GGUF LoRA adapter.

Layout, as llama.cpp's own ``convert_lora_to_gguf.py`` writes it and ``llama-adapter.cpp`` checks it:
``general.type = adapter``, ``adapter.type = lora``, ``adapter.lora.alpha``; per adapted weight two tensors named
after the base tensor, ``blk.N.attn_q.weight.lora_a`` (A, shape rank × in) and ``….lora_b`` (B, out × rank), in
PyTorch's row order (GGUF reverses it to ggml's ne). llama.cpp computes ``W·x + scale·(alpha/rank)·B·(A·x)``, the
same scaling as ``peft``.

The llama converter stores q and k projections with their rows permuted for rotary embedding (llama.cpp's rope
pairs dimensions differently from the Hugging Face layout). A LoRA delta B·A on those weights must be permuted the
same way, which only touches B's rows. Skipping it still loads — silently wrong (logit errors of 5–14).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from appliance.errors import BadInput


def _rope_permute(rows: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp converter's permutation of q/k output rows (applied here to B, whose rows are the outputs)."""
    shape = rows.shape
    return rows.reshape(n_head, 2, shape[0] // n_head // 2, *shape[1:]).swapaxes(1, 2).reshape(shape)


def write_gguf_lora(
    path: Path,
    architecture: str,
    weights: dict[str, tuple[np.ndarray, np.ndarray]],
    alpha: float,
    n_blocks: int,
    n_head: int,
    n_head_kv: int,
) -> None:
    """Write ``weights`` ({``model.layers.N.self_attn.q_proj``: (A, B)}) to ``path`` as a GGUF LoRA adapter."""
    import gguf

    try:
        arch = next(a for a, name in gguf.MODEL_ARCH_NAMES.items() if name == architecture)
    except StopIteration:
        raise BadInput(f"gguf has no architecture named {architecture}") from None
    names = gguf.get_tensor_name_map(arch, n_blocks)
    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    for module, (a, b) in sorted(weights.items()):
        base = names.get_name(module + ".weight", try_suffixes=(".weight",))
        if base is None:
            raise BadInput(f"no llama.cpp tensor for {module}")
        if architecture == "llama" and module.endswith("q_proj"):
            b = _rope_permute(b, n_head)
        elif architecture == "llama" and module.endswith("k_proj"):
            b = _rope_permute(b, n_head_kv)
        writer.add_tensor(base + ".lora_a", np.ascontiguousarray(a, dtype=np.float32))
        writer.add_tensor(base + ".lora_b", np.ascontiguousarray(b, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
