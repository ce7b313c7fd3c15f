"""``cleanlab`` and ``cleanlab_embedding``: confident learning (Northcutt et al. 2021, the ``cleanlab`` library).

A logistic regression is trained k-fold on the records themselves; each record is scored by the fold that did not
see it (``cross_val_predict``), so a record cannot vouch for its own label. ``cleanlab.filter.find_label_issues``
then estimates, per pair of labels, how often one is generated as the other, and flags the records whose out-of-fold
probabilities most likely belong to another label. ``cleanlab`` trains on TF-IDF word 1-2 grams (no model needed);
``cleanlab_embedding`` on the sentence embeddings the MLP task models use.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from appliance.errors import BadInput
from appliance.quality.labelfilters import LABEL_FILTERS, FilterData, LabelFilter

MAX_FOLDS = 5


def _classifier(seed: int, tfidf: bool) -> Any:
    """The tfidf_lr task model's logistic regression, behind its TF-IDF vectorizer (fitted inside each fold) when it
    reads texts."""
    from sklearn.pipeline import make_pipeline

    from appliance.quality.taskmodels.tfidf_lr import classifier, vectorizer

    clf = classifier(seed=seed)
    return make_pipeline(vectorizer(), clf) if tfidf else clf


def out_of_fold_probabilities(features: Any, y: np.ndarray, seed: int, tfidf: bool) -> np.ndarray:
    """[n, K] probabilities of each record's labels, each from a model that did not train on it."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    folds = min(MAX_FOLDS, int(np.bincount(y).min()))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return cross_val_predict(_classifier(seed, tfidf), features, y, cv=cv, method="predict_proba")


def label_issues(features: Any, labels: list[str], seed: int) -> dict[int, str]:
    """Confident learning over out-of-fold probabilities. ``features``: the texts (a list: TF-IDF inside each fold)
    or an [n, d] array of embeddings. A label with fewer than two records cannot be cross-validated, so its records
    are left as they are."""
    from cleanlab.filter import find_label_issues

    counts = Counter(labels)
    usable = [i for i, lab in enumerate(labels) if counts[lab] >= 2]
    present = sorted({labels[i] for i in usable})
    if len(present) < 2:
        return {}
    y = np.array([present.index(labels[i]) for i in usable])
    tfidf = isinstance(features, list)
    feats = [features[i] for i in usable] if tfidf else np.asarray(features)[usable]
    try:
        probs = out_of_fold_probabilities(feats, y, seed, tfidf)
    except ValueError as e:  # e.g. TF-IDF over texts with no word of two letters: "empty vocabulary"
        raise BadInput(f"label filter cleanlab: the records give the task model nothing to learn from ({e})") from None
    flagged = find_label_issues(y, probs)
    return {usable[j]: f"label issue (likely {present[int(probs[j].argmax())]})"
            for j in np.flatnonzero(flagged)}


def _on_tfidf(data: FilterData) -> dict[int, str]:
    return label_issues(list(data.texts), list(data.labels), data.seed)


def _on_embeddings(data: FilterData) -> dict[int, str]:
    assert data.embeddings is not None
    return label_issues(np.asarray(data.embeddings), list(data.labels), data.seed)


LABEL_FILTERS.register(LabelFilter("cleanlab", "confident learning over out-of-fold TF-IDF + logistic regression",
                                   _on_tfidf, rank=10))
LABEL_FILTERS.register(LabelFilter("cleanlab_embedding", "confident learning over out-of-fold logistic regression on "
                                   "sentence embeddings", _on_embeddings, needs=frozenset({"embedding"}), rank=11))
