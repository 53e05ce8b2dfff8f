"""What passes between :func:`.boosters.fit_booster` and a library adapter (``booster_lightgbm``,
``booster_xgboost``, ``booster_catboost``): the :class:`Target` being fitted, one fit's :class:`Job` and its
:class:`Fit`, the :class:`BudgetStop` the libraries' callbacks ask, and the categorical frames they share.

A library adapter is a module with ``fixed_params(target, seed, threads)``, ``canonical(params)``,
``prepare(X, categories)``, ``train(job) -> Fit``, ``predict(model, X, rounds, target, threads)`` and
``is_parameter_error(exc)``; it imports its library inside those functions.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Target:
    """What one booster fits: ``loss`` (``"logloss"``, ``"l2"`` or ``"l1"``), ``n_classes`` (0 for a value),
    ``log1p`` (fit ``log1p`` of the value, predict ``expm1`` clipped at 0), ``categorical`` (the columns to treat
    as categories besides the non-numeric ones), ``name`` (for messages)."""

    loss: str
    n_classes: int = 0
    log1p: bool = False
    categorical: tuple[str, ...] = ()
    name: str = ""

    @property
    def width(self) -> int:
        """Prediction columns: one per class, or one value."""
        return self.n_classes or 1


@dataclass
class Fit:
    """What a library adapter's ``train`` returns: the native ``model``, ``best_iteration`` (rounds up to the best
    watched loss; all rounds without watched rows), ``rounds`` done, and whether the budget ``stopped`` it."""

    model: Any
    best_iteration: int
    rounds: int
    stopped: bool = False


@dataclass
class Job:
    """One fit for a library adapter: prepared frames, labels (``y_stop`` ``None``: no early stopping), the
    library's parameters, the round cap and patience, the :class:`BudgetStop`, the threads and a working folder."""

    target: Target
    X_fit: Any
    y_fit: np.ndarray
    X_stop: Any
    y_stop: np.ndarray | None
    params: dict[str, Any]
    rounds: int
    patience: int
    stop: BudgetStop
    threads: int
    work_dir: Any = None


@dataclass
class BudgetStop:
    """Asked after every boosting round whether to go on: stops (once, recording ``what`` in the budget's ``cut``)
    when the budget is spent. ``budget`` ``None``: never stops."""

    budget: Any
    what: str
    stopped_at: int | None = None

    def should_stop(self, rounds_done: int) -> bool:
        """True once the budget is spent after ``rounds_done`` rounds."""
        if self.stopped_at is not None:
            return True
        if self.budget is None or not self.budget.exhausted:
            return False
        self.stopped_at = rounds_done
        self.budget.cut(self.what, f"time budget spent after {rounds_done} boosting rounds")
        return True


def categorical_columns(X: pd.DataFrame, named: Sequence[str] = ()) -> list[str]:
    """The columns of ``X`` to treat as categories: those ``named``, and every column that is not numeric (text,
    ``category``, boolean)."""
    return [c for c in X.columns if c in set(named) or not pd.api.types.is_numeric_dtype(X[c])
            or pd.api.types.is_bool_dtype(X[c])]


def category_values(X: pd.DataFrame, columns: Sequence[str]) -> dict[str, list]:
    """Per categorical column, its distinct non-missing values in ``X`` (sorted as text): the categories every
    frame shares."""
    out = {}
    for c in columns:
        values = pd.unique(X[c].dropna().to_numpy(dtype=object))
        out[c] = sorted(values.tolist(), key=lambda v: (str(type(v)), str(v)))
    return out


def as_categories(X: pd.DataFrame, categories: dict[str, list]) -> pd.DataFrame:
    """``X`` with each column of ``categories`` as a pandas ``category`` of exactly those values (others missing),
    every other column as floats."""
    out = {}
    for c in X.columns:
        if c in categories:
            values = X[c].astype(object) if isinstance(X[c].dtype, pd.CategoricalDtype) else X[c]
            known = values.isin(categories[c])
            out[c] = pd.Categorical(values.where(known, None) if not known.all() else values,
                                    categories=categories[c])
        else:
            out[c] = pd.to_numeric(X[c], errors="coerce").astype(np.float64)
    return pd.DataFrame(out, index=X.index)
