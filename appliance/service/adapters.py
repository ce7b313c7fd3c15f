"""DP adapters for a seed set: train (charging the privacy ledger), store encrypted, and hand llama.cpp a copy.

The order of checks is the point: the budget, the policy's δ and the tokenizers are checked before a single
training step, so a refused run spends nothing and writes nothing. A finished run charges its ε and stores the
adapter in one vault transaction: there is never an adapter whose ε is not on the ledger.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from appliance.adapt import dp_lora
from appliance.adapt.dp_lora import TrainConfig, TrainProgress
from appliance.engine.memfile import memory_file
from appliance.engine.registry import ModelEntry, Registry
from appliance.errors import BadInput
from appliance.guard.canaries import companion_sets, from_seed_rows
from appliance.guard.policy import Policy, load_policy
from appliance.service.session import Session
from appliance.vault import layout

DEFAULT_BUDGET = 8.0  # ε per seed set when the policy names none


@dataclass
class AdaptRequest:
    seed_set: str
    epsilon: float
    model: str | None = None
    delta: float | None = None  # None: the policy's δ, else 1/(10·N)
    epochs: int = 3
    policy: str = "default"
    name: str | None = None
    batch_size: int = 16
    learning_rate: float = 1e-3
    rank: int = 8
    max_tokens: int = 96
    seed: int = 0
    threads: int | None = None  # None: the free cores ($APPLIANCE_THREADS overrides)


def budget_of(policy: Policy) -> float:
    return policy.dp_epsilon_per_seed_set if policy.dp_epsilon_per_seed_set is not None else DEFAULT_BUDGET


def list_adapters(session: Session) -> list[dict[str, Any]]:
    """The DP adapters stored in the vault, each with its manifest (model, seed set, (ε, δ))."""
    return session.vault.list_adapters()


def ledger(session: Session, seed_set: str, policy: str = "default") -> dict[str, Any]:
    """A seed set's privacy ledger: its charges and the ε spent, with the budget under ``policy`` and what is left."""
    budget = budget_of(load_policy(policy))
    spent = session.vault.privacy_spent(seed_set)
    return spent | {"budget_epsilon": budget, "left_epsilon": max(0.0, budget - spent["epsilon"])}


def in_plain_words(n_records: int, epsilon: float) -> str:
    """What this ε on this many records means for the user, said plainly (see the measurements in bench/dp.py)."""
    if epsilon <= 2:
        strength = "the adapter can learn almost nothing from the records"
    elif epsilon <= 5:
        strength = "the adapter learns at most the general style of the records"
    else:
        strength = "the adapter can pick up the records' layout and vocabulary"
    small = " With so few records the noise dominates; more records help more than a larger ε." if n_records < 200 else ""
    return (f"With ε = {epsilon:g} on {n_records} records, {strength}; no single record can change what it learns by more "
            f"than the ε bound allows.{small} Every generated record still passes the memorization gate.")


def train_adapter(
    session: Session,
    home: Path,
    req: AdaptRequest,
    on_progress: Callable[[TrainProgress], None] | None = None,
) -> dict[str, Any]:
    """Train a DP LoRA adapter on a seed set, store it encrypted, charge the ledger; returns the adapter's manifest."""
    from appliance.adapt.gguf_lora import write_gguf_lora
    from appliance.adapt.torch_base import check_tokenizer, load_torch_base

    session.require("adapter.train")
    vault = session.vault
    if req.epsilon is None or not req.epsilon > 0:
        raise BadInput("epsilon (ε) must be a positive number (adapters are always trained with DP)")
    if req.epochs < 1:
        raise BadInput("epochs must be at least 1")
    policy = load_policy(req.policy)
    texts = [s["text"] for s in vault.list_seeds(req.seed_set)]
    # Planted canaries travel with their seed set into training, so `appliance canary exposure` can measure them.
    canary_texts = [c["text"] for name in companion_sets(vault.list_seed_sets(), req.seed_set) for c in vault.list_seeds(name)]
    if len(texts) < 2:
        raise BadInput(f"seed set {req.seed_set!r} has {len(texts)} record(s); an adapter needs at least 2")
    texts += canary_texts
    delta = req.delta if req.delta is not None else (policy.dp_delta or dp_lora.default_delta(len(texts)))
    if not 0 < delta < 1:
        raise BadInput(f"delta (δ) must be in (0, 1), not {delta}")
    if policy.dp_delta is not None and delta > policy.dp_delta:
        raise BadInput(f"δ = {delta:g} is larger than policy {policy.name}'s δ = {policy.dp_delta:g}")
    budget = budget_of(policy)
    vault.ensure_privacy_budget(req.seed_set, req.epsilon, budget, permission="adapter.train")  # before training
    entry, gguf_path = Registry(home).verified_path(req.model)
    name = req.name or f"{req.seed_set}-eps{req.epsilon:g}-{entry.name}"
    if any(a["name"] == name for a in vault.list_adapters()):
        raise BadInput(f"adapter {name!r} already exists; choose another adapter name")

    import torch

    from appliance.engine.threads import choose_threads

    torch.set_num_threads(choose_threads(req.threads))  # free cores only, as for llama.cpp
    model, tokenizer = load_torch_base(gguf_path, entry.architecture)
    _check_tokens_against_llama(gguf_path, tokenizer, texts, check_tokenizer)
    cfg = TrainConfig(epsilon=req.epsilon, delta=delta, epochs=req.epochs, batch_size=req.batch_size,
                      learning_rate=req.learning_rate, rank=req.rank, max_tokens=req.max_tokens, seed=req.seed)
    peft_model = dp_lora.attach_lora(model, cfg)
    result = dp_lora.train(peft_model, tokenizer, texts, cfg, on_progress)
    conf = model.config
    with _private_dir(home) as d:
        out = d / "adapter.gguf"
        write_gguf_lora(out, entry.architecture, result.weights, result.alpha, conf.num_hidden_layers,
                        conf.num_attention_heads, conf.num_key_value_heads)
        body = out.read_bytes()
    manifest = {
        "name": name,
        "seed_set": req.seed_set,
        "n_records": len(texts),
        "n_canaries": len(canary_texts),
        "model": entry.name,
        "model_sha256": entry.sha256,
        "policy": {"name": policy.name, "sha256": policy.sha256, "budget_epsilon": budget},
        "privacy": result.privacy(),
        "lora": {"rank": result.rank, "alpha": result.alpha, "target_modules": list(cfg.target_modules)},
        "training": {k: v for k, v in asdict(cfg).items() if k not in ("epsilon", "delta")}
        | {"seconds_per_step": round(result.seconds_per_step, 3)},
        "in_plain_words": in_plain_words(len(texts), req.epsilon),
    }
    with vault.transaction():
        vault.charge_privacy(req.seed_set, "dp-lora", name, float(result.epsilon), delta, budget)
        vault.add_adapter(name, req.seed_set, entry.name, entry.sha256, body, manifest)
    return manifest | {"sha256": hashlib.sha256(body).hexdigest()}  # the digest add_adapter stored


def _check_tokens_against_llama(gguf_path: Path, tokenizer: Any, texts: list[str], check) -> None:
    from appliance.engine.gguf_info import gguf_tokenizer

    with gguf_tokenizer(gguf_path) as tokenize:  # the vocabulary only, not the weights
        check(tokenizer, tokenize, texts)


@contextmanager
def _private_dir(home: Path) -> Iterator[Path]:
    """A 0700 directory inside the installation's home, removed with everything in it afterwards."""
    with tempfile.TemporaryDirectory(prefix="adapter-", dir=layout.temp_dir(home)) as d:
        os.chmod(d, 0o700)
        yield Path(d)


@contextmanager
def adapter_file(session: Session, name: str, model_entry: ModelEntry) -> Iterator[tuple[Path, dict[str, Any]]]:
    """The adapter's decrypted GGUF as a path llama.cpp can open, living only in memory where possible.

    On Linux it is an anonymous memory file (``memfd_create``), reachable as ``/proc/self/fd/N`` and gone when
    closed; elsewhere a private temporary directory that is deleted afterwards. llama.cpp reads the whole adapter
    while loading, so the copy is only needed for the duration of the load."""
    meta, body = adapter_bytes(session, name, model_entry)
    with memory_file(body, f"adapter-{meta['id']}", lambda: _private_dir(session.vault.home)) as path:
        yield path, meta


def adapter_bytes(session: Session, name: str, model_entry: ModelEntry) -> tuple[dict[str, Any], bytes]:
    """The adapter's manifest and decrypted GGUF bytes, refused when it was trained for another model."""
    meta, body = session.vault.get_adapter(name)
    if meta["model_sha256"] != model_entry.sha256:
        raise BadInput(f"adapter {name!r} was trained for model {meta['model']}, not {model_entry.name}")
    return meta, body


def canary_exposure(session: Session, home: Path, adapter: str, candidates: int = 500) -> list[dict[str, Any]]:
    """Exposure of every canary planted in the adapter's seed set, under the base model and under base + adapter."""
    from appliance.adapt.exposure import exposure
    from appliance.engine.convert import Seal
    from appliance.engine.loader import load_model

    vault = session.vault
    meta, _ = vault.get_adapter(adapter)
    seed_set = meta["manifest"]["seed_set"]
    canaries = [c for name in companion_sets(vault.list_seed_sets(), seed_set) for c in from_seed_rows(vault.list_seeds(name))]
    if not canaries:
        raise BadInput(f"seed set {seed_set!r} has no planted canaries (plant them with `appliance canary plant` "
                        "before training the adapter)")
    entry = Registry(home).get(meta["model"])
    results: dict[int, dict[str, Any]] = {c.canary_id: {"canary_id": c.canary_id} for c in canaries}
    for which in ("base", "adapter"):
        if which == "base":
            loaded = load_model(home, entry.name, max_parallel=1, ctx_per_seq=128, seal=Seal.of(vault))
        else:
            with adapter_file(session, adapter, entry) as (path, _):
                loaded = load_model(home, entry.name, max_parallel=1, ctx_per_seq=128, lora_path=path, seal=Seal.of(vault))
        with loaded.model as model:
            for c in canaries:
                results[c.canary_id][which] = exposure(lambda t: model.loglik("\n", t), c.secret, candidates)
    vault.audit("canary.exposure", {"adapter_id": meta["id"]}, {"candidates": candidates,
                "exposure": {str(k): round(v["adapter"]["exposure"], 3) for k, v in results.items()}})
    return list(results.values())
