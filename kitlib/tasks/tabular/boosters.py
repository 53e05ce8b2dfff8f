"""LightGBM, XGBoost and CatBoost for one target of a tabular :class:`~kitlib.tasks.tabular.problem.Problem`.

:func:`fit_booster` fits one library on one target's training rows and returns a :class:`FittedBooster` that
predicts class probabilities (every label of the target, in label order) or values:

- **Features as they are.** Categorical columns (the problem's, and any column that is not numeric) become pandas
  ``category`` columns whose categories are fixed from the training rows, so training, validation and test rows
  share codes (a value never seen in training is missing) for LightGBM and XGBoost; CatBoost gets the codes as
  ``cat_features``, a missing value and an unseen one each with a code of its own. Missing numbers stay missing.
- **Memory.** Each fit's rows are copied once, straight from the full frame, as the library takes them (LightGBM
  a float matrix), and let go once the library has its own; predictions are made :data:`PREDICT_ROWS` rows at a
  time.
- **Early stopping** watches an inner split of the training rows (:mod:`.early_stopping`); below
  ``settings.refit_below`` rows the booster is then refit on all of them for the scaled best round count.
- **Reproducible.** Fixed seeds everywhere, threads bounded by ``settings.threads``, LightGBM ``deterministic``
  with ``force_col_wise``: the same inputs and settings give byte-identical predictions on the CPU.
- **Device** from ``settings.device`` (:mod:`.booster_devices`); **time budget**: a callback stops boosting when
  ``settings.budget`` is spent and records it in the budget's ``cut`` (CatBoost on a GPU takes no callbacks: it is
  only kept from starting a fit the budget cannot hold).
- **Targets**: binary and multiclass fit the log loss; regression the squared error (RMSLE: on ``log1p`` of the
  target, predictions ``expm1`` clipped at 0), or the absolute error for the MAE metric.
- **Overrides**: ``settings.params[library]`` lays library parameters over :data:`DEFAULTS` (the library's own
  names; the round cap and patience under :data:`ROUND_KEYS`); a parameter the library refuses is re-raised as
  ``ParameterError`` naming the library.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ...errors import ParameterError
from .booster_devices import device_params
from .booster_jobs import BudgetStop, Fit, Job, Target, categorical_columns, category_values, pieces
from .early_stopping import inner_split, refit_rounds
from .model_settings import BOOSTERS, ModelSettings
from .problem import Problem

# The kit's defaults, chosen on generated and bundled scikit-learn sets of 178 to 20,000 rows against the
# competitor's baseline (LightGBM's defaults); the report of issue 23 has the table. Below each library's own
# defaults: a smaller step with early stopping, row subsampling and column subsampling per split (per tree it
# hides interacting features from most trees when there are few columns), light L2.
DEFAULTS: dict[str, dict[str, Any]] = {
    "lightgbm": {"learning_rate": 0.04, "num_leaves": 31, "min_data_in_leaf": 20, "feature_fraction_bynode": 0.7,
                 "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
                 "num_iterations": 4000, "early_stopping_round": 200},
    "xgboost": {"eta": 0.04, "max_depth": 5, "min_child_weight": 2.0, "subsample": 0.8, "colsample_bynode": 0.7,
                "lambda": 1.0, "max_bin": 256, "max_cat_to_onehot": 4, "tree_method": "hist",
                "num_boost_round": 4000, "early_stopping_rounds": 200},
    "catboost": {"learning_rate": 0.08, "depth": 6, "l2_leaf_reg": 3.0, "border_count": 254,
                 "iterations": 4000, "early_stopping_rounds": 200},
}
# Per loss, laid over DEFAULTS: XGBoost's min_child_weight is a sum of hessians, at most 0.25 per row for the log
# loss (2: at least 8 rows) but 1 per row for the squared or absolute error (10: at least 10 rows).
LOSS_DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {
    ("xgboost", "l2"): {"min_child_weight": 10.0},
    ("xgboost", "l1"): {"min_child_weight": 10.0},
}
ROUND_KEYS = {  # the (round cap, patience) parameter names of each library, read by the kit and not passed on
    "lightgbm": ("num_iterations", "early_stopping_round"),
    "xgboost": ("num_boost_round", "early_stopping_rounds"),
    "catboost": ("iterations", "early_stopping_rounds"),
}


def targets_of(problem: Problem) -> list[Target]:
    """One :class:`Target` per target of ``problem`` (in ``problem.targets`` order)."""
    out = []
    for target, _, labels in problem.blocks():
        if problem.classification:
            out.append(Target("logloss", len(labels), categorical=problem.categorical, name=target))
        else:
            out.append(Target("l1" if problem.metric == "mae" else "l2", log1p=problem.metric == "rmsle",
                              categorical=problem.categorical, name=target))
    return out


@dataclass
class FittedBooster:
    """A fitted booster for one target. ``predict(X)`` gives ``(n, width)`` probabilities or values.

    ``best_iteration``: the round count early stopping chose (``None`` for a fixed-rounds fit); ``rounds``: the
    rounds the kept model uses (the refit's when there was one); ``refit``: whether it was refit on all the rows;
    ``stopped``: whether the budget stopped it; ``seconds``: fitting time; ``n_fit``/``n_train``: rows fitted
    before and after the refit."""

    library: str
    target: Target
    model: Any
    categories: dict[str, list]
    best_iteration: int | None
    rounds: int
    refit: bool = False
    stopped: bool = False
    seconds: float = 0.0
    n_fit: int = 0
    n_train: int = 0
    threads: int = 1

    def predict(self, X: pd.DataFrame, rows: np.ndarray | None = None) -> np.ndarray:
        """``(len(rows), width)`` for the rows of ``X`` at the positions ``rows`` (``None``: every row): every
        class's probability (label order) or the value (``expm1`` clipped at 0 for a ``log1p`` target)."""
        adapter = _adapter(self.library)
        rows = np.arange(len(X)) if rows is None else np.asarray(rows)
        parts = [np.asarray(adapter.predict(self.model, adapter.prepare(X, self.categories, chunk), self.rounds,
                                            self.target, self.threads), dtype=np.float64).reshape(len(chunk), -1)
                 for chunk in chunks(rows)]  # a chunk at a time: a large test set is never copied whole
        out = np.vstack(parts) if parts else np.zeros((0, self.target.width))
        if self.target.n_classes == 2 and out.shape[1] == 1:
            out = np.hstack([1.0 - out, out])
        if self.target.log1p:
            out = np.clip(np.expm1(out), 0.0, None)
        return out


PREDICT_ROWS = 100_000  # rows prepared and predicted at a time


def chunks(rows: np.ndarray) -> list[np.ndarray]:
    """``rows`` in pieces of at most :data:`PREDICT_ROWS`."""
    return pieces(rows, PREDICT_ROWS)


def _adapter(library: str):
    """The adapter module of ``library`` (imported on first use, so the libraries are too)."""
    if library == "lightgbm":
        import kitlib.tasks.tabular.booster_lightgbm as adapter
    elif library == "xgboost":
        import kitlib.tasks.tabular.booster_xgboost as adapter
    elif library == "catboost":
        import kitlib.tasks.tabular.booster_catboost as adapter
    else:
        raise ParameterError(f"Unknown booster {library!r}; expected one of {list(BOOSTERS)}")
    return adapter


def library_params(library: str, target: Target, settings: ModelSettings) -> tuple[dict[str, Any], int, int]:
    """``(params, round cap, patience)``: the kit's :data:`DEFAULTS` for ``library`` (with :data:`LOSS_DEFAULTS`),
    its objective, seed, threads and device, then the user's overrides from ``settings.params[library]``."""
    adapter = _adapter(library)
    merged = {**DEFAULTS[library], **LOSS_DEFAULTS.get((library, target.loss), {}),
              **adapter.fixed_params(target, settings.seed, settings.cpu_threads()),
              **device_params(library, settings.device), **adapter.canonical(settings.params_of(library))}
    cap_key, patience_key = ROUND_KEYS[library]
    try:
        cap, patience = int(merged.pop(cap_key)), int(merged.pop(patience_key))
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{library}: {cap_key} and {patience_key} must be whole numbers ({exc})") from None
    if cap < 1 or patience < 1:
        raise ParameterError(f"{library}: {cap_key} {cap} and {patience_key} {patience} must be at least 1")
    return merged, cap, patience


def _train(library: str, job: Job, overrides: dict[str, Any]) -> Fit:
    adapter = _adapter(library)
    try:
        return adapter.train(job)
    except ParameterError:
        raise
    except Exception as exc:
        if adapter.is_parameter_error(exc):
            raise ParameterError(f"{library} refused its parameters: {str(exc).strip()} (the kit's defaults with "
                                 f"the overrides {overrides})") from exc
        raise


def fit_booster(library: str, target: Target, X: pd.DataFrame, y: np.ndarray, settings: ModelSettings,
                what: str = "", rounds: int | None = None, rows: np.ndarray | None = None) -> FittedBooster:
    """Fit ``library`` on the training rows of one ``target``: the rows of ``X`` at the positions ``rows``
    (``None``: every row) and their ``y`` (class codes or values, one per training row).

    ``rounds`` ``None``: early stopping on an inner split of the rows, then (below ``settings.refit_below`` rows,
    when the budget allows) a refit on all of them for the scaled best round count; a number: exactly that many
    rounds on all the rows (a final refit). ``what`` names the fit in the budget's ``cut`` record. Each fit's rows
    are copied once, as the library takes them, straight from ``X`` (a fold's rows are never copied as a frame
    first), and that copy is let go once the library holds the data.

    Raises ``ParameterError`` for an unknown library, a parameter the library refuses, or a device it cannot use.
    """
    started = time.perf_counter()
    adapter = _adapter(library)
    params, cap, patience = library_params(library, target, settings)
    threads = settings.cpu_threads()
    positions = np.arange(len(X)) if rows is None else np.asarray(rows)
    categories = category_values(X, categorical_columns(X, target.categorical), positions)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    y = np.log1p(y) if target.log1p else y
    stop = BudgetStop(settings.budget, what or f"{library} {target.name}".strip())
    overrides = settings.params_of(library)

    def job(fit_rows, stop_rows, n_rounds) -> Job:  # positions among the training rows
        return Job(target, adapter.prepare(X, categories, positions[fit_rows]), y[fit_rows],
                   None if stop_rows is None else adapter.prepare(X, categories, positions[stop_rows]),
                   None if stop_rows is None else y[stop_rows], params, n_rounds, patience, stop, threads,
                   settings.work_dir)

    everything = np.arange(len(y))
    if rounds is not None:
        fit = _train(library, job(everything, None, int(rounds)), overrides)
        return FittedBooster(library, target, fit.model, categories, None, fit.rounds, True, fit.stopped,
                             time.perf_counter() - started, len(y), len(y), threads)
    classes = y.astype(np.int64) if target.n_classes else None
    fit_rows, stop_rows = inner_split(len(y), classes, settings.inner_fraction, settings.seed)
    first = _train(library, job(fit_rows, stop_rows, cap), overrides)
    kept = FittedBooster(library, target, first.model, categories, first.best_iteration, first.best_iteration,
                         False, first.stopped, 0.0, len(fit_rows), len(y), threads)
    if len(y) < settings.refit_below and not first.stopped:
        n_refit = refit_rounds(first.best_iteration, len(y), len(fit_rows))
        spent = time.perf_counter() - started
        estimate = spent * n_refit / max(first.rounds, 1) * len(y) / len(fit_rows)
        if settings.budget is None or settings.budget.allows(estimate):
            second = _train(library, job(everything, None, n_refit), overrides)
            kept.model, kept.rounds, kept.refit, kept.stopped = second.model, second.rounds, True, second.stopped
        else:
            settings.budget.cut(f"{stop.what} refit", f"needs about {estimate:.0f} s, "
                                                      f"{settings.budget.remaining():.0f} s left")
    kept.seconds = time.perf_counter() - started
    return kept
