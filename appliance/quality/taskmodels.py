"""Small task models trained only on synthetic data, and the training strategies the survey compares.

- ``TfidfLR``: TF-IDF (word 1-2 grams, sublinear tf) + logistic regression (scikit-learn); takes sample weights.
- ``MLPClassifier``: a one-hidden-layer MLP (torch) over all-MiniLM-L6-v2 sentence embeddings, trained with Adam
  on the (optionally weighted) cross-entropy with optional label smoothing.
- Label smoothing (Szegedy et al. 2016): the target is (1-eps)·one-hot + eps/K, so the loss is
  (1-eps)·CE + eps·mean_k(-log p_k). Over-confident fits to noisy synthetic labels cost more.
- SunGen-style learned weights (Gao et al. 2023, "Self-Guided Noise-Free Data Generation for Efficient Zero-Shot
  Learning"): one weight w_i = sigmoid(theta_i) per synthetic example. Inner problem: a softmax-linear model over the
  embeddings trained by T unrolled gradient steps on the w-weighted cross-entropy of a training split. Outer
  problem: the noise-robust reverse cross-entropy (RCE, Wang et al. 2019: -A·(1-p_y) with A = log 0 clipped to -4)
  of that inner model on a held-out synthetic validation split. d(outer)/d(theta) flows through the unrolled inner
  steps (autograd); Adam updates theta. Two folds swap the roles, so every example gets a weight. Mislabelled
  examples pull the inner model away from what the rest of the data says, raise the validation loss, and so lose
  weight. The final task model is trained on the weighted loss with weights normalised to mean 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from appliance.quality.embed import _threads

RCE_A = -4.0


def smoothed_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """Per-example label-smoothed cross-entropy: (1-eps)·CE + eps·mean_k(-log p_k)."""
    logp = F.log_softmax(logits, dim=-1)
    nll = -logp.gather(1, targets[:, None])[:, 0]
    return (1 - eps) * nll + eps * (-logp.mean(dim=-1))


def reverse_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per-example RCE with log 0 clipped to ``RCE_A``: -A·(1 - p_y)."""
    p = F.softmax(logits, dim=-1)
    return -RCE_A * (1 - p.gather(1, targets[:, None])[:, 0])


class TfidfLR:
    name = "tfidf_lr"

    def __init__(self, C: float = 4.0, seed: int = 0) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True)
        self.clf = LogisticRegression(C=C, max_iter=2000, random_state=seed)

    def fit(self, texts: Sequence[str], labels: Sequence[str], sample_weight: Sequence[float] | None = None) -> "TfidfLR":
        X = self.vec.fit_transform(list(texts))
        self.clf.fit(X, list(labels), sample_weight=None if sample_weight is None else np.asarray(sample_weight))
        return self

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [str(x) for x in self.clf.predict(self.vec.transform(list(texts)))]


class MLPClassifier:
    """Embeddings → Linear(384, hidden) → ReLU → Dropout → Linear(hidden, K)."""

    name = "mlp"

    def __init__(self, classes: Sequence[str], *, hidden: int = 256, epochs: int = 40, lr: float = 1e-3,
                 weight_decay: float = 1e-4, batch_size: int = 32, dropout: float = 0.1, label_smoothing: float = 0.0,
                 seed: int = 0) -> None:
        self.classes = list(classes)
        self.hidden, self.epochs, self.lr, self.wd = hidden, epochs, lr, weight_decay
        self.batch_size, self.dropout, self.eps, self.seed = batch_size, dropout, label_smoothing, seed
        self.net: torch.nn.Module | None = None

    def fit(self, X: np.ndarray, labels: Sequence[str], sample_weight: Sequence[float] | None = None) -> "MLPClassifier":
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
        for _ in range(self.epochs):
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

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        assert self.net is not None, "fit first"
        with torch.no_grad():
            return F.softmax(self.net(torch.as_tensor(np.asarray(X), dtype=torch.float32)), dim=-1).numpy()

    def predict(self, X: np.ndarray) -> list[str]:
        return [self.classes[i] for i in self.predict_proba(X).argmax(axis=1)]


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
