"""A multilayer perceptron for tabular rows: the run's ``mlp`` model, a network beside the trees for the ensemble.

:func:`fit_mlp` fits scikit-learn's ``MLPClassifier`` (softmax, log loss) or ``MLPRegressor`` (squared error on
the standardised target; RMSLE: on ``log1p`` of it) on one fold's training rows, per target:

- **Inputs**: the :class:`~.models.Coder` matrix (categories as codes of the training rows' values, in one float
  matrix), then each categorical column one-hot encoded (its ``MAX_ONE_HOT`` most frequent values, the rest as one
  infrequent column, missing as a value of its own), each numeric column median-imputed and mapped through its
  training quantiles onto a normal distribution (heavy tails and skew do not swamp the network), plus a 0/1 column
  per numeric column with missing values.
- **Early stopping** like the boosters': the network watches an inner split of the fold's training rows
  (:func:`~.early_stopping.inner_split`, 10% by default, stratified for classes) and trains an epoch at a time
  (Adam, shuffled mini-batches of ``batch_size`` rows, smaller on a small set so that an epoch takes at least
  :data:`MIN_STEPS` steps) until the watched loss has not improved for ``patience`` epochs, keeping the best
  epoch's weights. The budget is asked after every epoch: a spent budget stops the fit and is recorded in ``cut``.
- **Rows**: at most :data:`MLP_ROWS` of a fold's training rows, drawn from the seed (an epoch over more costs much
  and adds little to the ensemble); predictions are made a chunk of rows at a time.
- **Parameters** (``model_params`` ``mlp.<name> <value>``): :data:`MLP_DEFAULTS`. Threads are bounded by
  ``settings.threads`` (BLAS and OpenMP); the same seed gives the same network.
"""
from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd

from ...errors import ParameterError
from .early_stopping import inner_split
from .model_settings import ModelSettings
from .models import MAX_ONE_HOT, Coded, Coder, capped_rows
from .problem import Problem

__all__ = ["MLP_DEFAULTS", "MLP_ROWS", "Net", "fit_mlp"]

MLP_DEFAULTS: dict[str, Any] = {"width": 256, "depth": 2, "alpha": 1e-4, "learning_rate_init": 1e-3,
                                "batch_size": 256, "max_epochs": 200, "patience": 10}
MLP_ROWS = 100_000  # a fold's training rows the network fits at most (drawn from the seed)
MIN_STEPS = 16  # mini-batches per epoch at least: below 16 x batch_size rows the batches shrink


class Net:
    """The fitted steps after the :class:`~.models.Coder`: ``prep`` (one-hot, quantiles, missing indicators) and
    the network; ``center``/``scale`` undo the regression target's standardisation, ``log1p`` its ``log1p``."""

    def __init__(self, prep, net, center: float = 0.0, scale: float = 1.0, log1p: bool = False):
        self.prep, self.net, self.center, self.scale, self.log1p = prep, net, center, scale, log1p

    @property
    def classes_(self):
        return self.net.classes_

    def predict_proba(self, matrix: np.ndarray) -> np.ndarray:
        return self.net.predict_proba(self.prep.transform(matrix))

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        values = self.net.predict(self.prep.transform(matrix)).reshape(-1) * self.scale + self.center
        return np.expm1(values) if self.log1p else values


def _prep(coder: Coder, n_rows: int, seed: int):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import MissingIndicator, SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, QuantileTransformer

    cat = list(range(coder.n_categorical))
    num = list(range(coder.n_categorical, len(coder.columns_)))
    quantiles = QuantileTransformer(n_quantiles=max(2, min(1000, n_rows)), output_distribution="normal",
                                    subsample=100_000, random_state=seed)
    parts = [("cat", OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=MAX_ONE_HOT,
                                   sparse_output=False), cat),
             ("num", make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), quantiles), num),
             ("missing", MissingIndicator(features="missing-only", error_on_new=False), num)]
    return ColumnTransformer([p for p in parts if p[2]], sparse_threshold=0.0)


def _settings(settings: ModelSettings) -> dict[str, Any]:
    params = {**MLP_DEFAULTS, **settings.params_of("mlp")}
    unknown = sorted(set(params) - set(MLP_DEFAULTS))
    if unknown:
        raise ParameterError(f"Unknown mlp parameter(s) {unknown}; expected some of {sorted(MLP_DEFAULTS)}")
    for key in ("width", "depth", "batch_size", "max_epochs", "patience"):
        if int(params[key]) < 1:
            raise ParameterError(f"mlp.{key} {params[key]!r}: expected a whole number of at least 1")
    return params


def _loss(net, X: np.ndarray, y: np.ndarray, classification: bool) -> float:
    if classification:
        probs = np.clip(net.predict_proba(X), 1e-15, 1.0)
        return float(-np.mean(np.log(probs[np.arange(len(y)), y])))
    return float(np.mean((net.predict(X).reshape(-1) - y) ** 2))


def _train_one(problem: Problem, matrix: np.ndarray, coder: Coder, target: np.ndarray, n_labels: int,
               params: dict[str, Any], settings: ModelSettings, what: str) -> tuple[Net, dict[str, Any]]:
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    classification = problem.classification
    classes = target.astype(np.int64) if classification else None
    fit_rows, stop_rows = inner_split(len(target), classes, settings.inner_fraction, settings.seed)
    prep = _prep(coder, len(fit_rows), settings.seed).fit(matrix[fit_rows])
    A, B = prep.transform(matrix[fit_rows]), prep.transform(matrix[stop_rows])
    center, scale, log1p = 0.0, 1.0, False
    batch = max(1, min(int(params["batch_size"]), len(fit_rows) // MIN_STEPS))  # a small set: smaller batches
    if classification:
        y = classes
    else:
        log1p = problem.metric == "rmsle"
        y = np.log1p(target) if log1p else np.asarray(target, dtype=np.float64)
        center, scale = float(np.mean(y[fit_rows])), float(np.std(y[fit_rows])) or 1.0
        y = (y - center) / scale
    net = (MLPClassifier if classification else MLPRegressor)(
        hidden_layer_sizes=(int(params["width"]),) * int(params["depth"]), alpha=float(params["alpha"]),
        learning_rate_init=float(params["learning_rate_init"]), batch_size=batch, random_state=settings.seed)
    best, best_epoch, stopped, epoch = np.inf, 0, False, 0
    kept = None
    for epoch in range(1, int(params["max_epochs"]) + 1):
        if classification:
            net.partial_fit(A, y[fit_rows], classes=np.arange(n_labels))
        else:
            net.partial_fit(A, y[fit_rows])
        loss = _loss(net, B, y[stop_rows], classification)
        if loss < best:
            best, best_epoch, kept = loss, epoch, (copy.deepcopy(net.coefs_), copy.deepcopy(net.intercepts_))
        elif epoch - best_epoch >= int(params["patience"]):
            break
        if settings.budget is not None and settings.budget.exhausted:
            settings.budget.cut(what, f"time budget spent after {epoch} epochs")
            stopped = True
            break
    if kept is not None:
        net.coefs_, net.intercepts_ = kept
    return Net(prep, net, center, scale, log1p), {"best_iteration": best_epoch, "rounds": epoch,
                                                  "n_fit": len(fit_rows), "stopped": stopped}


def fit_mlp(problem: Problem, X: pd.DataFrame, y: np.ndarray, settings: ModelSettings, what: str = "mlp",
            rows: np.ndarray | None = None) -> tuple[list[Coded], dict[str, Any]]:
    """One fitted network per target (each a :class:`~.models.Coded`) on the rows ``rows`` of ``X`` (positions;
    ``None``: all) and their ``y`` (``(len(rows), targets)`` codes or values), and the fold's info
    (``best_iteration`` and ``rounds`` in epochs, ``n_fit``, ``refit``, ``stopped``, per target). Raises
    ``ParameterError`` for an unknown or out-of-range parameter."""
    from threadpoolctl import threadpool_limits

    params = _settings(settings)
    rows, y = capped_rows(len(X) if rows is None else rows, np.asarray(y).reshape(len(y), -1), MLP_ROWS,
                          settings.seed)
    coder = Coder(problem.categorical).fit(X, rows)
    matrix = coder.transform(X, rows)
    fitted, infos = [], []
    with threadpool_limits(limits=settings.cpu_threads()):
        for j, (target, _, labels) in enumerate(problem.blocks()):
            name = f"{what} {target}" if len(problem.targets) > 1 else what
            net, info = _train_one(problem, matrix, coder, y[:, j], len(labels or ()), params, settings, name)
            fitted.append(Coded(coder, net))
            infos.append(info)
    return fitted, {"best_iteration": [i["best_iteration"] for i in infos], "rounds": [i["rounds"] for i in infos],
                    "n_fit": [i["n_fit"] for i in infos], "refit": [False] * len(infos),
                    "stopped": any(i["stopped"] for i in infos)}
