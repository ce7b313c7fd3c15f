"""The registered GGUF base model, loaded into PyTorch for training.

Training must happen on exactly the weights llama.cpp will run, so we load the same sha256-verified GGUF file
(``transformers`` de-quantizes it) rather than some other checkpoint. The adapter is only meaningful if both sides
cut text into the same tokens: :func:`check_tokenizer` compares the two tokenizers on the training texts and
refuses to train on any disagreement.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

from appliance.errors import BadInput

# Architectures whose GGUF transformers can load and whose LoRA tensor layout we export (see gguf_lora).
SUPPORTED_ARCHITECTURES = ("llama", "gemma3")


def load_torch_base(gguf_path: Path, architecture: str) -> tuple[Any, Any]:
    """(model, tokenizer) from the GGUF file, float32, in train mode with every base weight frozen."""
    if architecture not in SUPPORTED_ARCHITECTURES:
        raise BadInput(f"DP adapters are supported for {', '.join(SUPPORTED_ARCHITECTURES)} models, not {architecture}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    for p in model.parameters():
        p.requires_grad_(False)
    return model, tokenizer


def check_tokenizer(tokenizer: Any, llama_tokenize: Callable[[str], list[int]], texts: Sequence[str]) -> None:
    """Refuse to train unless PyTorch's tokenizer gives llama.cpp's token ids for every text."""
    for i, text in enumerate(texts):
        ours = tokenizer(text, add_special_tokens=False)["input_ids"]
        theirs = llama_tokenize(text)
        if list(ours) != list(theirs):
            at = next((k for k, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
            raise BadInput(
                f"tokenizers disagree on training text #{i + 1} at token {at} (PyTorch {len(ours)} tokens, "
                f"llama.cpp {len(theirs)}): refusing to train an adapter llama.cpp would read differently"
            )
