"""Gemma 3 adapters: the GGUF base stores its q/k projections unpermuted, so the LoRA matrices are written as trained;
llama.cpp's logit change from the GGUF adapter must match PyTorch's (checked here, correlation > 0.9)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.model, pytest.mark.slow]


def test_gemma3_adapter_matches_pytorch_under_llama_cpp(model_home: Path, tmp_path: Path) -> None:
    import torch

    from appliance.adapt import dp_lora
    from appliance.adapt.gguf_lora import write_gguf_lora
    from appliance.adapt.torch_base import check_tokenizer, load_torch_base
    from appliance.engine.llama import LocalModel
    from appliance.engine.registry import Registry

    entry, path = Registry(model_home).verified_path("gemma3-270m")
    assert entry.architecture == "gemma3"
    model, tok = load_torch_base(path, entry.architecture)
    texts = [json.loads(line)["text"] for line in (REPO / "tasks/seeds/medical_specialty.jsonl").read_text().splitlines()][:16]
    base = LocalModel(path, instruct=entry.instruct, n_threads=1, max_parallel=1, ctx_per_seq=128)
    try:
        check_tokenizer(tok, base.tokenize, texts)
        cfg = dp_lora.TrainConfig(epsilon=1000.0, delta=1e-3, epochs=1, batch_size=8, learning_rate=1e-2, max_tokens=48)
        peft_model = dp_lora.attach_lora(model, cfg)
        result = dp_lora.train(peft_model, tok, texts, cfg)
        c = model.config
        out = tmp_path / "gemma3-adapter.gguf"
        write_gguf_lora(out, "gemma3", result.weights, result.alpha, c.num_hidden_layers, c.num_attention_heads,
                        c.num_key_value_heads)
        with LocalModel(path, instruct=entry.instruct, n_threads=1, max_parallel=1, ctx_per_seq=128, lora_path=out) as adapted:
            for prompt in ("Assessment: probable", "Plan: start"):
                ids = tok(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
                with torch.no_grad():
                    with peft_model.disable_adapter():
                        t0 = peft_model(input_ids=ids).logits[0, -1].numpy()
                    t1 = peft_model(input_ids=ids).logits[0, -1].numpy()
                d_llama = adapted.next_token_logits(prompt) - base.next_token_logits(prompt)
                assert np.abs(t1 - t0).mean() > 0.01
                assert np.corrcoef(t1 - t0, d_llama)[0, 1] > 0.9, prompt
    finally:
        base.close()
