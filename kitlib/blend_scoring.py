"""How ``kit blend`` scores a blend under a competition's own metric: the truth ``y``, the :class:`Scorer` and the
method :func:`kitlib.ensemble.nested_cv` is given, built from the inputs' out-of-fold table.

- A ``kit new`` (tabular) competition scores arrays: ``y`` is its encoded targets and the scorer its problem's
  metric, with the vectorised batch score where the registry has one (ROC AUC, log loss, RMSE, MAE);
- every other competition scores a table (``Predictions.score``): ``y`` is the row number and the scorer puts a
  blend's columns into those rows of the out-of-fold table (the row-number adapter). ``stack`` then fits on the
  target as class codes (the index of the target's column among the prediction columns) or values.

Whether ``rank`` applies follows the metric: the registry's order-based metrics (ROC AUC: the rows of each column;
MAP@k: the columns of each row), and metrics that read only each row's most probable class (accuracy, weighted
F1), whose order within a row rank averaging keeps. Metrics outside the registry (SOMD's score, the clocks'
common-sense error) score values: no ``rank``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .competitions import Competition
from .ensemble import Ensemble, Method, Scorer, Settings, Stacker, metric_scorer
from .errors import ParameterError
from .metrics import find_metric

__all__ = ["Objective", "objective"]


@dataclass
class Objective:
    """What a blend is chosen and scored with: ``y`` (the truth the methods see), ``scorer`` and, per method name,
    what :func:`kitlib.ensemble.nested_cv` is given (``method_for``)."""

    y: np.ndarray
    scorer: Scorer
    stack: Method | None = None  # stack over the row-number adapter; None: the ensemble's own stack
    stack_refusal: str = ""

    def method_for(self, method: str) -> str | Method:
        """``method``, or the adapter's stack for ``"stack"``; ``ParameterError`` when this competition cannot stack."""
        if method != "stack":
            return method
        if self.stack_refusal:
            raise ParameterError(self.stack_refusal)
        return self.stack or method


def _registry(comp: Competition):
    try:
        found = find_metric(comp.metric.removeprefix("val_"))
    except KeyError:
        return None
    return found if found.mode == comp.mode else None


def objective(comp: Competition, oof: pd.DataFrame, columns: list[str]) -> Objective:
    """The :class:`Objective` of ``comp`` over the out-of-fold table ``oof`` (its key, fold and target columns; its
    ``columns`` are what the blend replaces)."""
    if comp.tabular is not None:
        problem = comp.tabular
        y = problem.encode(oof, "the out-of-fold predictions")
        y = y[:, 0] if y.shape[1] == 1 else y
        if find_metric(problem.metric).takes == "labels":  # the argmax of each class block: rank within rows keeps it
            return Objective(y, Scorer(fn=problem.score, mode=problem.mode, takes="labels", order="rows", fast=False))
        return Objective(y, metric_scorer(problem.metric, problem.score))
    base = oof.drop(columns=columns).reset_index(drop=True)
    score = comp.predictions.score

    def fn(rows: np.ndarray, pred: np.ndarray) -> float:
        part = base.iloc[np.asarray(rows, dtype=np.int64)].reset_index(drop=True)
        values = pd.DataFrame(np.asarray(pred, dtype=np.float64).reshape(len(part), -1), columns=columns)
        return float(score(pd.concat([part, values], axis=1)))

    found = _registry(comp)
    values = all(str(c).startswith("pred_") for c in columns)
    takes = found.takes if found is not None else ("values" if values else "probabilities")
    order = None
    if found is not None and found.takes in ("labels", "ranked"):
        order = "rows"
    elif found is not None and found.name == "roc_auc":
        order = "columns"
    scorer = Scorer(fn=fn, mode=comp.mode, takes=takes, order=order, fast=False)
    target, refusal = _stack_target(comp, oof, columns, takes == "values")
    return Objective(np.arange(len(oof)), scorer, None if refusal else _row_stack(target, takes == "values"), refusal)


def _stack_target(comp: Competition, oof: pd.DataFrame, columns: list[str],
                  regression: bool) -> tuple[np.ndarray, str]:
    """``(what stack fits on, "")``: class codes (the index of each row's target among ``columns``) or values; or
    ``(empty, why not)``."""
    target = comp.predictions.target
    if regression:
        if columns == [f"pred_{target}"]:
            return oof[target].to_numpy(dtype=np.float64), ""
        return np.zeros(0), (f"stack fits the target {target!r}, and {comp.name}'s prediction columns {columns} are "
                             f"not that target's values; use method 'mean' or 'hill'")
    prefix = str(columns[0]).split("_", 1)[0] + "_"
    index = {c: i for i, c in enumerate(columns)}
    names = [f"{prefix}{v}" for v in oof[target].astype(str)]
    codes = np.array([index.get(n, -1) for n in names], dtype=np.int64)
    if (codes < 0).any():
        row = int(np.flatnonzero(codes < 0)[0])
        return np.zeros(0), (f"stack fits the target {target!r} as the index of its prediction column, and row "
                             f"{row + 1}'s target {oof[target].iat[row]!r} has no column {names[row]!r} among "
                             f"{columns}; use method 'mean', 'weights' or 'hill'")
    return codes, ""


def _row_stack(target: np.ndarray, regression: bool) -> Method:
    """The ``stack`` method over row numbers: the :class:`Stacker` fits on ``target[rows]``, the scorer sees rows."""
    task = "regression" if regression else "classification"

    def stack(preds: np.ndarray, rows: np.ndarray, scorer: Scorer, settings: Settings) -> Ensemble:
        kind = settings.stacker if settings.stacker != "auto" else ("ridge" if regression else "logistic")
        model = Stacker(kind, task, settings.logits, settings.alpha, settings.seed, settings.threads)
        model.fit(preds, target[np.asarray(rows, dtype=np.int64)])
        return Ensemble("stack", None, scorer(rows, model.predict(preds)), stacker=model)

    return stack


def stacker_record(model: Stacker, names: list[str], columns: list[str]) -> dict:
    """The manifest's record of a fitted stacker: its kind, the features (input and column), whether they were
    standardised (logistic and ridge: the coefficients are per standard deviation of each feature) and its
    coefficients (LightGBM: the feature importances)."""
    per_input = [columns[-1]] if model.task == "classification" and model.n_columns_ <= 2 else columns
    features = [f"{n}:{c}" for n in names for c in per_input]
    inner = model.model_
    record: dict = {"kind": model.kind, "task": model.task, "logits": bool(model.logits_), "features": features,
                    "standardised": getattr(model, "scaler_", None) is not None}
    if hasattr(inner, "coef_"):
        record["coef"] = np.round(np.asarray(inner.coef_, dtype=np.float64), 6).tolist()
        record["intercept"] = np.round(np.atleast_1d(np.asarray(inner.intercept_, dtype=np.float64)), 6).tolist()
    elif hasattr(inner, "feature_importances_"):
        record["importance"] = np.asarray(inner.feature_importances_, dtype=np.float64).tolist()
    return record
