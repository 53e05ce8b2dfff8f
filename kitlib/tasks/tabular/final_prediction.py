"""The run's final prediction: the best single model, or the ensemble of every model when it does better.

:func:`choose_final` takes every kept model's :class:`~.evaluation.ModelResult` (same folds) and:

1. ranks the models by CV mean (the metric's direction);
2. with two models or more, runs Caruana's greedy forward selection with replacement (``kitlib.ensemble``'s
   ``hill``) over their out-of-fold predictions, scored by nested CV: for each fold the weights are chosen on the
   other folds and that fold's rows are blended with them. For a metric of labels or ranks (accuracy, F1, MAP@3)
   the weights are chosen on the log loss of the blended probabilities (a smooth score: chosen on accuracy, the
   steps overfit its plateaus) and the nested CV is scored with the competition's metric, like every model;
3. keeps the ensemble (when its weights, chosen on every row, blend more than one model) unless the reference
   model's CV mean beats the ensemble's nested CV mean by more than one standard error of their per-fold
   differences (:func:`ensemble_holds`); else the best model. The reference (:func:`reference_model`) is the best
   model that was not tuned: a tuned model's CV is the best of its ``n_trials`` trials on the very folds that score
   it, so it leans high, while the ensemble's nested CV never scores a fold its weights saw. On real data sets with
   held-out labels (issue 23's note) the ensemble scored better held out than the tuned LightGBM each of the three
   times that model's CV was ahead of the ensemble's nested CV (by 1.1 to 2.2 standard errors).

:class:`FinalPrediction` holds the choice, its out-of-fold predictions (the ensemble's nested ones) and test
predictions (the weights applied to each model's test predictions: fold averages, or refits), its ``cv`` record,
the table of every model and the ensemble, and what the manifest records.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...ensemble import Settings, metric_scorer, nested_cv
from ...metrics import find_metric
from .evaluation import FoldScores, Inputs, ModelResult
from .run_plan import TUNED_SUFFIX

__all__ = ["ENSEMBLE", "FinalPrediction", "choose_final", "prediction_tables"]

ENSEMBLE = "ensemble"  # the ensemble's name in the table and the metrics
SMOOTH = "log_loss"  # what the weights are chosen on for metrics of labels or ranks


@dataclass
class _Scores:
    """What :func:`kitlib.comparison.cv_metrics` reads of a result: ``score``, ``mean``, ``std``."""

    score: float
    mean: float
    std: float


@dataclass
class FinalPrediction(FoldScores):
    """The run's final prediction (see the module docstring): ``kind`` ``"model"`` or ``"ensemble"``, ``model``
    (the chosen model, or the best single one beside an ensemble), ``weights`` (the ensemble's, per model, non-zero
    only; ``{}`` for a model), ``oof``/``test`` predictions, ``fold_scores`` and ``score`` (pooled), ``table`` (one
    row per model and the ensemble, best first), ``chosen_on`` (the score the weights were chosen on) and the
    ensemble's nested CV (``nested``; ``None`` with a single model)."""

    kind: str
    model: str
    weights: dict[str, float]
    oof: np.ndarray
    test: np.ndarray
    fold_scores: list[float]
    score: float
    table: pd.DataFrame
    chosen_on: str | None = None
    nested: Any = None
    results: dict[str, ModelResult] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """``"ensemble"`` or the chosen model's name."""
        return ENSEMBLE if self.kind == ENSEMBLE else self.model

    def summary(self, metric: str) -> dict:
        """The manifest's ``cv``: the chosen model's, or the ensemble's nested CV (``nested: true``, with the final
        weights' ``in_sample`` score, optimistic)."""
        if self.kind != ENSEMBLE:
            return self.results[self.model].summary(metric)
        out = {"metric": metric, "mean": self.mean, "std": self.std, "folds": [float(s) for s in self.fold_scores],
               "n_rows": int(np.isfinite(self.oof).all(axis=1).sum()), "score": float(self.score), "nested": True}
        if self.nested is not None and self.chosen_on is None:
            out["in_sample"] = float(self.nested.in_sample)
        return out

    def record(self) -> dict:
        """The manifest's ``final``: ``{kind: "model", model}`` or ``{kind: "ensemble", weights, method, chosen_on,
        best_model}``."""
        if self.kind != ENSEMBLE:
            return {"kind": "model", "model": self.model}
        return {"kind": ENSEMBLE, "weights": dict(self.weights), "method": "hill",
                "chosen_on": self.chosen_on or "the metric", "best_model": self.model}

    def cvs(self) -> dict[str, Any]:
        """Every model's scores and the ensemble's, for :func:`kitlib.comparison.cv_metrics`."""
        out: dict[str, Any] = dict(self.results)
        if self.nested is not None:
            out[ENSEMBLE] = _Scores(self.table.loc[ENSEMBLE, "out of fold"], self.table.loc[ENSEMBLE, "cv mean"],
                                    self.table.loc[ENSEMBLE, "cv std"])
        return out

    def fold_score_table(self) -> dict[str, list[float]]:
        """Per model (and the ensemble), its fold scores: what :func:`kitlib.plots.fold_scores` draws."""
        out = {name: list(r.fold_scores) for name, r in self.results.items()}
        if self.nested is not None:
            out[ENSEMBLE] = [float(v) for v in self.table.attrs["ensemble_folds"]]
        return out


def _better(mode: str, a: float, b: float) -> bool:
    return a > b if mode == "max" else a < b


def reference_model(results: Mapping[str, ModelResult], mode: str) -> str:
    """The model the ensemble must hold against: the one with the best CV mean among those not tuned (names without
    the ``_optuna`` suffix), or among all when every one was tuned (``mode``: ``"max"`` or ``"min"``)."""
    untuned = [name for name in results if not name.endswith(TUNED_SUFFIX)] or list(results)
    best = untuned[0]
    for name in untuned[1:]:
        if _better(mode, results[name].mean, results[best].mean):
            best = name
    return best


def ensemble_holds(mode: str, ensemble_folds: list[float], model_folds: list[float]) -> bool:
    """Whether the ensemble's nested CV (per-fold scores) holds against the best model's CV over the same folds:
    the model's mean is not better by more than one standard error of the per-fold differences (``mode``:
    ``"max"`` or ``"min"``; a single fold: the ensemble must not be worse)."""
    sign = 1.0 if mode == "max" else -1.0
    diffs = sign * (np.asarray(ensemble_folds, dtype=float) - np.asarray(model_folds, dtype=float))
    se = float(np.std(diffs, ddof=1) / np.sqrt(len(diffs))) if len(diffs) > 1 else 0.0
    return float(np.mean(diffs)) >= -se


def _scorer(inputs: Inputs):
    """``(scorer, chosen_on)``: what the hill climbs, and the name of that score when it is not the metric."""
    problem = inputs.problem
    takes = find_metric(problem.metric).takes
    if problem.classification and len(problem.targets) == 1 and takes in ("labels", "ranked"):
        return metric_scorer(SMOOTH), SMOOTH
    return metric_scorer(problem.metric, problem.score), None


def _table(results: Mapping[str, ModelResult], mode: str, weights: dict[str, float],
           ensemble: tuple[float, float, float] | None) -> pd.DataFrame:
    rows = {name: {"cv mean": r.mean, "cv std": r.std, "out of fold": r.score, "weight": weights.get(name, 0.0),
                   "seconds": r.seconds} for name, r in results.items()}
    if ensemble is not None:
        rows[ENSEMBLE] = {"cv mean": ensemble[0], "cv std": ensemble[1], "out of fold": ensemble[2],
                          "weight": float("nan"), "seconds": float("nan")}
    table = pd.DataFrame.from_dict(rows, orient="index")
    return table.sort_values("cv mean", ascending=mode == "min", kind="stable")


def choose_final(results: Mapping[str, ModelResult], inputs: Inputs, seed: int = 0,
                 ensemble: bool = True) -> FinalPrediction:
    """The final prediction of ``results`` (every kept model, in the order evaluated) on ``inputs`` (see the module
    docstring); ``ensemble`` false keeps the best model. Raises ``ParameterError`` when ``results`` is empty."""
    from ...errors import ParameterError

    if not results:
        raise ParameterError("no model was kept (every one was skipped): raise time_limit or name fewer models")
    mode = inputs.problem.mode
    names = list(results)
    best = names[0]
    for name in names[1:]:
        if _better(mode, results[name].mean, results[best].mean):
            best = name
    single = results[best]
    if not ensemble or len(names) < 2:
        return FinalPrediction("model", best, {}, single.oof, single.test, list(single.fold_scores), single.score,
                               _table(results, mode, {}, None), results=dict(results))
    folds = np.asarray(inputs.folds)
    rows = np.flatnonzero(folds >= 0)
    stack = np.stack([results[n].oof[rows] for n in names])
    scorer, chosen_on = _scorer(inputs)
    nested = nested_cv("hill", stack, inputs.y[rows], folds[rows], scorer, Settings(seed=seed))
    oof = np.full_like(single.oof, np.nan)
    oof[rows] = nested.oof
    fold_scores = [inputs.score(np.flatnonzero(folds == k), oof[folds == k]) for k in inputs.fold_ids]
    pooled = inputs.score(rows, oof[rows])
    weights = {n: float(w) for n, w in zip(names, nested.final.weights) if w > 0}
    table = _table(results, mode, weights, (float(np.mean(fold_scores)), float(np.std(fold_scores)), pooled))
    table.attrs["ensemble_folds"] = fold_scores
    reference = results[reference_model(results, mode)]
    if len(weights) > 1 and ensemble_holds(mode, fold_scores, list(reference.fold_scores)):
        test = nested.predict(np.stack([results[n].test for n in names]))
        return FinalPrediction(ENSEMBLE, best, weights, oof, test, fold_scores, pooled, table, chosen_on, nested,
                               dict(results))
    return FinalPrediction("model", best, {}, single.oof, single.test, list(single.fold_scores), single.score, table,
                           chosen_on, nested, dict(results))


def prediction_tables(data: Any, problem: Any, folds: np.ndarray, oof: np.ndarray, test: np.ndarray
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The run folder's ``(oof, test)`` tables of one prediction (a model's or the final one): key columns, fold
    and the target columns as ``train.csv`` writes them for the labelled rows; key and prediction columns for the
    test rows (:func:`kitlib.predictions.frame`)."""
    from ... import predictions

    target = {t: data.targets[t].to_numpy() for t in problem.targets}
    return (predictions.frame(data.keys, oof, problem.columns, fold=folds, target=target),
            predictions.frame(data.test_keys, test, problem.columns))
