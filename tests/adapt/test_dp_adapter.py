"""DP adapters end to end on the real model: train with Opacus, export to GGUF, load in llama.cpp, use in a job.

One short training run (module fixture) is shared by the tests. Its ε is large on purpose (a custom policy allows
it): these tests check the mechanics — the LoRA weights really change (a known Opacus+PEFT combination silently
corrupts them), held-out loss falls, and llama.cpp applies the adapter like PyTorch does — not how much a small ε
teaches (that is bench/dp.py's job).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from appliance.errors import UserError
from appliance.service.session import Session
from appliance.vault import Vault, keys

REPO = Path(__file__).resolve().parents[2]
FAST_KDF = keys.KdfParams(memory_kib=1024, iterations=1, lanes=1)
PW = {"root": "root-passphrase-1", "alice": "alice-passphrase-1", "rita": "rita-passphrase-1"}
SEEDS = [json.loads(line) for line in (REPO / "tasks/seeds/medical_specialty.jsonl").read_text().splitlines() if line.strip()]
TRAIN, HELD_OUT = SEEDS[:30], SEEDS[30:]
GENEROUS = """[policy]
name = "test-generous-dp"
[dp]
required = true
epsilon_per_seed_set = 1000.0
delta = 1e-3
"""

pytestmark = pytest.mark.model


def _vault(home: Path, seeds: list[dict], seed_set: str = "med") -> None:
    with Vault.create(home, "root", PW["root"], kdf_params=FAST_KDF) as v:
        v.add_user("alice", "author", PW["alice"])
        v.add_user("rita", "reviewer", PW["rita"])
    with Vault.open(home, "alice", PW["alice"]) as v:
        v.grant("rita")
    src = home.parent / f"{seed_set}.jsonl"
    src.write_text("".join(json.dumps(s) + "\n" for s in seeds), encoding="utf-8")
    with Session.open(home, "alice", PW["alice"]) as s:
        s.import_seed_file(src, text_column="text", label_column="label", seed_set=seed_set)
    src.unlink()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    """A vault with one adapter trained on 30 seeds; the training's figures."""
    from appliance.service.adapters import AdaptRequest, train_adapter

    home = tmp_path_factory.mktemp("adapt") / "home"
    policy = tmp_path_factory.mktemp("policy") / "generous.toml"
    policy.write_text(GENEROUS, encoding="utf-8")
    keys_default = keys.default_kdf_params
    keys.default_kdf_params = lambda: FAST_KDF
    try:
        _vault(home, TRAIN)
        from appliance.service.seeds import plant_canaries

        with Session.open(home, "alice", PW["alice"]) as s:
            plant_canaries(s, "med", 2)  # they travel with the seed set into training
        steps = []
        with Session.open(home, "alice", PW["alice"]) as s:
            manifest = train_adapter(s, home, AdaptRequest(
                seed_set="med", epsilon=200.0, epochs=2, policy=str(policy), name="med-test", batch_size=10,
                learning_rate=5e-3, max_tokens=64), on_progress=steps.append)
        yield {"home": home, "manifest": manifest, "steps": steps, "policy": policy}
    finally:
        keys.default_kdf_params = keys_default


def test_training_reports_dp_figures_and_progress(trained) -> None:
    m = trained["manifest"]
    priv = m["privacy"]
    assert priv["dp"] and priv["accountant"] == "rdp" and priv["privacy_unit"] == "one seed record"
    assert 0 < priv["epsilon"] <= 200.0 + 1e-6 and priv["delta"] == 1e-3 and priv["noise_multiplier"] > 0
    assert "torchcsprng" in priv["noise_source"]
    steps = trained["steps"]
    assert steps and steps[-1].step == steps[-1].total_steps == priv["steps"]
    assert all(p.epsilon is not None for p in steps)
    assert m["n_records"] == len(TRAIN) + 2 and m["n_canaries"] == 2 and len(m["sha256"]) == 64


def test_adapter_is_in_the_vault_encrypted_on_the_ledger_and_audited(trained) -> None:
    home = trained["home"]
    with Session.open(home, "alice", PW["alice"]) as s:
        (row,) = s.vault.list_adapters()
        meta, body = s.vault.get_adapter("med-test")
        spent = s.vault.privacy_spent("med")
    assert body[:4] == b"GGUF" and meta["sha256"] == trained["manifest"]["sha256"]
    assert len(spent["entries"]) == 1 and spent["entries"][0]["kind"] == "dp-lora"
    assert spent["epsilon"] == pytest.approx(trained["manifest"]["privacy"]["epsilon"])
    with Session.open(home, "rita", PW["rita"]) as s:
        actions = [e["action"] for e in s.vault.audit_entries()]
        assert [a["name"] for a in s.vault.list_adapters()] == ["med-test"]  # reviewers may list
        with pytest.raises(UserError):
            s.vault.get_adapter("med-test")  # but not load one
    assert "ledger.charge" in actions and "adapter.add" in actions
    # No file in the home holds the adapter's bytes in the clear (it lives inside the encrypted database).
    needle = body[len(body) // 2 : len(body) // 2 + 64]
    for f in home.rglob("*"):
        if f.is_file():
            assert needle not in f.read_bytes(), f


def _llama_pair(home: Path, compute_type: str | None = None):
    """llama.cpp without and with the stored adapter. ``compute_type="source"`` runs the very file PyTorch
    de-quantized (the default q8_0 compute copy re-rounds the weights, which blurs a comparison of small deltas)."""
    from appliance.engine.loader import load_model
    from appliance.engine.registry import Registry
    from appliance.service.adapters import adapter_file

    kw = dict(max_parallel=1, ctx_per_seq=256, n_threads=1, compute_type=compute_type)
    base = load_model(home, None, **kw).model
    with Session.open(home, "alice", PW["alice"]) as s, adapter_file(s, "med-test", Registry(home).get(None)) as (path, _):
        adapted = load_model(home, None, lora_path=path, **kw).model
    return base, adapted


def test_llama_cpp_applies_the_adapter_like_pytorch(trained) -> None:
    """The logit change llama.cpp sees from the GGUF adapter correlates with PyTorch's (> 0.9): layout and q/k
    permutation are right. Without the permutation it still loads, but the deltas disagree."""
    import torch

    from appliance.adapt import dp_lora
    from appliance.adapt.torch_base import load_torch_base
    from appliance.engine.registry import Registry

    home = trained["home"]
    entry, path = Registry(home).verified_path(None)
    model, tok = load_torch_base(path, entry.architecture)
    m = trained["manifest"]
    peft_model = dp_lora.attach_lora(model, dp_lora.TrainConfig(epsilon=None, delta=1e-3, rank=m["lora"]["rank"],
                                                                alpha=m["lora"]["alpha"]))
    _load_gguf_lora_into(peft_model, home)
    base, adapted = _llama_pair(home, compute_type="source")
    corr: list[float] = []
    pooled_torch: list[np.ndarray] = []
    pooled_llama: list[np.ndarray] = []
    try:
        for prompt in ("Assessment: probable", "Patient reports worsening shortness of breath and", "Plan: start",
                       "The knee was swollen after"):
            ids = tok(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
            with torch.no_grad():
                with peft_model.disable_adapter():
                    t0 = peft_model(input_ids=ids).logits[0, -1].numpy()
                t1 = peft_model(input_ids=ids).logits[0, -1].numpy()
            d_torch = t1 - t0
            d_llama = adapted.next_token_logits(prompt) - base.next_token_logits(prompt)
            assert np.abs(d_torch).mean() > 0.01, "the adapter changes nothing"
            corr.append(float(np.corrcoef(d_torch, d_llama)[0, 1]))
            pooled_torch.append(d_torch)
            pooled_llama.append(d_llama)
        pooled = float(np.corrcoef(np.concatenate(pooled_torch), np.concatenate(pooled_llama))[0, 1])
        print("logit-delta correlations:", corr, "pooled:", pooled)
        # Pooled over the prompts > 0.9; each prompt only > 0.75: llama.cpp (likely its 8-bit activations against
        # quantized weights) adds noise to a short prompt's delta. A trained adapter's effect seems to lie mostly outside q/k: this
        # test barely notices a missing q/k permutation (0.966 vs 0.989 pooled, measured): test_lora_layout.py checks it.
        # Measured here: 0.85-0.98 per prompt over 6 runs ("Plan: start" the lowest), pooled 0.946-0.966 over 4.
        assert pooled > 0.9 and min(corr) > 0.75, (pooled, corr)
    finally:
        base.close()
        adapted.close()


def _load_gguf_lora_into(peft_model, home: Path) -> None:
    """Read the stored GGUF adapter back into the PyTorch LoRA modules (undoing the q/k permutation), so the
    comparison uses exactly the bytes llama.cpp got — and shows the weights changed from their initial values."""
    import gguf
    import torch

    from appliance.adapt.gguf_lora import _rope_permute

    with Session.open(home, "alice", PW["alice"]) as s:
        _, body = s.vault.get_adapter("med-test")
    p = home.parent / "readback.gguf"
    p.write_bytes(body)
    try:
        reader = gguf.GGUFReader(str(p))
        tensors = {t.name: np.array(t.data) for t in reader.tensors}
    finally:
        p.unlink()
    conf = peft_model.base_model.model.config
    inverse = lambda b, n: _rope_permute(np.eye(b.shape[0], dtype=np.float32), n).T @ b  # noqa: E731
    changed = 0
    for name, module in peft_model.named_modules():
        if not (hasattr(module, "lora_A") and "default" in getattr(module, "lora_A", {})):
            continue
        layer = int(name.split("layers.")[1].split(".")[0])
        kind = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output"}[name.rsplit(".", 1)[1]]
        a = tensors[f"blk.{layer}.{kind}.weight.lora_a"]
        b = tensors[f"blk.{layer}.{kind}.weight.lora_b"]
        if kind == "attn_q":
            b = inverse(b, conf.num_attention_heads)
        elif kind == "attn_k":
            b = inverse(b, conf.num_key_value_heads)
        changed += int(np.abs(b).max() > 0)  # B starts at zero: any non-zero entry was learned
        with torch.no_grad():
            module.lora_A["default"].weight.copy_(torch.from_numpy(a.reshape(module.lora_A["default"].weight.shape)))
            module.lora_B["default"].weight.copy_(torch.from_numpy(b.reshape(module.lora_B["default"].weight.shape)))
    assert changed == 4 * conf.num_hidden_layers, f"only {changed} LoRA B matrices moved from zero"


def test_held_out_loss_falls_under_llama_cpp_with_the_adapter(trained) -> None:
    base, adapted = _llama_pair(trained["home"])
    try:
        def nll(m):
            tot = n = 0
            for s in HELD_OUT:
                lp, per = m.loglik_tokens("\n", s["text"])
                tot, n = tot - lp, n + len(per)
            return tot / n
        before, after = nll(base), nll(adapted)
    finally:
        base.close()
        adapted.close()
    assert after < before - 0.05, (before, after)


def test_a_generation_job_uses_the_adapter_and_records_it(trained) -> None:
    from appliance.service.generation import GenerationRequest, run_generation
    from appliance.spec import load_task

    home = trained["home"]
    task = load_task(str(REPO / "tasks/medical_specialty.toml"))
    with Session.open(home, "alice", PW["alice"]) as s:
        r = run_generation(s, home, GenerationRequest(task=task, n=4, adapter="med-test", max_parallel=4, threads=1))
        job = s.vault.get_job(r.job_id)
        assert job["config"]["adapter"]["name"] == "med-test"
        assert job["config"]["adapter"]["sha256"] == trained["manifest"]["sha256"]
        assert job["config"]["adapter"]["epsilon"] == pytest.approx(trained["manifest"]["privacy"]["epsilon"])
        assert s.vault.count_records(r.job_id) >= 1


def test_over_budget_run_is_refused_before_training(trained) -> None:
    """Budget 1000 in the generous policy: the ledger already holds ~200, so asking 900 more is refused at once,
    audited, and nothing is stored; the default policy's budget (8) refuses ε = 9 outright."""
    from appliance.service.adapters import AdaptRequest, train_adapter

    home = trained["home"]
    with Session.open(home, "alice", PW["alice"]) as s:
        for eps, pol in ((900.0, str(trained["policy"])), (9.0, "default")):
            with pytest.raises(UserError, match="privacy budget exceeded"):
                train_adapter(s, home, AdaptRequest(seed_set="med", epsilon=eps, policy=pol, name=f"never-{eps:g}"))
        assert [a["name"] for a in s.vault.list_adapters()] == ["med-test"]
        assert len(s.vault.privacy_spent("med")["entries"]) == 1
    with Session.open(home, "rita", PW["rita"]) as s:
        refusals = [e for e in s.vault.audit_entries(action="access.denied")
                    if e["params"].get("permission") == "adapter.train" and "over budget" in e["params"].get("reason", "")]
    assert len(refusals) == 2, refusals  # both refused runs, each audited once


def test_canary_exposure_is_measured_for_the_planted_canaries(trained) -> None:
    from appliance.service.adapters import canary_exposure

    home = trained["home"]
    with Session.open(home, "alice", PW["alice"]) as s:
        rows = canary_exposure(s, home, "med-test", candidates=40)
    assert len(rows) == 2
    for r in rows:
        for which in ("base", "adapter"):
            e = r[which]
            assert 1 <= e["rank"] <= 41 and 0 <= e["exposure"] <= e["max_exposure"] + 1e-9


def test_tokenizer_mismatch_refuses_to_train() -> None:
    from appliance.adapt.torch_base import check_tokenizer

    class Tok:
        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": [1, 2, 3]}

    check_tokenizer(Tok(), lambda t: [1, 2, 3], ["same"])
    with pytest.raises(UserError, match="tokenizers disagree"):
        check_tokenizer(Tok(), lambda t: [1, 2, 4], ["different"])
