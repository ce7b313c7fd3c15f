"""A one-hidden-layer MLP (torch) over all-MiniLM-L6-v2 sentence embeddings, trained with Adam on the (optionally
weighted) cross-entropy with optional label smoothing.

Training stops at ``MAX_STEPS`` optimizer steps or 40 epochs, whichever comes first. Why: a fixed number of epochs
gives ten times the updates to ten times the records, and the extra updates fit the training set's quirks instead of
the task. With 40 epochs at any size, the MLP lost accuracy from 1,000 to 3,000 records on MTSamples (generated
records) and gained less than it could on SST-2 (real labelled rows as well as generated ones); the cap was chosen
on those curves (README, "Quality and utility").

Label smoothing (Szegedy et al. 2016): the target is (1-eps)·one-hot + eps/K, so the loss is (1-eps)·CE +
eps·mean_k(-log p_k). Over-confident fits to noisy synthetic labels cost more. ``mlp`` trains plainly, ``mlp_ls``
with label smoothing ``LABEL_SMOOTHING``, ``mlp_sungen`` on SunGen-weighted records. torch is imported when a model
trains, not when the registry lists the models.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

import numpy as np

from appliance.quality.embed import _threads
from appliance.quality.taskmodels import TASK_MODELS, TaskModel

if TYPE_CHECKING:
    import torch

LABEL_SMOOTHING = 0.1
MAX_STEPS = 300  # optimizer steps at most; a small training set still gets its 40 epochs


def smoothed_cross_entropy(logits: "torch.Tensor", targets: "torch.Tensor", eps: float = 0.0) -> "torch.Tensor":
    """Per-example label-smoothed cross-entropy: (1-eps)·CE + eps·mean_k(-log p_k)."""
    import torch.nn.functional as F

    logp = F.log_softmax(logits, dim=-1)
    nll = -logp.gather(1, targets[:, None])[:, 0]
    return (1 - eps) * nll + eps * (-logp.mean(dim=-1))


class MLPClassifier:
    """Embeddings → Linear(384, hidden) → ReLU → Dropout → Linear(hidden, K)."""

    name = "mlp"

    def __init__(self, classes: Sequence[str], *, hidden: int = 256, epochs: int = 40, max_steps: int | None = MAX_STEPS,
                 lr: float = 1e-3, weight_decay: float = 1e-4, batch_size: int = 32, dropout: float = 0.1,
                 label_smoothing: float = 0.0, seed: int = 0) -> None:
        self.classes = list(classes)
        self.hidden, self.epochs, self.max_steps, self.lr, self.wd = hidden, epochs, max_steps, lr, weight_decay
        self.batch_size, self.dropout, self.eps, self.seed = batch_size, dropout, label_smoothing, seed
        self.net: torch.nn.Module | None = None

    def fit(self, X: np.ndarray, labels: Sequence[str], sample_weight: Sequence[float] | None = None) -> "MLPClassifier":
        import torch

        torch.set_num_threads(_threads())
        g = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)
        Xt = torch.as_tensor(np.asarray(X), dtype=torch.float32)
        y = torch.as_tensor([self.classes.index(lab) for lab in labels])
        w = torch.ones(len(y)) if sample_weight is None else torch.as_tensor(np.asarray(sample_weight), dtype=torch.float32)
        self.net = torch.nn.Sequential(
            torch.nn.Linear(Xt.shape[1], self.hidden), torch.nn.ReLU(), torch.nn.Dropout(self.dropout),
            torch.nn.Linear(self.hidden, len(self.classes)),
        )
        opt = torch.optim.Adam(self.net.parameters(), lr=self.lr, weight_decay=self.wd)
        self.net.train()
        for _ in range(self.epochs_for(len(y))):
            perm = torch.randperm(len(y), generator=g)
            for s in range(0, len(y), self.batch_size):
                idx = perm[s : s + self.batch_size]
                loss = smoothed_cross_entropy(self.net(Xt[idx]), y[idx], self.eps)
                loss = (loss * w[idx]).sum() / w[idx].sum().clamp_min(1e-8)
                opt.zero_grad()
                loss.backward()
                opt.step()
        self.net.eval()
        return self

    def epochs_for(self, n: int) -> int:
        """Epochs over ``n`` records: ``epochs``, fewer when they would take more than ``max_steps`` steps (at least 1)."""
        if not self.max_steps or n == 0:
            return self.epochs
        return max(1, min(self.epochs, math.ceil(self.max_steps * self.batch_size / n)))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        assert self.net is not None, "fit first"
        with torch.no_grad():
            return F.softmax(self.net(torch.as_tensor(np.asarray(X), dtype=torch.float32)), dim=-1).numpy()

    def predict(self, X: np.ndarray) -> list[str]:
        return [self.classes[i] for i in self.predict_proba(X).argmax(axis=1)]


def _plain(classes: Sequence[str], seed: int) -> MLPClassifier:
    return MLPClassifier(classes, seed=seed)


def _smoothed(classes: Sequence[str], seed: int) -> MLPClassifier:
    return MLPClassifier(classes, seed=seed, label_smoothing=LABEL_SMOOTHING)


TASK_MODELS.register(TaskModel("mlp", "MLP over sentence embeddings", _plain, features="embedding", curve=True, rank=20))
TASK_MODELS.register(TaskModel("mlp_ls", f"MLP over sentence embeddings, label smoothing {LABEL_SMOOTHING}", _smoothed,
                               features="embedding", rank=21))
TASK_MODELS.register(TaskModel("mlp_sungen", "MLP over sentence embeddings on SunGen-weighted records", _plain,
                               features="embedding", weighted=True, rank=22))
