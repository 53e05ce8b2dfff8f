"""What passes between :func:`.boosters.fit_booster` and a library adapter (``booster_lightgbm``,
``booster_xgboost``, ``booster_catboost``): the :class:`Target` being fitted, one fit's :class:`Job` and its
:class:`Fit`, the :class:`BudgetStop` the libraries' callbacks ask, and the categorical frames they share.

A library adapter is a module with ``fixed_params(target, seed, threads)``, ``canonical(params)``,
``prepare(X, categories, rows=None)`` (the rows at positions ``rows`` as the library takes them, in one copy),
``train(job) -> Fit``, ``predict(model, X, rounds, target, threads)`` and ``is_parameter_error(exc)``; it imports
its library inside those functions.
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
class Matrix:
    """Rows as one float64 matrix (:func:`as_matrix`; or an object LightGBM reads a batch of rows at a time from)
    with the column names, the positions of the categorical columns and the rows' labels in the frame they came
    from: what LightGBM takes without a frame in between."""

    values: Any
    columns: list[str]
    categorical: list[int]
    index: pd.Index

    def __len__(self) -> int:
        return len(self.values)


@dataclass
class RowBatches:
    """The rows at positions ``rows`` of ``X``, handed to a library a batch of :func:`as_categories` frames at a
    time (:meth:`batches`, :meth:`frame`) instead of one copy of them all; ``index`` the rows' labels, as a
    frame's."""

    X: pd.DataFrame
    categories: dict[str, list]
    rows: np.ndarray
    batch_rows: int = 100_000

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def index(self) -> pd.Index:
        return self.X.index[self.rows]

    def batches(self) -> list[np.ndarray]:
        """The batches, as positions among the rows."""
        return pieces(np.arange(len(self.rows)), self.batch_rows)

    def frame(self, batch: np.ndarray) -> pd.DataFrame:
        """One batch's rows as :func:`as_categories` gives them."""
        return as_categories(self.X, self.categories, self.rows[batch])


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


def pieces(rows: np.ndarray, size: int) -> list[np.ndarray]:
    """``rows`` in consecutive pieces of at most ``size``."""
    return [rows[start:start + size] for start in range(0, len(rows), size)]


def _rows_of(X: pd.DataFrame, column: str, rows: np.ndarray | None) -> pd.Series:
    return X[column] if rows is None else X[column].iloc[rows]


def category_values(X: pd.DataFrame, columns: Sequence[str], rows: np.ndarray | None = None) -> dict[str, list]:
    """Per categorical column, its distinct non-missing values in ``X`` (in the positions ``rows``, ``None``: all),
    sorted as text: the categories every frame shares. A ``category`` column's are found from its codes, without a
    Python object per row."""
    out = {}
    for c in columns:
        column = X[c]
        if isinstance(column.dtype, pd.CategoricalDtype):
            codes = column.cat.codes.to_numpy()
            codes = codes if rows is None else codes[rows]
            values = column.cat.categories.take(np.unique(codes[codes >= 0])).to_numpy(dtype=object)
        else:
            values = pd.unique(_rows_of(X, c, rows).dropna().to_numpy(dtype=object))
        out[c] = sorted(values.tolist(), key=lambda v: (str(type(v)), str(v)))
    return out


def floats(values: pd.Series) -> np.ndarray:
    """``values`` as float64 numbers (not a number: ``NaN``); a numeric column's own array, not a copy."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def as_category(values: pd.Series, categories: list) -> pd.Categorical:
    """``values`` as a pandas ``Categorical`` of exactly ``categories`` (a value outside them: missing); a
    ``category`` column by its codes, without a value per row."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        if pd.api.types.is_string_dtype(values.cat.categories.dtype) and all(isinstance(v, str) for v in categories):
            return values.array.set_categories(categories)
        values = values.astype(object)
    known = values.isin(categories)
    return pd.Categorical(values.where(known, None) if not known.all() else values, categories=categories)


def float_codes(values: pd.Series, categories: list, dtype: type = np.float64) -> np.ndarray:
    """The codes of ``values`` among ``categories`` as floats, ``NaN`` for a missing value or one outside them (as
    LightGBM codes a pandas category)."""
    codes = as_category(values, categories).codes.astype(dtype)
    codes[codes < 0] = np.nan
    return codes


def as_categories(X: pd.DataFrame, categories: dict[str, list], rows: np.ndarray | None = None) -> pd.DataFrame:
    """The rows ``rows`` of ``X`` (positions; ``None``: all) with each column of ``categories`` as a pandas
    ``category`` of exactly those values (others missing), every other column as floats: one copy of those rows."""
    out = {}
    for c in X.columns:
        values = _rows_of(X, c, rows)
        if c in categories:
            out[c] = as_category(values, categories[c])
        else:
            out[c] = floats(values)
    return pd.DataFrame(out, index=X.index if rows is None else X.index[rows], copy=False)


def as_matrix(X: pd.DataFrame, categories: dict[str, list], rows: np.ndarray | None = None) -> np.ndarray:
    """The rows ``rows`` of ``X`` as one float64 matrix (column-major, filled a column at a time: no frame in
    between): numbers as they are, each column of ``categories`` as :func:`float_codes`."""
    n = len(X) if rows is None else len(rows)
    out = np.empty((n, X.shape[1]), dtype=np.float64, order="F")
    for j, c in enumerate(X.columns):
        values = _rows_of(X, c, rows)
        out[:, j] = float_codes(values, categories[c]) if c in categories else floats(values)
    return out
