"""Models for tabular problems: a linear baseline and scikit-learn's HistGradientBoosting, as fold functions.

``make_model("linear" | "hgb", problem, params, seed)`` builds one scikit-learn pipeline per target:

- ``linear``: numeric features median-imputed (with missing indicators) and standardised, categorical ones
  one-hot encoded into a sparse matrix (the ``MAX_ONE_HOT`` most frequent values, the rest as one infrequent
  column), then a logistic regression (``C``) or a ridge regression (``alpha`` is ``1 / C``);
- ``hgb``: categorical features ordinal-encoded and handed to HistGradientBoosting as categorical (missing
  and unseen values as missing), numeric ones as they are (it handles missing values itself).

For RMSLE the regressors fit ``log1p`` of the target and predict ``expm1`` of it, clipped at 0. ``threads``
bounds the OpenMP threads of fitting and predicting (``0``: all cores); one thread is the default because
HistGradientBoosting on a few thousand rows gains little from more, and on a busy machine many threads spin.
:func:`model_fold` wraps them for :func:`kitlib.folds.cross_validate`: class probabilities (all of a target's
labels, in ``labels`` order) or values, for the fold's validation rows and the test rows.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...errors import ParameterError
from ...folds import FoldResult
from .problem import Problem

MODELS = ("linear", "hgb")
DEFAULTS = {
    "linear": {"C": 1.0},
    "hgb": {"learning_rate": 0.1, "max_iter": 200, "max_leaf_nodes": 31, "l2_regularization": 0.0,
            "min_samples_leaf": 20},
}
MAX_ONE_HOT = 20  # one-hot columns per categorical feature in the linear model
MAX_CATEGORIES = 255  # HistGradientBoosting's limit (max_bins); rarer values share one code


def _preprocess(kind: str, problem: Problem):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    cat, num = list(problem.categorical), list(problem.numeric)
    if kind == "linear":
        parts = [("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="(missing)"),
                                       OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=MAX_ONE_HOT,
                                                     sparse_output=True)), cat),
                 ("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()), num)]
    else:
        parts = [("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1,
                                        max_categories=MAX_CATEGORIES), cat),
                 ("num", "passthrough", num)]
    # the linear model's one-hot columns stay sparse (a 1,000,000-row set would otherwise be a dense matrix several
    # times its size); HistGradientBoosting takes a dense one
    return ColumnTransformer([p for p in parts if p[2]], sparse_threshold=1.0 if kind == "linear" else 0.0)


def make_model(kind: str, problem: Problem, params: dict | None = None, seed: int = 0):
    """An unfitted pipeline for one target of ``problem`` (see the module docstring).

    ``params`` override :data:`DEFAULTS` of the model. Raises ``ParameterError`` for an unknown model or
    parameter (listing the known ones)."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline

    if kind not in MODELS:
        raise ParameterError(f"Unknown model {kind!r}; expected one of {list(MODELS)}")
    unknown = sorted(set(params or {}) - set(DEFAULTS[kind]))
    if unknown:
        raise ParameterError(f"Unknown {kind} parameter(s) {unknown}; expected some of {sorted(DEFAULTS[kind])}")
    hp = {**DEFAULTS[kind], **(params or {})}
    if kind == "linear":
        model = LogisticRegression(C=hp["C"], max_iter=2000) if problem.classification else Ridge(alpha=1.0 / hp["C"])
    else:
        cats = [True] * len(problem.categorical) + [False] * len(problem.numeric) if problem.categorical else None
        cls = HistGradientBoostingClassifier if problem.classification else HistGradientBoostingRegressor
        model = cls(**hp, categorical_features=cats, random_state=seed)
    if problem.metric == "rmsle":
        model = TransformedTargetRegressor(regressor=model, func=np.log1p, inverse_func=np.expm1, check_inverse=False)
    return make_pipeline(_preprocess(kind, problem), model)


def _threads(threads: int):
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads or None, user_api="openmp")


def fit_models(kind: str, problem: Problem, X: pd.DataFrame, y: np.ndarray, params: dict | None = None,
               seed: int = 0, threads: int = 1) -> list:
    """One fitted :func:`make_model` per target (``y``: ``(n, targets)`` codes or values)."""
    y = np.asarray(y).reshape(len(y), -1)
    with _threads(threads):
        return [make_model(kind, problem, params, seed).fit(X, y[:, j].astype(np.int64) if problem.classification
                                                            else y[:, j]) for j in range(len(problem.targets))]


def predict(models: list, problem: Problem, X: pd.DataFrame, threads: int = 1) -> np.ndarray:
    """Predictions of the per-target ``models`` for ``X``, columns as ``problem.columns``: every label's
    probability (0 for a label a fold never saw) or the value (clipped at 0 for RMSLE)."""
    with _threads(threads):
        return _predict(models, problem, X)


def _predict(models: list, problem: Problem, X: pd.DataFrame) -> np.ndarray:
    parts = []
    for model, (_, _, labels) in zip(models, problem.blocks()):
        if problem.classification:
            probs = np.zeros((len(X), len(labels)))
            probs[:, model.classes_.astype(np.int64)] = model.predict_proba(X)
            parts.append(probs)
        else:
            values = model.predict(X).astype(np.float64)
            parts.append((np.clip(values, 0, None) if problem.metric == "rmsle" else values)[:, None])
    return np.hstack(parts)


def model_fold(kind: str, problem: Problem, X: pd.DataFrame, y: np.ndarray, X_test: pd.DataFrame,
               params: dict | None = None, seed: int = 0, threads: int = 1):
    """A fold function for :func:`kitlib.folds.cross_validate`: fits :func:`fit_models` on the fold's training
    rows and predicts its validation rows and ``X_test``; the fold's model is the list of per-target models."""

    def fit_fold(k: int, tr: np.ndarray, va: np.ndarray) -> FoldResult:
        models = fit_models(kind, problem, X.iloc[tr], y[tr], params, seed, threads)
        return FoldResult(val=predict(models, problem, X.iloc[va], threads),
                          test=predict(models, problem, X_test, threads), model=models)

    return fit_fold


def suggest_hgb(trial) -> dict:
    """An Optuna search space over the gradient-boosting knobs (learning rate, leaves, L2, leaf size)."""
    return {"learning_rate": trial.suggest_float("learning_rate", 0.02, 0.3, log=True),
            "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 8, 128, log=True),
            "l2_regularization": trial.suggest_float("l2_regularization", 1e-6, 10.0, log=True),
            "min_samples_leaf": trial.suggest_int("min_samples_leaf", 5, 100, log=True)}


def permutation_importance(models: list, problem: Problem, X: pd.DataFrame, y: np.ndarray, *, repeats: int = 5,
                           seed: int = 0, threads: int = 1) -> pd.DataFrame:
    """How much the metric worsens when one feature's values are shuffled among the rows of ``X`` (rows the
    ``models`` never saw), ``repeats`` times per feature. Returns ``importance`` (mean loss of score, positive
    when the feature helps, whatever the metric's direction) and ``std`` per feature, most important first."""
    rng = np.random.default_rng(seed)
    sign = 1.0 if problem.mode == "max" else -1.0
    base = problem.score(y, predict(models, problem, X, threads))
    rows = {}
    for column in X.columns:
        losses = []
        for _ in range(repeats):
            shuffled = X.copy()
            shuffled[column] = X[column].to_numpy()[rng.permutation(len(X))]
            losses.append(sign * (base - problem.score(y, predict(models, problem, shuffled, threads))))
        rows[column] = {"importance": float(np.mean(losses)), "std": float(np.std(losses))}
    return pd.DataFrame(rows).T.sort_values("importance", ascending=False)
