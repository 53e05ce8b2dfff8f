"""Classification metrics: accuracy and weighted F1 (AIcrowd Sentiment Classification's score)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["accuracy", "weighted_f1"]


def _as_labels(y_true: Sequence, y_pred: Sequence) -> tuple[np.ndarray, np.ndarray]:
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.shape != p.shape or t.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-d and the same length; got {t.shape} and {p.shape}")
    if len(t) == 0:
        raise ValueError("cannot score an empty prediction")
    return t, p


def accuracy(y_true: Sequence, y_pred: Sequence) -> float:
    """Share of labels predicted exactly. Raises ``ValueError`` on empty or mismatched inputs."""
    t, p = _as_labels(y_true, y_pred)
    return float(np.mean(t == p))


def weighted_f1(y_true: Sequence, y_pred: Sequence) -> float:
    """F1 per true class, averaged with weights = class support (scikit-learn's ``average="weighted"``).

    Classes that only occur in ``y_pred`` weigh zero; a class never predicted has F1 0.
    """
    from sklearn.metrics import f1_score

    t, p = _as_labels(y_true, y_pred)
    return float(f1_score(t, p, average="weighted", zero_division=0))
