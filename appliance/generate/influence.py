"""ProGen's helpfulness score: the influence of a training example on a noise-robust validation loss.

The task model is a multinomial logistic regression over cheap text features (TF-IDF of word 1–2-grams reduced to
at most 64 dimensions by truncated SVD — latent semantic analysis — and standardized). ProGen (Ye et al., 2022)
computes influence functions (Koh & Liang, 2017) on a small fine-tuned task model; this is the documented cheaper
proxy: the same influence formula, exact (closed-form Hessian, no stochastic approximation) on a model that trains
in milliseconds.

For training loss ℓ (cross-entropy, L2-regularized as scikit-learn fits it) and validation loss L_val (reverse
cross-entropy, Wang et al., 2019: RCE = −A·(1 − p_y) with log 0 clipped to A = −4, robust to the label noise a
synthetic validation set has), upweighting example z by ε changes L_val by −ε · ∇L_valᵀ H⁻¹ ∇ℓ(z). The helpfulness
of z is ∇L_valᵀ H⁻¹ ∇ℓ(z): positive when training more on z lowers the validation loss.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

RCE_A = -4.0


def featurize(train: Sequence[str], others: Sequence[Sequence[str]] = (), dim: int = 64) -> list[np.ndarray]:
    """TF-IDF + SVD features fitted on ``train`` (synthetic text only), applied to ``train`` and each of ``others``."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    xs = [vec.fit_transform(train)] + [vec.transform(o) for o in others]
    k = min(dim, xs[0].shape[1] - 1, xs[0].shape[0] - 1)
    if k >= 2:
        svd = TruncatedSVD(n_components=k, random_state=0).fit(xs[0])
        dense = [svd.transform(x) for x in xs]
    else:
        dense = [x.toarray() for x in xs]
    mu, sd = dense[0].mean(axis=0), dense[0].std(axis=0) + 1e-6
    return [(d - mu) / sd for d in dense]


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def helpfulness(
    x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, n_classes: int, C: float = 1.0
) -> np.ndarray:
    """Helpfulness of every training example (higher: more helpful), labels as integers 0..n_classes-1."""
    from sklearn.linear_model import LogisticRegression

    K = n_classes
    clf = LogisticRegression(C=C, max_iter=500)
    clf.fit(x_train, y_train)
    # Parameters θ = [W | b] for all K classes (binary sklearn models are expanded to two logits ±z/2).
    W = np.zeros((K, x_train.shape[1]))
    b = np.zeros(K)
    cls = clf.classes_.astype(int)
    if len(cls) == 2 and clf.coef_.shape[0] == 1:
        W[cls[1]], W[cls[0]] = clf.coef_[0] / 2, -clf.coef_[0] / 2
        b[cls[1]], b[cls[0]] = clf.intercept_[0] / 2, -clf.intercept_[0] / 2
    else:
        W[cls], b[cls] = clf.coef_, clf.intercept_
    xt = np.hstack([x_train, np.ones((len(x_train), 1))])
    xv = np.hstack([x_val, np.ones((len(x_val), 1))])
    D = xt.shape[1]
    theta = np.hstack([W, b[:, None]])
    pt = _softmax(xt @ theta.T)
    pv = _softmax(xv @ theta.T)
    # Hessian of Σ CE + (1/2C)‖W‖²: Σ_i (diag p_i − p_i p_iᵀ) ⊗ x_i x_iᵀ, plus damping (the softmax is overparameterized).
    H = np.zeros((K * D, K * D))
    for a in range(K):
        for c in range(K):
            w = pt[:, a] * ((a == c) - pt[:, c])
            H[a * D : (a + 1) * D, c * D : (c + 1) * D] = (xt * w[:, None]).T @ xt
    reg = np.full(K * D, 1.0 / C)
    reg[D - 1 :: D] = 0.0  # the intercept is not penalized
    H += np.diag(reg + 1e-3)
    # ∇ RCE wrt logits: −A · ∂p_y/∂z = −A · p_y (e_y − p)
    ev = np.eye(K)[y_val]
    gz_val = (-RCE_A) * (-pv[np.arange(len(y_val)), y_val][:, None] * (ev - pv))
    g_val = (gz_val.T @ xv).reshape(-1)
    v = np.linalg.solve(H, g_val).reshape(K, D)
    et = np.eye(K)[y_train]
    gz_train = pt - et  # ∇ CE wrt logits
    return np.einsum("ik,kd,id->i", gz_train, v, xt)


def rce_loss(x_train, y_train, x_val, y_val, C: float = 1.0) -> float:
    """Validation reverse cross-entropy of a model trained on (x_train, y_train): for checks and measurements."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=C, max_iter=500).fit(x_train, y_train)
    p = clf.predict_proba(x_val)
    idx = np.searchsorted(clf.classes_, y_val)
    return float(np.sum(-RCE_A * (1.0 - p[np.arange(len(y_val)), idx])))
