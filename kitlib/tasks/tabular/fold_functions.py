"""The run's tabular models as fold functions for :func:`kitlib.folds.cross_validate`, by name.

:func:`fold_function` returns ``fit_fold(k, train_idx, val_idx) -> FoldResult`` for a model of
:data:`MODEL_ORDER`:

- ``linear``: the linear baseline of :mod:`.models` (``make_model("linear")``) on at most :data:`LINEAR_ROWS` rows;
- ``lightgbm``, ``xgboost``, ``catboost``: :func:`.boosters.fit_booster` per target (early stopping on an inner
  split of the fold's training rows, the refit rule, the budget callback);
- ``mlp``: the network of :mod:`.mlp` (early stopping on an inner split of the fold's training rows, epochs as
  rounds);
- ``hgb``: the HistGradientBoosting pipeline of :mod:`.models` with its own early stopping
  (``early_stopping=True`` on a ``validation_fraction=0.1`` of the fold's training rows, drawn by the kit's inner
  split and handed to it as ``X_val``) and room to use it (:data:`HGB_DEFAULTS`).

Every fold's :attr:`~kitlib.folds.FoldResult.info` holds ``best_iteration`` and ``rounds`` (one per target, in
``problem.targets`` order; ``None`` for the linear model), ``n_fit`` (rows the early-stopping fit saw, per target),
``refit`` (per target), ``stopped`` (the budget stopped a fit) and ``seconds``. For ``final = "refit"``,
:func:`final_rounds` turns the folds' infos into round counts and :func:`fit_full` fits on every labelled row.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ...errors import ParameterError, check_choice
from ...folds import FoldResult
from ...memory import release_memory
from .boosters import FittedBooster, chunks, fit_booster, targets_of
from .early_stopping import inner_split
from .mlp import fit_mlp
from .model_settings import BOOSTERS, MODEL_ORDER, ModelSettings
from .models import DEFAULTS as SK_DEFAULTS
from .models import Coded, capped_rows, coder_for, fit_models, make_model
from .models import predict as sk_predict
from .problem import Problem

__all__ = ["MODEL_ORDER", "HGB_DEFAULTS", "fold_function", "fit_full", "final_rounds"]

# HistGradientBoosting with room for its own early stopping (the plain pipeline's 200 rounds at 0.1 overfit small
# sets: issue 23's 1,899-row 4-class set scored worse than the class frequencies without it).
HGB_DEFAULTS: dict[str, Any] = {"learning_rate": 0.05, "max_iter": 3000, "max_leaf_nodes": 31,
                                "min_samples_leaf": 20, "l2_regularization": 1.0, "early_stopping": True,
                                "validation_fraction": 0.1, "n_iter_no_change": 50}


# The linear baseline fits at most this many of a fold's training rows (drawn from the seed): more add little to a
# linear model and its one-hot and scaled copies of a 1,000,000-row fold would take several times the data's memory.
LINEAR_ROWS = 100_000
UNROUNDED = ("linear", "mlp")  # models a final refit fits without the folds' round counts


def _hgb_estimator(pipeline):
    final = getattr(pipeline, "pipeline", pipeline)[-1]  # a Coded model's pipeline
    return getattr(final, "regressor", final)  # TransformedTargetRegressor (RMSLE) wraps the booster


def _fit_hgb(problem: Problem, X: pd.DataFrame, y: np.ndarray, settings: ModelSettings,
             rounds: list[int] | None = None, rows: np.ndarray | None = None) -> tuple[list, list[int]]:
    """One fitted HistGradientBoosting pipeline per target (a :class:`~.models.Coded`), on the rows ``rows`` of
    ``X`` (``None``: all), and the rows each one fitted; ``rounds`` fixes each one's rounds (no early stopping).
    With early stopping, the ``validation_fraction`` of the rows it watches is the kit's inner split (stratified by
    class, from the seed) handed to it as ``X_val``: the watched and the fitted rows are coded straight from the
    frame, one matrix in all, instead of a matrix of every row that HistGradientBoosting would then split into two
    more."""
    from threadpoolctl import threadpool_limits

    params = {**HGB_DEFAULTS, **settings.params_of("hgb")}
    base = {k: params.pop(k) for k in list(params) if k in SK_DEFAULTS["hgb"]}
    positions = np.arange(len(X)) if rows is None else np.asarray(rows)
    coder = coder_for("hgb", problem).fit(X, positions)
    fitted, n_fit = [], []
    for j in range(len(problem.targets)):
        target = y[:, j].astype(np.int64) if problem.classification else y[:, j]
        extra = dict(params)
        if rounds is not None:
            base["max_iter"], extra["early_stopping"] = int(rounds[j]), False
        pipeline = make_model("hgb", problem, base, settings.seed, coder)
        if extra.get("early_stopping") and problem.classification and (np.bincount(target) == 1).any():
            extra["early_stopping"] = False  # a class with one row cannot be stratified into the watched rows
        try:
            _hgb_estimator(pipeline).set_params(**extra)
        except ValueError as exc:
            raise ParameterError(f"hgb refused its parameters: {exc}") from None
        if extra.get("early_stopping"):
            fraction = float(extra.get("validation_fraction") or HGB_DEFAULTS["validation_fraction"])
            fit_rows, val_rows = inner_split(len(target), target if problem.classification else None, fraction,
                                             settings.seed)
            y_val = np.log1p(target[val_rows]) if problem.metric == "rmsle" else target[val_rows]
            watched = {"X_val": coder.transform(X, positions[val_rows]), "y_val": y_val}
        else:
            fit_rows, watched = np.arange(len(target)), {}
        with threadpool_limits(limits=settings.cpu_threads(), user_api="openmp"):
            pipeline[-1].fit(coder.transform(X, positions[fit_rows]), target[fit_rows], **watched)
        fitted.append(Coded(coder, pipeline))
        n_fit.append(len(fit_rows))
    return fitted, n_fit


def _hgb_rounds(pipeline) -> tuple[int, int]:
    est = _hgb_estimator(pipeline)
    scores = getattr(est, "validation_score_", None)
    done = int(est.n_iter_)
    if scores is None or len(scores) == 0:
        return done, done
    return int(np.argmax(scores)), done  # scores[0] is before the first round; higher is better


def _predict(problem: Problem, fitted: list, X: pd.DataFrame, threads: int,
             rows: np.ndarray | None = None) -> np.ndarray:
    """Predictions for the rows of ``X`` at the positions ``rows`` (``None``: all), a chunk of rows at a time."""
    rows = np.arange(len(X)) if rows is None else np.asarray(rows)
    if fitted and isinstance(fitted[0], FittedBooster):
        return np.hstack([f.predict(X, rows) for f in fitted])
    parts = [sk_predict(fitted, problem, X.iloc[chunk], threads) for chunk in chunks(rows)]
    return np.vstack(parts) if parts else np.zeros((0, len(problem.columns)))


def _fit(model: str, problem: Problem, X: pd.DataFrame, y: np.ndarray, settings: ModelSettings, what: str,
         rounds: list[int] | None = None, rows: np.ndarray | None = None) -> tuple[list, dict[str, Any]]:
    """``model`` fitted on the rows of ``X`` at the positions ``rows`` (``None``: all) and their ``y``."""
    if model == "linear":
        rows, y = capped_rows(len(X) if rows is None else rows, y, LINEAR_ROWS, settings.seed)
        fitted = fit_models("linear", problem, X, y, settings.params_of("linear"), settings.seed,
                            settings.cpu_threads(), rows)
        return fitted, {"best_iteration": None, "rounds": None, "n_fit": [len(y)] * len(fitted),
                        "refit": [False] * len(fitted), "stopped": False}
    if model == "mlp":  # early stopping on its own inner split, a final refit too
        return fit_mlp(problem, X, y, settings, what, rows)
    if model == "hgb":
        budget = settings.budget
        if rounds is None and budget is not None and budget.exhausted:
            budget.cut(f"{what}", "time budget spent: 10 rounds without early stopping")
            rounds = [10] * len(problem.targets)
        fitted, n_fit = _fit_hgb(problem, X, y, settings, rounds, rows)
        counts = [_hgb_rounds(p) for p in fitted]
        return fitted, {"best_iteration": [c[0] for c in counts], "rounds": [c[1] for c in counts], "n_fit": n_fit,
                        "refit": [False] * len(fitted), "stopped": False}
    targets = targets_of(problem)
    fitted = [fit_booster(model, t, X, y[:, j], settings, f"{what} {t.name}" if len(targets) > 1 else what,
                          None if rounds is None else rounds[j], rows) for j, t in enumerate(targets)]
    return fitted, {"best_iteration": [f.best_iteration for f in fitted], "rounds": [f.rounds for f in fitted],
                    "n_fit": [f.n_fit for f in fitted], "refit": [f.refit for f in fitted],
                    "stopped": any(f.stopped for f in fitted)}


def fold_function(model: str, problem: Problem, X: pd.DataFrame, y: np.ndarray, X_test: pd.DataFrame | None,
                  settings: ModelSettings) -> Callable[[int, np.ndarray, np.ndarray], FoldResult]:
    """A fold function for :func:`kitlib.folds.cross_validate` that fits ``model`` (one of :data:`MODEL_ORDER`)
    on the fold's training rows of ``X`` / ``y`` (``(n, targets)`` codes or values) and predicts its validation rows
    and ``X_test`` (``None``: no test predictions); columns as ``problem.columns``.

    ``FoldResult.model`` is the list of per-target fitted models; ``info`` as the module docstring says.
    Raises ``ParameterError`` for an unknown model (listing :data:`MODEL_ORDER`); fitting raises it for a
    parameter the library refuses or a device it cannot use."""
    check_choice("model", model, MODEL_ORDER)
    if model in BOOSTERS:
        from .boosters import library_params

        for target in targets_of(problem)[:1]:
            library_params(model, target, settings)  # refuse a bad device or parameter before the first fold
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)

    def fit_fold(k: int, train_idx: np.ndarray, val_idx: np.ndarray) -> FoldResult:
        started = time.perf_counter()
        fitted, info = _fit(model, problem, X, y[train_idx], settings, f"{model} fold {k}", rows=train_idx)
        threads = settings.cpu_threads()
        val = _predict(problem, fitted, X, threads, val_idx)
        test = None if X_test is None else _predict(problem, fitted, X_test, threads)
        info["seconds"] = time.perf_counter() - started
        release_memory()  # the fold's copies are gone
        return FoldResult(val=val, test=test, model=fitted, info=info)

    return fit_fold


def final_rounds(infos: list[dict], n_rows: int) -> list[int] | None:
    """Per target, ``round(mean best_iteration x n_rows / mean n_fit)`` over the folds' ``infos`` (what a refit
    on all ``n_rows`` labelled rows gets); ``None`` for a model without rounds (linear)."""
    if not infos or infos[0].get("best_iteration") is None:
        return None
    width = len(infos[0]["best_iteration"])
    out = []
    for j in range(width):
        best = np.mean([info["best_iteration"][j] or info["rounds"][j] for info in infos])
        n_fit = np.mean([info["n_fit"][j] for info in infos])
        out.append(max(1, int(round(best * n_rows / n_fit))))
    return out


def fit_full(model: str, problem: Problem, X: pd.DataFrame, y: np.ndarray, X_test: pd.DataFrame,
             settings: ModelSettings, rounds: list[int] | None) -> FoldResult:
    """``model`` fitted on every labelled row (``rounds`` per target from :func:`final_rounds`, no early stopping)
    and its predictions for ``X_test``, as a :class:`~kitlib.folds.FoldResult` with ``val`` empty.

    Raises ``ParameterError`` for an unknown model or a booster without ``rounds``."""
    check_choice("model", model, MODEL_ORDER)
    if model not in UNROUNDED and rounds is None:
        raise ParameterError(f"a final refit of {model} needs its rounds per target (final_rounds of its folds)")
    started = time.perf_counter()
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    fitted, info = _fit(model, problem, X, y, settings, f"{model} final refit", rounds)
    test = _predict(problem, fitted, X_test, settings.cpu_threads())
    info["seconds"] = time.perf_counter() - started
    return FoldResult(val=np.zeros((0, test.shape[1])), test=test, model=fitted, info=info)
