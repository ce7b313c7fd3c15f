"""SunGen-style learned example weights for training on noisy synthetic data.

Gao et al. 2023, "Self-Guided Noise-Free Data Generation for Efficient Zero-Shot Learning": one weight
w_i = sigmoid(theta_i) per synthetic example. Inner problem: a softmax-linear model over the embeddings trained by T
unrolled gradient steps on the w-weighted cross-entropy of a training split. Outer problem: the noise-robust reverse
cross-entropy (RCE, Wang et al. 2019: -A·(1-p_y) with A = log 0 clipped to -4) of that inner model on a held-out
synthetic validation split. d(outer)/d(theta) flows through the unrolled inner steps (autograd); Adam updates theta.
Two folds swap the roles, so every example gets a weight. Mislabelled examples pull the inner model away from what
the rest of the data says, raise the validation loss, and so lose weight. The task models that declare
``weighted`` train on the weighted loss with weights normalised to mean 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from appliance.quality.embed import _threads

RCE_A = -4.0


def reverse_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per-example RCE with log 0 clipped to ``RCE_A``: -A·(1 - p_y)."""
    p = F.softmax(logits, dim=-1)
    return -RCE_A * (1 - p.gather(1, targets[:, None])[:, 0])


@dataclass
class SunGenConfig:
    outer_steps: int = 60
    inner_steps: int = 20
    inner_lr: float = 1.0
    outer_lr: float = 0.1
    folds: int = 2
    seed: int = 0


def sungen_weights(X: np.ndarray, y: Sequence[int], n_classes: int, cfg: SunGenConfig | None = None) -> np.ndarray:
    """One weight in (0, 1) per example, learned by the bilevel procedure in the module docstring."""
    cfg = cfg or SunGenConfig()
    torch.set_num_threads(_threads())
    rng = np.random.default_rng(cfg.seed)
    Xt = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    yt = torch.as_tensor(np.asarray(y), dtype=torch.long)
    n = len(yt)
    weights = np.full(n, 0.5)
    if n < 4:
        return weights
    order = rng.permutation(n)
    folds = np.array_split(order, cfg.folds)
    for k in range(cfg.folds):
        val = torch.as_tensor(folds[k])
        tr = torch.as_tensor(np.concatenate([folds[j] for j in range(cfg.folds) if j != k]))
        theta = torch.zeros(len(tr), requires_grad=True)  # sigmoid(0) = 0.5: no example favoured at the start
        opt = torch.optim.Adam([theta], lr=cfg.outer_lr)
        Xtr, ytr, Xv, yv = Xt[tr], yt[tr], Xt[val], yt[val]
        for _ in range(cfg.outer_steps):
            w = torch.sigmoid(theta)
            W = torch.zeros(Xt.shape[1], n_classes, requires_grad=True)
            b = torch.zeros(n_classes, requires_grad=True)
            params = [W, b]
            for _ in range(cfg.inner_steps):
                inner = (F.cross_entropy(Xtr @ params[0] + params[1], ytr, reduction="none") * w).sum() / w.sum()
                grads = torch.autograd.grad(inner, params, create_graph=True)
                params = [p - cfg.inner_lr * g for p, g in zip(params, grads)]
            outer = reverse_cross_entropy(Xv @ params[0] + params[1], yv).mean()
            opt.zero_grad()
            outer.backward()
            opt.step()
        weights[tr.numpy()] = torch.sigmoid(theta).detach().numpy()  # last fold to train an index wins
    return weights


def normalised(weights: np.ndarray) -> np.ndarray:
    m = float(np.mean(weights))
    return weights / m if m > 0 else np.ones_like(weights)
