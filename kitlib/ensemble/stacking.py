"""Stacking: a second-level model trained on the inputs' out-of-fold predictions.

:class:`Stacker` follows scikit-learn's contract (``__init__`` stores, ``fit`` learns, learned attributes end in
``_``) with one difference: what it fits and predicts on is the stack of inputs ``(M, n, c)``, not a feature
matrix; it turns the stack into features itself (the positive class's column of each input for a binary target,
every column otherwise; probabilities as logits when asked; standardised on the rows fitted for the linear kinds, so
their L2 penalty weighs every input alike and the solver converges in a few iterations even over many classes) and
predicts ``(n, c)`` in the inputs' columns.
:func:`stack` is the ``stack`` method: fit on the rows it is given (``nested_cv`` gives it the other folds' rows).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ParameterError, check_choice, require
from .methods import Ensemble, Settings, as_stack
from .scoring import Scorer

__all__ = ["KINDS", "TASKS", "Stacker", "stack"]

TASKS = ("classification", "regression")
KINDS = ("logistic", "ridge", "lightgbm")
_EPS = 1e-6  # probabilities are clipped to [eps, 1 - eps] before the logit


class Stacker:
    """A level-2 model over M inputs' predictions.

    ``kind``: ``logistic`` (classification), ``ridge`` (regression) or ``lightgbm`` (either); ``task``:
    ``classification`` (``y`` holds class codes ``0..c-1``; one column ``c == 1`` means the positive class's
    probability) or ``regression`` (``y`` holds ``c`` values per row); ``logits``: feed probabilities as logits
    (only when every fitted prediction lies in [0, 1]); ``alpha``: L2 strength (ridge ``alpha``, logistic ``C = 1 /
    alpha``, LightGBM ``reg_lambda``); ``seed`` and ``threads`` for LightGBM. Raises ``ParameterError`` for an
    unknown kind or task, or a kind that cannot do the task (``fit``: a target with one class, or columns that do
    not match ``y``); ``MissingDependencyError`` when ``lightgbm`` is asked for and not installed.
    """

    def __init__(self, kind: str = "logistic", task: str = "classification", logits: bool = True,
                 alpha: float = 1.0, seed: int = 0, threads: int = 1) -> None:
        self.kind = kind
        self.task = task
        self.logits = logits
        self.alpha = alpha
        self.seed = seed
        self.threads = threads

    def _features(self, p: np.ndarray) -> np.ndarray:
        x = p[:, :, -1:] if self.task == "classification" and p.shape[2] <= 2 else p
        if self.logits_:
            x = np.clip(x, _EPS, 1 - _EPS)
            x = np.log(x) - np.log1p(-x)
        return np.ascontiguousarray(x.transpose(1, 0, 2).reshape(p.shape[1], -1))

    def _model(self) -> Any:
        check_choice("stacker", self.kind, KINDS)
        check_choice("stacking task", self.task, TASKS)
        wanted = {"logistic": "classification", "ridge": "regression"}.get(self.kind, self.task)
        if wanted != self.task:
            raise ParameterError(f"stacker {self.kind!r} does {wanted}, not {self.task}; use "
                                 f"{'ridge' if self.task == 'regression' else 'logistic'} or lightgbm")
        if self.kind == "logistic":
            from sklearn.linear_model import LogisticRegression

            return LogisticRegression(C=1.0 / self.alpha, max_iter=1000)
        if self.kind == "ridge":
            from sklearn.linear_model import Ridge

            return Ridge(alpha=self.alpha)
        lgb = require("lightgbm", "pip install lightgbm")
        cls = lgb.LGBMClassifier if self.task == "classification" else lgb.LGBMRegressor
        return cls(n_estimators=200, learning_rate=0.05, num_leaves=15, reg_lambda=self.alpha,
                   random_state=self.seed, n_jobs=self.threads, deterministic=True, force_row_wise=True, verbose=-1)

    def fit(self, preds: np.ndarray, y: np.ndarray) -> Stacker:
        """Learn from the inputs' predictions ``preds`` ``(M, n, c)`` and the truth ``y`` (``(n,)``; ``(n, c)`` for
        several regression targets). Out: ``self`` with ``model_``, ``n_inputs_``, ``n_columns_``, ``logits_`` and
        ``scaler_`` (the features' standardisation for logistic and ridge, else ``None``)."""
        p = as_stack(preds)
        y = np.asarray(y)
        self.n_inputs_, self.n_columns_ = p.shape[0], p.shape[2]
        self.logits_ = bool(self.logits and self.task == "classification" and p.min() >= 0 and p.max() <= 1)
        self.model_ = self._model()
        self.scaler_ = None
        x = self._features(p)
        if self.kind in ("logistic", "ridge"):
            from sklearn.preprocessing import StandardScaler

            self.scaler_ = StandardScaler().fit(x)
            x = self.scaler_.transform(x)
        if self.task == "regression":
            target = y.reshape(len(y), -1).astype(np.float64)
            if target.shape[1] != self.n_columns_:
                raise ParameterError(f"{target.shape[1]} target column(s) but {self.n_columns_} prediction column(s)")
            if target.shape[1] > 1 and self.kind == "lightgbm":
                raise ParameterError("stacker 'lightgbm' fits one regression target; use 'ridge' for several")
            self.model_.fit(x, target[:, 0] if target.shape[1] == 1 else target)
            return self
        codes = y.reshape(-1).astype(np.int64)
        if len(codes) != p.shape[1] or not np.array_equal(codes, y.reshape(-1)):
            raise ParameterError(f"a classification stacker needs one integer class code per row; got y of shape "
                                 f"{y.shape}, dtype {y.dtype}")
        n_classes = max(self.n_columns_, 2)
        if codes.min() < 0 or codes.max() >= n_classes or len(np.unique(codes)) < 2:
            raise ParameterError(f"class codes must be in 0..{n_classes - 1} with at least two of them present; got "
                                 f"{np.unique(codes).tolist()[:10]}")
        self.model_.fit(x, codes)
        return self

    def predict(self, preds: np.ndarray) -> np.ndarray:
        """Predictions ``(n, c)`` in the inputs' columns for the inputs' predictions ``preds`` ``(M, n, c)``:
        class probabilities (the positive class's alone when ``c == 1``) or values. Raises ``ParameterError`` for
        another number of inputs or columns than fitted."""
        p = as_stack(preds)
        if p.shape[0] != self.n_inputs_ or p.shape[2] != self.n_columns_:
            raise ParameterError(f"the stacker was fitted on {self.n_inputs_} inputs of {self.n_columns_} column(s); "
                                 f"got {p.shape[0]} of {p.shape[2]}")
        x = self._features(p)
        if self.scaler_ is not None:
            x = self.scaler_.transform(x)
        if self.task == "regression":
            return np.asarray(self.model_.predict(x), dtype=np.float64).reshape(len(x), self.n_columns_)
        proba = np.zeros((len(x), max(self.n_columns_, 2)))
        proba[:, np.asarray(self.model_.classes_, dtype=np.int64)] = self.model_.predict_proba(x)
        return proba[:, 1:] if self.n_columns_ == 1 else proba


def stack(preds: np.ndarray, y: np.ndarray, scorer: Scorer, settings: Settings | None = None) -> Ensemble:
    """The ``stack`` method: a :class:`Stacker` fitted on these rows (``settings.stacker``, ``logits``, ``alpha``,
    ``seed``, ``threads``); ``auto`` is logistic regression for classification, ridge for regression, told apart by
    what the scorer's metric takes (``values``: regression). Out: :class:`Ensemble` with ``stacker`` and its
    in-sample ``score``. Raises ``ParameterError`` when ``auto`` or ``lightgbm`` meet a scorer without a metric
    kind (name ``logistic`` or ``ridge``, or give ``Scorer(takes=...)``), and as :class:`Stacker`."""
    settings = settings or Settings()
    kind = settings.stacker
    if scorer.takes is not None:
        task = "regression" if scorer.takes == "values" else "classification"
    elif kind in ("logistic", "ridge"):
        task = "classification" if kind == "logistic" else "regression"
    else:
        raise ParameterError(f"stacker {kind!r} needs to know whether the target is classes or values, and this "
                             "score function names no metric; use stacker 'logistic' or 'ridge', or give the "
                             "Scorer takes='probabilities' or 'values'")
    if kind == "auto":
        kind = "ridge" if task == "regression" else "logistic"
    p = as_stack(preds)
    model = Stacker(kind, task, settings.logits, settings.alpha, settings.seed, settings.threads).fit(p, y)
    return Ensemble("stack", None, scorer(y, model.predict(p)), stacker=model)
