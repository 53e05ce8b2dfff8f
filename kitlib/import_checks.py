"""The checks of ``kit import`` (:mod:`kitlib.imports`), each refusing with the file, the row and what differs, and
its flags for predictions that are implausibly good.

Rows are numbered as the file's data rows (from 1, the header not counted); a key is shown as ``(file='train.csv',
row=7)``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import predictions
from .competitions import Competition
from .competitions.rows import RowTables
from .errors import DataError

__all__ = ["check_columns", "check_keys", "check_values", "flags", "label_copy"]

ROW = "__row"  # the file's row number, carried through the reordering for the messages
SUM_TOLERANCE = 1e-3
IMPLAUSIBLE_SPREADS = 3.0  # an import beating every kit run by more than this many fold standard deviations


def _shown(value: object) -> str:
    """``repr`` of a cell, NumPy scalars as the Python values they hold."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _key(frame: pd.DataFrame, keys: list[str], i: int) -> str:
    return "(" + ", ".join(f"{k}={_shown(frame[k].iat[i])}" for k in keys) + ")"


def _as_keys(raw: pd.DataFrame, file: Path, like: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``raw``'s key columns in the dtypes of ``like``'s (whole numbers, or text), with the file's row numbers."""
    missing = [k for k in keys if k not in raw.columns]
    if missing:
        raise DataError(f"{file}: no key column(s) {missing}; the competition keys its rows by {keys} (the file has "
                        f"{list(raw.columns)[:12]})")
    out = pd.DataFrame({ROW: np.arange(1, len(raw) + 1)})
    for k in keys:
        if pd.api.types.is_integer_dtype(like[k].dtype):
            values = pd.to_numeric(raw[k], errors="coerce")
            bad = ~np.isfinite(values.to_numpy(dtype=np.float64, na_value=np.nan)) | (values % 1 != 0).to_numpy()
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise DataError(f"{file} row {row + 1}: column {k!r} is {_shown(raw[k].iat[row])}; expected a whole "
                                "number")
            out[k] = values.to_numpy().astype(np.int64)
        else:
            out[k] = raw[k].astype(str).to_numpy()
    return out


def check_keys(raw: pd.DataFrame, file: Path, expected: pd.DataFrame, known: pd.DataFrame, keys: list[str],
               what: str) -> pd.DataFrame:
    """``raw`` (its key columns in ``expected``'s dtypes, every other column as read, and the file's row numbers)
    in the order of ``expected``'s rows. Raises ``DataError`` naming ``file``, the row and the key for a row given
    twice, a key outside ``expected`` (``known`` tells a labelled row outside the validated folds from no labelled
    row at all) and the first of the ``expected`` rows the file lacks."""
    found = _as_keys(raw, file, expected, keys)
    twice = found.duplicated(keys, keep="first").to_numpy()
    if twice.any():
        row = int(np.flatnonzero(twice)[0])
        raise DataError(f"{file} row {row + 1}: key {_key(found, keys, row)} appears twice; one row per {what} row")
    index = pd.MultiIndex.from_frame(expected[keys])
    inside = pd.MultiIndex.from_frame(found[keys]).isin(index)
    if not inside.all():
        row = int(np.flatnonzero(~inside)[0])
        labelled = pd.MultiIndex.from_frame(found[keys].iloc[[row]]).isin(pd.MultiIndex.from_frame(known[keys]))[0]
        why = ("a labelled row outside the validated folds (it only trains, or the folds-from run did not validate "
               "it)" if labelled and what != "test" else f"not a {'test' if what == 'test' else 'labelled'} row of "
               "the competition")
        raise DataError(f"{file} row {row + 1}: key {_key(found, keys, row)} is {why}")
    have = index.isin(pd.MultiIndex.from_frame(found[keys]))
    if not have.all():
        first = int(np.flatnonzero(~have)[0])
        rows = "test rows" if what == "test" else "rows the folds validate"
        raise DataError(f"{file}: {int((~have).sum())} of the {len(expected)} {rows} have no prediction; the first "
                        f"is {_key(expected, keys, first)}")
    rest = raw.drop(columns=keys).reset_index(drop=True)
    merged = expected[keys].reset_index(drop=True).merge(pd.concat([found, rest], axis=1), on=keys, how="left")
    return merged


def check_columns(frame: pd.DataFrame, file: Path, tables: RowTables, fold: pd.Series | None = None,
                  target: pd.DataFrame | None = None, fold_source: str = "",
                  fold_required: bool = False) -> pd.DataFrame:
    """``frame`` with the competition's prediction columns (a two-class group given by its last column alone gets
    the first as ``1 - p``). With ``fold``: the file's ``fold`` column must equal it (``fold_source`` says where
    those folds come from; the column is required with ``fold_required``); with ``target``: a target column the
    file holds must equal the data's. Raises ``DataError`` naming the file, row and column."""
    out = frame.copy()
    if fold is not None and "fold" in frame.columns:
        given = pd.to_numeric(frame["fold"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        differ = given != fold.to_numpy(dtype=np.float64)
        if differ.any():
            i = int(np.flatnonzero(differ)[0])
            raise DataError(f"{file} row {frame[ROW].iat[i]}: fold {_shown(frame['fold'].iat[i])}, but "
                            f"{fold_source or 'the folds'} put this row in fold {int(fold.iat[i])}")
    elif fold is not None and fold_required:
        raise DataError(f"{file}: no 'fold' column; give each row's fold as {fold_source} assigns it (kit folds writes "
                        f"them), or take a run's folds with --folds-from RUN")
    for col in target.columns if target is not None else ():
        if col not in frame.columns:
            continue
        truth = target[col].reset_index(drop=True)
        if pd.api.types.is_numeric_dtype(truth.dtype):
            given = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            differ = ~np.isclose(given, truth.to_numpy(dtype=np.float64))
        else:
            differ = frame[col].astype(str).to_numpy() != truth.astype(str).to_numpy()
        if differ.any():
            i = int(np.flatnonzero(differ)[0])
            raise DataError(f"{file} row {frame[ROW].iat[i]}: column {col!r} is {_shown(frame[col].iat[i])}, but "
                            f"the data says {_shown(truth.iat[i])}")
    given = predictions.prediction_columns(frame)
    unknown = [c for c in given if c not in tables.columns]
    if unknown:
        raise DataError(f"{file}: unknown prediction column(s) {unknown}; the competition's are {list(tables.columns)}")
    for group in tables.groups:
        if len(group) == 2 and group[1] in given and group[0] not in given:
            out[group[0]] = 1.0 - pd.to_numeric(frame[group[1]], errors="coerce")
    missing = [c for c in tables.columns if c not in out.columns]
    if missing:
        raise DataError(f"{file}: missing prediction column(s) {missing}; the competition's are {list(tables.columns)}"
                        + (" (a binary target may give its positive class's column alone)" if tables.groups else ""))
    return out


def check_values(frame: pd.DataFrame, file: Path, tables: RowTables) -> None:
    """Raise ``DataError`` naming the file, row and column for a prediction that is not a finite number, a
    probability outside [0, 1], or a row of class probabilities that does not sum to 1 (+- 1e-3)."""
    probability = {c for group in tables.groups for c in group}
    for col in tables.columns:
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(values)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"{file} row {frame[ROW].iat[i]}: column {col!r} is {_shown(frame[col].iat[i])}; expected "
                            f"a finite number ({int(bad.sum())} such row(s))")
        outside = (values < 0) | (values > 1) if col in probability else np.zeros(len(values), bool)
        if outside.any():
            i = int(np.flatnonzero(outside)[0])
            raise DataError(f"{file} row {frame[ROW].iat[i]}: column {col!r} is {_shown(values[i])}; a class "
                            "probability lies in [0, 1]")
    for group in tables.groups:
        sums = frame[list(group)].apply(pd.to_numeric).to_numpy(dtype=np.float64).sum(axis=1)
        off = np.abs(sums - 1.0) > SUM_TOLERANCE
        if off.any():
            i = int(np.flatnonzero(off)[0])
            raise DataError(f"{file} row {frame[ROW].iat[i]}: {' + '.join(group)} = {sums[i]:.6g}; class "
                            f"probabilities sum to 1 (+- {SUM_TOLERANCE})")


def label_copy(oof: pd.DataFrame, tables: RowTables, target: str) -> bool:
    """Whether the out-of-fold predictions equal the labels: 1 on each row's true class (or option) and 0 elsewhere,
    or the target's values themselves."""
    columns = list(tables.columns)
    values = oof[columns].to_numpy(dtype=np.float64)
    if columns == [f"pred_{target}"]:
        truth = pd.to_numeric(oof[target], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        return bool(np.allclose(values[:, 0], truth, rtol=0, atol=1e-9))
    if any(c.startswith("pred_") for c in columns):
        return False
    prefix = columns[0].split("_", 1)[0] + "_"
    onehot = (np.array([f"{prefix}{v}" for v in oof[target].astype(str)])[:, None] == np.array(columns)[None, :])
    return bool(onehot.any(axis=1).all() and np.allclose(values, onehot, rtol=0, atol=1e-9))


def flags(comp: Competition, cv: dict, data: list[str], copied: bool) -> list[str]:
    """Why an import's out-of-fold predictions look too good to be honest (``[]`` when they do not): they equal the
    labels, or their CV mean beats every finished kit run of ``comp`` on the same ``data`` (sorted sha256 of its
    files) by more than 3 fold standard deviations (the larger of the two runs' spreads; not judged with one fold,
    whose spread is 0)."""
    from .runs_table import list_runs

    out = []
    caveat = "accepted, but nested CV cannot see leakage inside an input: check how these predictions were made"
    if copied:
        out.append(f"the out-of-fold predictions equal the labels (each row's true class at 1, every other at 0); "
                   f"{caveat}")
    sign = 1.0 if comp.mode == "max" else -1.0
    best = None
    for row in list_runs(comp):
        if row.get("kind") in ("blend", "import") or not isinstance(row.get("cv"), dict):
            continue
        shas = sorted(d.get("sha256", "") for d in row.get("data") or [] if isinstance(d, dict))
        if shas != data or not isinstance(row["cv"].get("mean"), float):
            continue
        if best is None or sign * row["cv"]["mean"] > sign * best["cv"]["mean"]:
            best = row
    if best is not None:
        spread = max(float(best["cv"].get("std") or 0.0), float(cv["std"]))
        margin = sign * (cv["mean"] - best["cv"]["mean"])
        if spread > 0 and margin > IMPLAUSIBLE_SPREADS * spread:
            out.append(f"CV {cv['mean']:.4f} beats the best kit run {best['run_id']} ({best['cv']['mean']:.4f} +- "
                       f"{best['cv'].get('std') or 0.0:.4f}) by {margin / spread:.1f} fold standard deviations; "
                       f"{caveat}")
    return out
