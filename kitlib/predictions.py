"""Out-of-fold and test predictions as tables: the files of a run folder that a blend reads.

A run folder holds (see :mod:`kitlib.run`)::

    oof.parquet               one row per labelled row used for validation: key columns, fold, the target,
                              prediction columns (a long table for token labels: sentence, token, ...)
    test_predictions.parquet  one row per test row: key columns, prediction columns

Prediction columns are what a blend combines: ``p_<label>`` class probabilities, ``score_<option>``
per-option scores (multiple choice), ``pred_<name>`` values (regression, a clock's dial position).
Only pandas and numpy are imported.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError, ParameterError

OOF_FILE = "oof.parquet"
TEST_FILE = "test_predictions.parquet"
PREFIXES = ("p_", "score_", "pred_")


def columns(prefix: str, names: Sequence[Any]) -> list[str]:
    """``columns("p_", ["neg", "pos"]) -> ["p_neg", "p_pos"]``; the prefix must be one of :data:`PREFIXES`."""
    if prefix not in PREFIXES:
        raise ParameterError(f"Unknown prediction prefix {prefix!r}; expected one of {list(PREFIXES)}")
    return [f"{prefix}{n}" for n in names]


def prediction_columns(frame: pd.DataFrame) -> list[str]:
    """The prediction columns of ``frame`` (those starting with ``p_``, ``score_`` or ``pred_``), in order."""
    return [c for c in frame.columns if str(c).startswith(PREFIXES)]


def by_position_id(test: pd.DataFrame, what: str) -> pd.DataFrame:
    """``test`` sorted by its ``id`` column, which must be 0..n-1 (one row per test item, ``what`` names the
    item in the message); raises ``DataError`` naming the first sorted row whose id is out of place."""
    ordered = test.sort_values("id", kind="stable")
    ids = ordered["id"].to_numpy()
    if not np.array_equal(ids, np.arange(len(ids))):
        first = int(np.flatnonzero(ids != np.arange(len(ids)))[0])
        raise DataError(f"test predictions: ids must be 0..{len(ids) - 1}, one per test {what}; "
                        f"sorted row {first + 1} has id {ids[first]}")
    return ordered


def frame(keys: Mapping[str, Any] | pd.DataFrame, values: np.ndarray, names: Sequence[str], *,
          fold: Any = None, target: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """A predictions table: the ``keys`` columns, ``fold`` (when given), the ``target`` columns (when
    given), then ``values`` (``(n, len(names))``, or ``(n,)`` for one name) under ``names``.

    Raises ``ParameterError`` when the lengths do not agree or a name has no known prefix.
    """
    out = pd.DataFrame(keys).reset_index(drop=True).copy()
    values = np.asarray(values, dtype=np.float64)
    values = values.reshape(len(values), -1)
    if values.shape != (len(out), len(names)):
        raise ParameterError(f"predictions of shape {values.shape} for {len(out)} rows and columns {list(names)}")
    bad = [n for n in names if not str(n).startswith(PREFIXES)]
    if bad:
        raise ParameterError(f"prediction columns {bad} must start with one of {list(PREFIXES)}")
    if fold is not None:
        out["fold"] = np.asarray(fold, dtype=np.int64)
    for name, value in (target or {}).items():
        out[name] = np.asarray(value)
    for j, name in enumerate(names):
        out[name] = values[:, j]
    return out


def write(run_dir: str | Path, oof: pd.DataFrame | None, test: pd.DataFrame | None) -> dict[str, Path]:
    """Write ``oof.parquet`` and ``test_predictions.parquet`` into ``run_dir`` (atomically); return their paths.

    Raises ``ParameterError`` when ``oof`` has no ``fold`` column or a table has no prediction columns.
    """
    written = {}
    for name, table in ((OOF_FILE, oof), (TEST_FILE, test)):
        if table is None:
            continue
        if not prediction_columns(table):
            raise ParameterError(f"{name}: no prediction columns (names starting with {list(PREFIXES)}) in "
                                 f"{list(table.columns)}")
        if name == OOF_FILE and "fold" not in table.columns:
            raise ParameterError(f"{name}: needs a 'fold' column; it has {list(table.columns)}")
        path = Path(run_dir) / name
        tmp = path.with_name(f".{name}.tmp")
        table.to_parquet(tmp, index=False)
        tmp.replace(path)
        written[name] = path
    return written


def read(run_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """``(oof, test)`` of a run folder; ``test`` is ``None`` when the run wrote none.

    Raises ``DataError`` naming the folder when it holds no ``oof.parquet`` (or it cannot be read).
    """
    folder = Path(run_dir)
    path = folder / OOF_FILE
    if not path.is_file():
        raise DataError(f"{folder}: no {OOF_FILE}; the run kept no out-of-fold predictions")
    try:
        oof = pd.read_parquet(path)
        test = pd.read_parquet(folder / TEST_FILE) if (folder / TEST_FILE).is_file() else None
    except (OSError, ValueError) as exc:
        raise DataError(f"{folder}: cannot read its prediction files ({exc})") from None
    return oof, test
