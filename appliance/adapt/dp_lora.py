"""LoRA on the attention projections, trained with DP-SGD (Opacus), on seed records.

The privacy unit is one seed record: every record is one training example, Opacus samples each record into a batch
independently (Poisson sampling), clips each record's gradient to ``max_grad_norm`` and adds Gaussian noise to the
sum, and its accountant turns (noise, sampling rate, steps) into (ε, δ). The noise multiplier is solved from the
target ε before training (``make_private_with_epsilon``), so the run ends at, not past, the target.

Only the LoRA matrices train; the base weights stay frozen, so the adapter is the only thing that can carry
anything about the seeds.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from appliance.errors import BadInput

NOISE_SOURCE = "torch default generator (Opacus secure_mode off: torchcsprng is not installable here)"
ACCOUNTANT = "rdp"


@dataclass
class TrainConfig:
    """How to train. ``epsilon=None`` trains WITHOUT differential privacy (benchmarks only; the service refuses it)."""

    epsilon: float | None
    delta: float
    epochs: int = 3
    batch_size: int = 16  # expected batch size under Poisson sampling
    max_grad_norm: float = 1.0
    learning_rate: float = 5e-3
    rank: int = 8
    alpha: float = 16.0
    max_tokens: int = 96
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    seed: int = 0


@dataclass
class TrainProgress:
    step: int
    total_steps: int
    epsilon: float | None
    loss: float
    seconds: float


@dataclass
class TrainResult:
    """The trained LoRA matrices, keyed by the base module name (``model.layers.0.self_attn.q_proj``): (A, B)."""

    weights: dict[str, tuple[np.ndarray, np.ndarray]]
    rank: int
    alpha: float
    epsilon: float | None
    delta: float
    noise_multiplier: float
    max_grad_norm: float
    sampling_rate: float
    steps: int
    epochs: int
    n_records: int
    seconds_per_step: float
    accountant: str | None = ACCOUNTANT
    noise_source: str | None = NOISE_SOURCE
    extra: dict[str, Any] = field(default_factory=dict)

    def privacy(self) -> dict[str, Any]:
        """What the manifest and the ledger record about this run's privacy."""
        return {
            "dp": self.epsilon is not None,
            "epsilon": self.epsilon,
            "delta": self.delta,
            "accountant": self.accountant,
            "noise_multiplier": self.noise_multiplier,
            "max_grad_norm": self.max_grad_norm,
            "sampling_rate": self.sampling_rate,
            "epochs": self.epochs,
            "steps": self.steps,
            "privacy_unit": "one seed record",
            "noise_source": self.noise_source,
        }


def default_delta(n_records: int) -> float:
    """δ = 1/(10·N): well below the 1/N at which releasing one whole record would still fit the guarantee."""
    return 1.0 / (10.0 * max(1, n_records))


def encode(tokenizer: Any, texts: Sequence[str], max_tokens: int) -> tuple[Any, Any]:
    """Token ids (each text + end-of-text, truncated, right-padded) and the matching loss labels (-100 on padding)."""
    import torch

    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    rows = [(tokenizer(t, add_special_tokens=False)["input_ids"] + [eos])[:max_tokens] for t in texts]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        labels[i, : len(r)] = torch.tensor(r)
    return ids, labels


def per_record_loss(model: Any, ids: Any, labels: Any) -> Any:
    """Mean next-token NLL of each record (one value per row), so a record's weight does not grow with its length."""
    import torch.nn.functional as F

    attention = (labels != -100).long()
    logits = model(input_ids=ids, attention_mask=attention).logits[:, :-1]
    target = labels[:, 1:]
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-100, reduction="none")
    nll = nll.view(target.shape)
    count = (target != -100).sum(dim=1).clamp(min=1)
    return nll.sum(dim=1) / count


def text_nll(model: Any, tokenizer: Any, texts: Sequence[str], max_tokens: int = 96, batch: int = 8) -> list[tuple[float, int]]:
    """Each text's total NLL under ``model`` and the number of tokens it was scored on (lower = likelier)."""
    import torch
    import torch.nn.functional as F

    was_training = model.training
    model.eval()
    out: list[tuple[float, int]] = []
    with torch.no_grad():
        for start in range(0, len(texts), batch):
            ids, labels = encode(tokenizer, texts[start : start + batch], max_tokens)
            logits = model(input_ids=ids, attention_mask=(labels != -100).long()).logits[:, :-1]
            target = labels[:, 1:]
            nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-100, reduction="none")
            out += zip(nll.view(target.shape).sum(dim=1).tolist(), (target != -100).sum(dim=1).tolist())
    model.train(was_training)
    return out


def mean_nll(model: Any, tokenizer: Any, texts: Sequence[str], max_tokens: int = 96) -> float:
    """Held-out check: mean per-token NLL of ``texts`` under ``model`` (lower = the model finds them likelier)."""
    scored = text_nll(model, tokenizer, texts, max_tokens)
    return sum(nll for nll, _ in scored) / max(1, sum(n for _, n in scored))


def attach_lora(model: Any, cfg: TrainConfig) -> Any:
    """Wrap the frozen base with LoRA matrices on the attention projections (B starts at zero: no change yet)."""
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha, target_modules=list(cfg.target_modules), lora_dropout=0.0, bias="none")
    return get_peft_model(model, lora)


def lora_weights(peft_model: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The (A, B) pairs of a peft model, keyed by the base module's name."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, module in peft_model.named_modules():
        if hasattr(module, "lora_A") and "default" in getattr(module, "lora_A", {}):
            base = name.split("base_model.model.", 1)[-1]
            a = module.lora_A["default"].weight.detach().cpu().numpy().astype(np.float32)
            b = module.lora_B["default"].weight.detach().cpu().numpy().astype(np.float32)
            out[base] = (a, b)
    if not out:
        raise RuntimeError("no LoRA matrices found in the trained model")
    return out


def train(
    peft_model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    cfg: TrainConfig,
    progress: Callable[[TrainProgress], None] | None = None,
) -> TrainResult:
    """Train ``peft_model``'s LoRA matrices on ``texts`` (one record = one privacy unit); return them and the privacy spent."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    if len(texts) < 2:
        raise BadInput("an adapter needs at least 2 seed records")
    torch.manual_seed(cfg.seed)
    n = len(texts)
    ids, labels = encode(tokenizer, texts, cfg.max_tokens)
    batch = min(cfg.batch_size, n)
    loader = DataLoader(TensorDataset(ids, labels), batch_size=batch, shuffle=True,
                        generator=torch.Generator().manual_seed(cfg.seed))
    peft_model.train()  # transformers loads in eval mode; Opacus refuses a model in eval mode
    params = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=0.0)
    model = peft_model
    noise_multiplier, engine = 0.0, None
    if cfg.epsilon is not None:
        from opacus import PrivacyEngine

        engine = PrivacyEngine(accountant=ACCOUNTANT)
        model, optimizer, loader = engine.make_private_with_epsilon(
            module=peft_model, optimizer=optimizer, data_loader=loader, target_epsilon=cfg.epsilon,
            target_delta=cfg.delta, epochs=cfg.epochs, max_grad_norm=cfg.max_grad_norm, poisson_sampling=True,
        )
        noise_multiplier = float(optimizer.noise_multiplier)
    steps_per_epoch = len(loader)
    total = steps_per_epoch * cfg.epochs
    step, t0, losses = 0, time.perf_counter(), []
    for _epoch in range(cfg.epochs):
        for batch_ids, batch_labels in loader:
            optimizer.zero_grad(set_to_none=True)
            if len(batch_ids) == 0:
                # Poisson sampling drew nobody. The accountant counted this step, so it must still happen: a noisy
                # step with zero-size per-record gradients (skipping it would make the real ε larger than reported).
                _empty_grad_samples(params)
                loss_value = float("nan")
            else:
                loss = per_record_loss(model, batch_ids, batch_labels).mean()
                loss.backward()
                loss_value = float(loss.detach())
            optimizer.step()
            step += 1
            losses.append(loss_value)
            if progress:
                eps = engine.get_epsilon(cfg.delta) if engine is not None else None
                progress(TrainProgress(step, total, eps, loss_value, time.perf_counter() - t0))
    seconds = time.perf_counter() - t0
    peft_model.eval()
    epsilon = float(engine.get_epsilon(cfg.delta)) if engine is not None else None
    if engine is not None and hasattr(model, "remove_hooks"):
        model.remove_hooks()  # the peft model goes back to plain PyTorch for evaluation and export
    return TrainResult(
        weights=lora_weights(peft_model), rank=cfg.rank, alpha=cfg.alpha, epsilon=epsilon, delta=cfg.delta,
        noise_multiplier=noise_multiplier, max_grad_norm=cfg.max_grad_norm, sampling_rate=batch / n, steps=step,
        epochs=cfg.epochs, n_records=n, seconds_per_step=seconds / max(1, step),
        accountant=ACCOUNTANT if engine is not None else None, noise_source=NOISE_SOURCE if engine is not None else None,
        extra={"final_train_loss": _last_finite(losses)},
    )


def _empty_grad_samples(params: Sequence[Any]) -> None:
    import torch

    for p in params:
        p.grad_sample = torch.zeros((0, *p.shape), dtype=p.dtype)
        p.grad = torch.zeros_like(p)


def _last_finite(values: Sequence[float]) -> float | None:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite[-5:])) if finite else None
