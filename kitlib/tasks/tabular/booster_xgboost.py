"""XGBoost for :mod:`.boosters`: its objective and fixed parameters, frames, training with early stopping and the
budget callback, prediction. Imported only when an XGBoost model is fitted."""
from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pandas as pd

from ...errors import ParameterError
from .booster_jobs import Fit, RowBatches, as_categories

OBJECTIVES = {"l2": ("reg:squarederror", "rmse"), "l1": ("reg:absoluteerror", "mae")}
ALIASES = {"learning_rate": "eta", "reg_lambda": "lambda", "reg_alpha": "alpha", "n_estimators": "num_boost_round",
           "random_state": "seed", "n_jobs": "nthread", "early_stopping_round": "early_stopping_rounds"}


def fixed_params(target, seed: int, threads: int) -> dict[str, Any]:
    """Objective and metric for ``target``, seed and threads."""
    if target.n_classes > 2:
        out = {"objective": "multi:softprob", "eval_metric": "mlogloss", "num_class": target.n_classes}
    elif target.n_classes:
        out = {"objective": "binary:logistic", "eval_metric": "logloss"}
    else:
        objective, metric = OBJECTIVES[target.loss]
        out = {"objective": objective, "eval_metric": metric}
    return {**out, "seed": seed, "nthread": threads, "verbosity": 1}


def canonical(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with the scikit-learn-style names XGBoost also accepts replaced by the native ones."""
    return {ALIASES.get(k, k): v for k, v in params.items()}


BATCHED_ROWS = 200_000  # above this many rows a fit is handed to XGBoost a batch at a time...
BATCH_ROWS = 100_000  # ...of this many rows


def prepare(X: pd.DataFrame, categories: dict[str, list], rows: np.ndarray | None = None) -> Any:
    """The rows ``rows`` (positions; ``None``: all): categorical columns as ``category`` with the training rows'
    categories, numbers as floats. Above :data:`BATCHED_ROWS` rows, :class:`RowBatches` that XGBoost reads a batch
    at a time into its bins (the same model; a 1,000,000-row fold is never copied whole)."""
    if rows is not None and len(rows) > BATCHED_ROWS:
        return RowBatches(X, categories, np.asarray(rows), BATCH_ROWS)
    return as_categories(X, categories, rows)


def _batches(rows: RowBatches, y: np.ndarray):
    """An ``xgboost.DataIter`` over ``rows`` and their labels ``y``."""
    import xgboost

    class Batches(xgboost.DataIter):
        def __init__(self) -> None:
            self.at, self.batches = 0, rows.batches()
            super().__init__(cache_prefix=None)

        def next(self, input_data) -> bool:
            if self.at >= len(self.batches):
                return False
            batch = self.batches[self.at]
            self.at += 1
            input_data(data=rows.frame(batch), label=y[batch])
            return True

        def reset(self) -> None:
            self.at = 0

    return Batches()


def _budget_callback(stop):
    import xgboost

    class StopOnBudget(xgboost.callback.TrainingCallback):
        def after_iteration(self, model, epoch: int, evals_log) -> bool:
            return stop.should_stop(epoch + 1)

    return StopOnBudget()


def _whole(X: Any) -> pd.DataFrame:
    """A frame of every row (:class:`RowBatches` put together, for a method that takes no batches)."""
    if isinstance(X, RowBatches):
        return pd.concat([X.frame(b) for b in X.batches()])
    return X


def _matrix(X: pd.DataFrame, y: np.ndarray | None, threads: int):
    import xgboost

    return xgboost.DMatrix(X, y, enable_categorical=True, nthread=threads)


def train(job):
    """Fit on ``job.X_fit``; with watched rows, stop ``job.patience`` rounds after the best watched loss.
    A parameter XGBoost reports as not used is refused (``ParameterError``)."""
    import xgboost

    # QuantileDMatrix: the rows go straight into XGBoost's histogram bins (the "hist" method's own input), never
    # into a float copy of the frame; the watched rows are binned with the training rows' cut points
    # (another tree_method the user names gets a plain DMatrix)
    if str(job.params.get("tree_method", "hist")) == "hist":
        max_bin = int(job.params.get("max_bin", 256))
        batched = isinstance(job.X_fit, RowBatches)  # the labels come with each batch
        fit_set = xgboost.QuantileDMatrix(_batches(job.X_fit, job.y_fit) if batched else job.X_fit,
                                          None if batched else job.y_fit, enable_categorical=True,
                                          nthread=job.threads, max_bin=max_bin)
        stop_set = None if job.y_stop is None else xgboost.QuantileDMatrix(
            job.X_stop, job.y_stop, enable_categorical=True, nthread=job.threads, max_bin=max_bin, ref=fit_set)
    else:
        fit_set = _matrix(_whole(job.X_fit), job.y_fit, job.threads)
        stop_set = None if job.y_stop is None else _matrix(job.X_stop, job.y_stop, job.threads)
    job.X_fit = None  # XGBoost holds its own copy now
    evals = [] if stop_set is None else [(stop_set, "stop")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        booster = xgboost.train(job.params, fit_set, num_boost_round=job.rounds, evals=evals,
                                early_stopping_rounds=job.patience if evals else None,
                                callbacks=[_budget_callback(job.stop)], verbose_eval=False)
    for w in caught:
        unused = re.search(r"Parameters: \{(.*?)\} are not used", str(w.message), re.S)
        if unused:
            raise ParameterError(f"Unknown xgboost parameter(s) [{unused.group(1).strip()}]; see "
                                 f"https://xgboost.readthedocs.io/en/stable/parameter.html")
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    done = booster.num_boosted_rounds()
    best = booster.best_iteration + 1 if evals and "best_iteration" in booster.attributes() else done
    return Fit(booster, int(best), int(done), job.stop.stopped_at is not None)


def predict(model, X: pd.DataFrame, rounds: int, target, threads: int) -> np.ndarray:
    """Probabilities (the positive class's for a binary target) or values, from the first ``rounds`` trees."""
    return model.predict(_matrix(X, None, threads), iteration_range=(0, rounds))


def is_parameter_error(exc: Exception) -> bool:
    """Whether XGBoost raised ``exc`` over a parameter."""
    import xgboost

    return isinstance(exc, xgboost.core.XGBoostError) and "param" in str(exc).lower()
