"""TF-IDF (word 1-2 grams, sublinear tf) + logistic regression (scikit-learn); takes sample weights.

``tfidf_lr`` trains on the synthetic records as they are; ``tfidf_lr_sungen`` weighs each by SunGen's learned weight.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from appliance.quality.taskmodels import TASK_MODELS, TaskModel


def vectorizer():  # noqa: ANN201 (scikit-learn's TfidfVectorizer, imported late so listing task models stays fast)
    """The task model's text features: word 1-2 grams, sublinear tf (also what the cleanlab label filter uses)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True)


def classifier(C: float = 4.0, seed: int = 0):  # noqa: ANN201 (scikit-learn's LogisticRegression)
    """The task model's classifier over those features."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, max_iter=2000, random_state=seed)


class TfidfLR:
    name = "tfidf_lr"

    def __init__(self, C: float = 4.0, seed: int = 0) -> None:
        self.vec = vectorizer()
        self.clf = classifier(C, seed)

    def fit(self, texts: Sequence[str], labels: Sequence[str], sample_weight: Sequence[float] | None = None) -> "TfidfLR":
        X = self.vec.fit_transform(list(texts))
        self.clf.fit(X, list(labels), sample_weight=None if sample_weight is None else np.asarray(sample_weight))
        return self

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [str(x) for x in self.clf.predict(self.vec.transform(list(texts)))]


def _make(classes: Sequence[str], seed: int) -> TfidfLR:
    return TfidfLR(seed=seed)


TASK_MODELS.register(TaskModel("tfidf_lr", "TF-IDF + logistic regression", _make, curve=True, rank=10))
TASK_MODELS.register(TaskModel("tfidf_lr_sungen", "TF-IDF + logistic regression on SunGen-weighted records", _make,
                               weighted=True, rank=11))
