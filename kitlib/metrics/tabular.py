"""Tabular competition metrics, and every metric by name with its direction (what ``kit new`` offers).

Each function follows scikit-learn's definition (it computes through scikit-learn where one exists, so the
reference and the kit agree by construction; the tests also check hand-worked values).

:data:`METRICS` maps a name to a :class:`Metric`: the function, ``mode`` (``"max"`` or ``"min"``) and what it
scores: ``"labels"`` (predicted classes), ``"probabilities"`` (class probabilities: the positive class's for a
binary target, a matrix otherwise), ``"values"`` (regression) or ``"ranked"`` (three labels, best first).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .classification import accuracy, weighted_f1
from .ranking import map_at_k

__all__ = ["macro_f1", "roc_auc", "log_loss", "rmse", "mae", "rmsle", "map_at_3", "Metric", "METRICS",
           "find_metric"]


def _pair(y_true: Sequence, y_pred: Sequence) -> tuple[np.ndarray, np.ndarray]:
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if len(t) != len(p):
        raise ValueError(f"{len(t)} true values but {len(p)} predictions")
    if len(t) == 0:
        raise ValueError("cannot score an empty prediction")
    return t, p


def macro_f1(y_true: Sequence, y_pred: Sequence) -> float:
    """F1 per class present in ``y_true`` or ``y_pred``, unweighted mean (scikit-learn ``average="macro"``)."""
    from sklearn.metrics import f1_score

    t, p = _pair(y_true, y_pred)
    return float(f1_score(t, p, average="macro", zero_division=0))


def roc_auc(y_true: Sequence, y_score: Sequence, labels: Sequence | None = None) -> float:
    """Area under the ROC curve: binary with the positive class's score, or one-vs-rest macro with a matrix
    of class probabilities (columns in ``labels`` order). Raises ``ValueError`` for a single-class target."""
    from sklearn.metrics import roc_auc_score

    t, s = _pair(y_true, y_score)
    if len(np.unique(t)) < 2:
        raise ValueError("ROC AUC needs both classes among the true values")
    if s.ndim == 2:
        return float(roc_auc_score(t, s, multi_class="ovr", labels=labels))
    return float(roc_auc_score(t, s))


def log_loss(y_true: Sequence, y_prob: Sequence, labels: Sequence | None = None) -> float:
    """Cross-entropy of class probabilities (the positive class's for a binary target, else a matrix with
    columns in ``labels`` order); probabilities are clipped to [1e-15, 1 - 1e-15] as scikit-learn does."""
    from sklearn.metrics import log_loss as sk_log_loss

    t, p = _pair(y_true, y_prob)
    p = np.clip(p.astype(np.float64), 1e-15, 1 - 1e-15)
    if p.ndim == 2:
        p = p / p.sum(axis=1, keepdims=True)
    return float(sk_log_loss(t, p, labels=labels))


def rmse(y_true: Sequence, y_pred: Sequence) -> float:
    """Root mean squared error."""
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((t.astype(np.float64) - p.astype(np.float64)) ** 2)))


def mae(y_true: Sequence, y_pred: Sequence) -> float:
    """Mean absolute error."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(t.astype(np.float64) - p.astype(np.float64))))


def rmsle(y_true: Sequence, y_pred: Sequence) -> float:
    """Root mean squared logarithmic error, ``sqrt(mean((log1p(pred) - log1p(true))^2))``; values must be
    above -1 (a negative prediction of a count is an error, as in scikit-learn)."""
    t, p = (a.astype(np.float64) for a in _pair(y_true, y_pred))
    if (t <= -1).any() or (p <= -1).any():
        raise ValueError("RMSLE needs values greater than -1")
    return float(np.sqrt(np.mean((np.log1p(p) - np.log1p(t)) ** 2)))


def map_at_3(y_true: Sequence, ranked: Sequence) -> float:
    """MAP@3 with one correct label per row; ``ranked`` holds three labels per row, best first."""
    return map_at_k(y_true, ranked, k=3)


@dataclass(frozen=True)
class Metric:
    """A metric by name: the function, its direction and what it scores (see the module docstring)."""

    name: str
    fn: Callable
    mode: str
    takes: str


METRICS: dict[str, Metric] = {m.name: m for m in [
    Metric("roc_auc", roc_auc, "max", "probabilities"),
    Metric("accuracy", accuracy, "max", "labels"),
    Metric("weighted_f1", weighted_f1, "max", "labels"),
    Metric("macro_f1", macro_f1, "max", "labels"),
    Metric("log_loss", log_loss, "min", "probabilities"),
    Metric("rmse", rmse, "min", "values"),
    Metric("mae", mae, "min", "values"),
    Metric("rmsle", rmsle, "min", "values"),
    Metric("map_at_3", map_at_3, "max", "ranked"),
]}


def find_metric(name: str) -> Metric:
    """The metric called ``name``, or the only one whose name starts with it (``"auc"`` and ``"f1"`` are not
    prefixes, ``"roc"`` and ``"macro"`` are). Raises ``KeyError`` saying whether the name is unknown or
    ambiguous and listing the choices."""
    key = name.strip().lower().replace("-", "_")
    if key in METRICS:
        return METRICS[key]
    hits = [m for m in METRICS if m.startswith(key)] if key else []
    if len(hits) == 1:
        return METRICS[hits[0]]
    what = "ambiguous" if hits else "unknown"
    raise KeyError(f"{what} metric {name!r}; expected one of {sorted(METRICS)}"
                   + (f" ({name!r} matches {hits})" if hits else ""))
