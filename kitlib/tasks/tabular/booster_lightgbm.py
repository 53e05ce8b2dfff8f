"""LightGBM for :mod:`.boosters`: its objective and fixed parameters, frames, training with early stopping and the
budget callback, prediction. Imported only when a LightGBM model is fitted."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...errors import ParameterError
from .booster_jobs import Fit, as_categories

OBJECTIVES = {"l2": ("regression", "l2"), "l1": ("regression_l1", "l1")}


def fixed_params(target, seed: int, threads: int) -> dict[str, Any]:
    """Objective and metric for ``target``, seed, threads and the settings that make fits reproducible."""
    if target.n_classes > 2:
        objective, metric = "multiclass", "multi_logloss"
    elif target.n_classes:
        objective, metric = "binary", "binary_logloss"
    else:
        objective, metric = OBJECTIVES[target.loss]
    out = {"objective": objective, "metric": metric, "seed": seed, "num_threads": threads, "deterministic": True,
           "force_col_wise": True, "verbosity": -1}
    if target.n_classes > 2:
        out["num_class"] = target.n_classes
    return out


def _aliases() -> dict[str, str]:
    from lightgbm.basic import _ConfigAliases

    try:
        table = _ConfigAliases._get_all_param_aliases()
    except Exception:  # noqa: BLE001 - a private table; without it the names go through unchecked
        return {}
    return {alias: name for name, aliases in table.items() for alias in (name, *aliases)}


def canonical(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with LightGBM's aliases replaced by their main names (``n_estimators`` -> ``num_iterations``,
    ``eta`` -> ``learning_rate``), so they override the kit's defaults. Raises ``ParameterError`` for a name
    LightGBM does not know (it would only ignore it)."""
    aliases = _aliases()
    if not aliases:
        return dict(params)
    unknown = sorted(k for k in params if k not in aliases)
    if unknown:
        raise ParameterError(f"Unknown lightgbm parameter(s) {unknown}; see "
                             f"https://lightgbm.readthedocs.io/en/stable/Parameters.html")
    return {aliases[k]: v for k, v in params.items()}


def prepare(X: pd.DataFrame, categories: dict[str, list]) -> pd.DataFrame:
    """Categorical columns as ``category`` with the training rows' categories, numbers as floats."""
    return as_categories(X, categories)


def _budget_callback(stop):
    import lightgbm

    best: dict[str, Any] = {"iteration": None, "score": None, "results": []}

    def stop_on_budget(env) -> None:
        results = env.evaluation_result_list or []
        if results:
            score, higher = results[0][2], results[0][3]
            if best["score"] is None or (score > best["score"] if higher else score < best["score"]):
                best.update(iteration=env.iteration, score=score, results=list(results))
        if stop.should_stop(env.iteration + 1):
            iteration = best["iteration"] if best["iteration"] is not None else env.iteration
            raise lightgbm.callback.EarlyStopException(iteration, best["results"])

    stop_on_budget.order = 40  # after LightGBM's early stopping (30)
    return stop_on_budget


def train(job):
    """Fit on ``job.X_fit``; with watched rows, stop ``job.patience`` rounds after the best watched loss."""
    import lightgbm

    cats = [c for c in job.X_fit.columns if isinstance(job.X_fit[c].dtype, pd.CategoricalDtype)]
    fit_set = lightgbm.Dataset(job.X_fit, job.y_fit, categorical_feature=cats or "auto", free_raw_data=True)
    valid_sets, callbacks = [], [_budget_callback(job.stop)]
    if job.y_stop is not None:
        valid_sets = [lightgbm.Dataset(job.X_stop, job.y_stop, reference=fit_set, categorical_feature=cats or "auto")]
        callbacks.append(lightgbm.early_stopping(job.patience, first_metric_only=True, verbose=False))
    booster = lightgbm.train(job.params, fit_set, num_boost_round=job.rounds, valid_sets=valid_sets,
                             valid_names=["stop"] * len(valid_sets), callbacks=callbacks)
    done = booster.current_iteration()
    best = booster.best_iteration if booster.best_iteration > 0 else done
    return Fit(booster, int(best), int(done), job.stop.stopped_at is not None)


def predict(model, X: pd.DataFrame, rounds: int, target, threads: int) -> np.ndarray:
    """Probabilities (the positive class's for a binary target) or values, from the first ``rounds`` trees."""
    return model.predict(X, num_iteration=rounds, num_threads=threads)


def is_parameter_error(exc: Exception) -> bool:
    """Whether LightGBM raised ``exc`` over a parameter."""
    import lightgbm

    text = str(exc).lower()
    return isinstance(exc, lightgbm.basic.LightGBMError) and ("param" in text or "config" in text)
