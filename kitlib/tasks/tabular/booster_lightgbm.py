"""LightGBM for :mod:`.boosters`: its objective and fixed parameters, frames, training with early stopping and the
budget callback, prediction. Imported only when a LightGBM model is fitted."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...errors import ParameterError
from .booster_jobs import Fit, Matrix, as_matrix, float_codes, floats

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


SEQUENCE_ROWS = 200_000  # above this many rows (LightGBM's bin_construct_sample_cnt) a fit reads its rows in batches


def prepare(X: pd.DataFrame, categories: dict[str, list], rows: np.ndarray | None = None) -> Matrix:
    """The rows ``rows`` (positions; ``None``: all) as LightGBM takes them: categorical columns as codes of the
    training rows' categories (missing and unseen values ``NaN``, as LightGBM's own pandas path codes them),
    numbers as they are. Up to :data:`SEQUENCE_ROWS` rows, one float64 matrix (no frame in between; LightGBM bins
    it without copying); above, a ``lightgbm.Sequence`` that hands LightGBM the rows a batch at a time from the
    frame itself, so a 1,000,000-row fold is never copied whole (the same rows fit the same model up to
    LightGBM's sampling of the rows its bins are drawn from)."""
    positions = np.arange(len(X)) if rows is None else np.asarray(rows)
    values = (_sequence(X, categories, positions) if len(positions) > SEQUENCE_ROWS
              else as_matrix(X, categories, rows))
    return Matrix(values, [str(c) for c in X.columns], [j for j, c in enumerate(X.columns) if c in categories],
                  X.index if rows is None else X.index[rows])


def _sequence(X: pd.DataFrame, categories: dict[str, list], rows: np.ndarray):
    """A ``lightgbm.Sequence`` over the rows ``rows`` of ``X``: the numeric columns read in place, each categorical
    one as float32 codes of those rows (missing ``NaN``)."""
    import lightgbm

    class FrameRows(lightgbm.Sequence):
        batch_size = 65_536

        def __init__(self) -> None:
            self.rows = rows
            self.columns: list[tuple[np.ndarray, bool]] = []  # (values, indexed by position among the rows)
            for c in X.columns:
                if c in categories:  # float32: codes are small whole numbers
                    self.columns.append((float_codes(X[c].iloc[rows], categories[c], np.float32), True))
                else:
                    self.columns.append((floats(X[c]), False))

        def __len__(self) -> int:
            return len(self.rows)

        def __getitem__(self, idx):
            if isinstance(idx, (int, np.integer)):
                return np.array([v[idx] if local else v[self.rows[idx]] for v, local in self.columns],
                                dtype=np.float64)
            idx = idx if isinstance(idx, slice) else np.asarray(idx)  # a slice, or a list of positions
            chosen = self.rows[idx]
            out = np.empty((len(chosen), len(self.columns)), dtype=np.float64)
            for j, (v, local) in enumerate(self.columns):
                out[:, j] = v[idx] if local else v[chosen]
            return out

    return FrameRows()


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

    fit: Matrix = job.X_fit
    fit_set = lightgbm.Dataset(fit.values, job.y_fit, feature_name=fit.columns, categorical_feature=fit.categorical,
                               params=job.params, free_raw_data=True)
    fit_set.construct()  # binned: the matrix is no longer needed
    job.X_fit = fit = None
    valid_sets, callbacks = [], [_budget_callback(job.stop)]
    if job.y_stop is not None:
        stop: Matrix = job.X_stop
        valid_sets = [lightgbm.Dataset(stop.values, job.y_stop, reference=fit_set, feature_name=stop.columns,
                                       categorical_feature=stop.categorical, params=job.params)]
        callbacks.append(lightgbm.early_stopping(job.patience, first_metric_only=True, verbose=False))
    booster = lightgbm.train(job.params, fit_set, num_boost_round=job.rounds, valid_sets=valid_sets,
                             valid_names=["stop"] * len(valid_sets), callbacks=callbacks)
    done = booster.current_iteration()
    best = booster.best_iteration if booster.best_iteration > 0 else done
    return Fit(booster, int(best), int(done), job.stop.stopped_at is not None)


def predict(model, X: Matrix, rounds: int, target, threads: int) -> np.ndarray:
    """Probabilities (the positive class's for a binary target) or values, from the first ``rounds`` trees."""
    return model.predict(X.values, num_iteration=rounds, num_threads=threads)


def is_parameter_error(exc: Exception) -> bool:
    """Whether LightGBM raised ``exc`` over a parameter."""
    import lightgbm

    text = str(exc).lower()
    return isinstance(exc, lightgbm.basic.LightGBMError) and ("param" in text or "config" in text)
