"""The GGUF LoRA layout, without training noise: fixed random LoRA matrices on q and k only (where llama.cpp's rotary
layout differs from PyTorch's), written as a GGUF adapter, must move llama.cpp's logits the way they move PyTorch's.
A control written WITHOUT the q/k row permutation loads just as well and must not: this is the check that the
trained-adapter tests cannot make sharply, since q/k carry little of a trained adapter's effect."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.model

PROMPTS = ("Assessment: probable", "Patient reports worsening shortness of breath and", "Plan: start",
           "The knee was swollen after")


def test_qk_lora_layout_and_permutation(model_home, tmp_path, monkeypatch) -> None:
    import torch

    from appliance.adapt import dp_lora, gguf_lora
    from appliance.adapt.torch_base import load_torch_base
    from appliance.engine.llama import LocalModel
    from appliance.engine.registry import Registry

    entry, path = Registry(model_home).verified_path(None)
    model, tok = load_torch_base(path, entry.architecture)
    cfg = dp_lora.TrainConfig(epsilon=None, delta=1e-3, target_modules=("q_proj", "k_proj"))
    torch.manual_seed(0)
    peft_model = dp_lora.attach_lora(model, cfg)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for _, m in peft_model.named_modules():
            if hasattr(m, "lora_B") and "default" in getattr(m, "lora_B", {}):
                w = m.lora_B["default"].weight
                w.copy_(torch.randn(w.shape, generator=g) * 0.3)
    weights = dp_lora.lora_weights(peft_model)
    c = model.config
    args = (entry.architecture, weights, cfg.alpha, c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads)
    right, unpermuted = tmp_path / "right.gguf", tmp_path / "unpermuted.gguf"
    gguf_lora.write_gguf_lora(right, *args)
    monkeypatch.setattr(gguf_lora, "_rope_permute", lambda rows, n_head: rows)  # the control: the permutation left out
    gguf_lora.write_gguf_lora(unpermuted, *args)

    torch_deltas = []
    for prompt in PROMPTS:
        ids = tok(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            with peft_model.disable_adapter():
                t0 = peft_model(input_ids=ids).logits[0, -1].numpy()
            torch_deltas.append(peft_model(input_ids=ids).logits[0, -1].numpy() - t0)

    def pooled_corr(adapter) -> float:
        kw = dict(instruct=entry.instruct, n_threads=1, max_parallel=1, ctx_per_seq=128)
        with LocalModel(path, **kw) as base, LocalModel(path, lora_path=adapter, **kw) as adapted:
            llama = [adapted.next_token_logits(p) - base.next_token_logits(p) for p in PROMPTS]
        return float(np.corrcoef(np.concatenate(torch_deltas), np.concatenate(llama))[0, 1])

    good, control = pooled_corr(right), pooled_corr(unpermuted)
    print(f"pooled logit-delta correlation: permuted {good:.3f}, unpermuted control {control:.3f}")
    assert good > 0.95, good  # measured 0.969
    assert control < 0.5, control  # measured -0.014
