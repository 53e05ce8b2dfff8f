"""Choosing an ensemble and scoring it honestly: nested cross-validation over the inputs' fold ids.

For each fold k the method chooses on the other folds' rows only and blends fold k's rows with what it chose; the
blended rows of every fold form the nested out-of-fold predictions, whose per-fold and pooled scores are the
ensemble's CV. The final ensemble, chosen on all rows, is what predicts the test rows; its score on those rows is
in-sample (optimistic) and labelled so.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError, check_choice
from .methods import Ensemble, Settings, _check, hill_climb, mean_blend, rank_blend, simplex_weights
from .scoring import Scorer
from .stacking import stack

__all__ = ["CHOOSING", "METHODS", "FoldScores", "Method", "NestedCV", "choose", "nested_cv", "score_inputs"]

Method = Callable[[np.ndarray, np.ndarray, Scorer, Settings], Ensemble]
METHODS: dict[str, Method] = {"mean": mean_blend, "rank": rank_blend, "weights": simplex_weights,
                              "hill": hill_climb, "stack": stack}
CHOOSING = ("weights", "hill", "stack")  # methods that learn from the rows they are given


def choose(method: str | Method, preds: np.ndarray, y: np.ndarray, scorer: Scorer,
           settings: Settings | None = None) -> Ensemble:
    """The ensemble ``method`` (a name in :data:`METHODS` or a callable ``(preds, y, scorer, settings) ->
    Ensemble``) chooses on these rows. Raises ``ParameterError`` for an unknown method name, listing the names."""
    if isinstance(method, str):
        check_choice("ensemble method", method, METHODS)
        method = METHODS[method]
    return method(preds, y, scorer, settings or Settings())


@dataclass(frozen=True)
class FoldScores:
    """Scores of predictions over folds: ``fold_scores`` in ``fold_ids`` order, their ``mean`` and ``std``, and
    ``score`` of the pooled rows."""

    fold_ids: list[int]
    fold_scores: list[float]
    mean: float
    std: float
    score: float


@dataclass
class NestedCV:
    """An ensemble method's nested CV and its final choice.

    ``oof``: ``(n, c)`` nested out-of-fold blend (fold k's rows blended by the ensemble chosen without them; NaN on
    rows with a negative fold id); ``cv``: its :class:`FoldScores`; ``fold_ensembles``: the ensemble chosen for
    each fold (on the other folds); ``final``: the ensemble chosen on every row, to predict the test rows, whose
    ``score`` is in-sample (optimistic); ``nested``: whether the method chose anything (``mean`` and ``rank`` do
    not, so their CV is plain).
    """

    method: str
    oof: np.ndarray
    cv: FoldScores
    fold_ensembles: list[Ensemble]
    final: Ensemble
    nested: bool

    @property
    def fold_weights(self) -> dict[int, np.ndarray | None]:
        """Per fold id, the weights chosen without its rows (``None`` for ``stack``)."""
        return {k: e.weights for k, e in zip(self.cv.fold_ids, self.fold_ensembles)}

    @property
    def in_sample(self) -> float:
        """The final ensemble's score on the rows it was chosen on: optimistic, never the CV."""
        return self.final.score

    def predict(self, preds: np.ndarray) -> np.ndarray:
        """The final ensemble's blend ``(n, c)`` of the inputs' test predictions ``(M, n, c)``."""
        return self.final.predict(preds)

    def summary(self, metric: str) -> dict:
        """The manifest's ``cv`` record: ``{metric, mean, std, folds, n_rows, score, nested, in_sample}``."""
        return {"metric": metric, "mean": self.cv.mean, "std": self.cv.std, "folds": list(self.cv.fold_scores),
                "n_rows": int(np.isfinite(self.oof).all(axis=1).sum()), "score": self.cv.score,
                "nested": self.nested, "in_sample": self.in_sample}


def _folds(folds: np.ndarray, n: int) -> tuple[np.ndarray, list[int]]:
    f = np.asarray(folds)
    if f.shape != (n,) or not np.issubdtype(f.dtype, np.integer):
        raise ParameterError(f"folds must hold one integer fold id per row ({n}); got shape {f.shape}, dtype {f.dtype}")
    ids = sorted(set(f[f >= 0].tolist()))
    if not ids:
        raise ParameterError("no row has a fold id >= 0; nothing to validate on")
    return f, ids


def _fold_scores(y: np.ndarray, pred: np.ndarray, f: np.ndarray, ids: list[int], scorer: Scorer) -> FoldScores:
    scores = [scorer(y[f == k], pred[f == k]) for k in ids]
    rows = f >= 0
    return FoldScores(ids, scores, float(np.mean(scores)), float(np.std(scores)), scorer(y[rows], pred[rows]))


def nested_cv(method: str | Method, preds: np.ndarray, y: np.ndarray, folds: np.ndarray, scorer: Scorer,
              settings: Settings | None = None) -> NestedCV:
    """Nested CV of ``method`` (a name in :data:`METHODS` or a callable, see :func:`choose`) over ``preds`` ``(M, n,
    c)`` with truth ``y`` (``(n,)`` or ``(n, targets)``) and fold ids ``folds`` ``(n,)`` (rows with a negative id
    take part in nothing). Out: :class:`NestedCV`.

    Raises ``ParameterError`` for mismatched shapes, an unknown method, or a method that chooses (``weights``,
    ``hill``, ``stack``, any callable) with a single validation fold: nothing is left to choose on, so only ``mean``
    and ``rank`` apply.
    """
    p, y = _check(preds, y)
    f, ids = _folds(folds, p.shape[1])
    name = method if isinstance(method, str) else getattr(method, "__name__", "custom")
    if isinstance(method, str):
        check_choice("ensemble method", method, METHODS)
    chooses = name in CHOOSING or not isinstance(method, str)
    if chooses and len(ids) < 2:
        raise ParameterError(f"the predictions hold a single validation fold ({ids[0]}), so method {name!r} cannot "
                             "choose on other folds and be scored on this one; use method 'mean' or 'rank'")
    settings = settings or Settings()
    oof = np.full(p.shape[1:], np.nan)
    fold_ensembles = []
    for k in ids:
        train, held = (f != k) & (f >= 0), f == k
        if not chooses:  # mean and rank learn nothing: with a single fold there are no other rows to give them
            train = held
        ens = choose(method, p[:, train], y[train], scorer, settings)
        oof[held] = ens.predict(p[:, held])
        fold_ensembles.append(ens)
    rows = f >= 0
    final = choose(method, p[:, rows], y[rows], scorer, settings)
    return NestedCV(name, oof, _fold_scores(y, oof, f, ids, scorer), fold_ensembles, final, chooses)


def score_inputs(preds: np.ndarray, y: np.ndarray, folds: np.ndarray, scorer: Scorer) -> list[FoldScores]:
    """Each input's own CV over the same folds (what an ensemble's nested CV is compared with). Raises
    ``ParameterError`` for mismatched shapes."""
    p, y = _check(preds, y)
    f, ids = _folds(folds, p.shape[1])
    return [_fold_scores(y, p[i], f, ids, scorer) for i in range(len(p))]
