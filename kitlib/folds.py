"""Cross-validation folds as a fold column, and the out-of-fold bookkeeping around them.

Every competition uses the same three steps::

    folds = assign_folds(df, n_splits=5, groups="document", stratify="label", seed=0)  # one id per row
    for k in range(5):
        train_idx, val_idx = fold_indices(folds, k)
        train_idx = downsample_negatives(train_idx, is_negative, ratio=0.3, seed=k)  # training side only
        ...
        oof[val_idx] = model.predict(val)
    save_oof(run.dir / "oof.npz", oof, folds)

``assign_folds`` picks the scikit-learn splitter from what it is given: ``KFold`` (neither groups nor
stratify), ``StratifiedKFold`` (stratify), ``GroupKFold`` (groups; rows of one group always share a
fold) or ``StratifiedGroupKFold`` (both); all shuffled from ``seed``. Out-of-fold predictions may be
ragged (one array per row of different lengths, as in token classification); :func:`save_oof` and
:func:`load_oof` keep them in one ``.npz`` file.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError, ParameterError

__all__ = [
    "assign_folds",
    "fold_indices",
    "downsample_negatives",
    "empty_oof",
    "save_oof",
    "load_oof",
    "fold_summary",
]


def _column(data: Any, value: Any, name: str, n: int) -> np.ndarray | None:
    """A per-row array from an array-like or, when ``data`` is a DataFrame, a column name."""
    if value is None:
        return None
    if isinstance(value, str):
        columns = list(getattr(data, "columns", []))
        if value not in columns:
            raise ParameterError(f"Unknown {name} column {value!r}; expected one of {columns}")
        value = data[value]
    arr = np.asarray(value)
    if arr.ndim != 1 or len(arr) != n:
        raise ParameterError(f"{name} must hold one value per row ({n}); got shape {arr.shape}")
    return arr


def assign_folds(
    data: Any,
    n_splits: int = 5,
    groups: Any = None,
    stratify: Any = None,
    seed: int = 0,
) -> np.ndarray:
    """One fold id in ``[0, n_splits)`` per row.

    In: ``data`` is a row count or anything with ``len`` (a DataFrame, an array, a list); ``groups`` and
    ``stratify`` are per-row arrays or, with a DataFrame, column names. Rows sharing a group value always
    share a fold; with ``stratify`` the label shares are kept about equal across folds.
    Out: an ``int64`` array of length ``n`` (the same ids for the same inputs and seed).
    Raises ``ParameterError`` when ``n_splits < 2``, when there are fewer rows or groups than folds, or a
    column name is unknown.
    """
    from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

    n = int(data) if isinstance(data, (int, np.integer)) else len(data)
    if n_splits < 2:
        raise ParameterError(f"n_splits must be at least 2; got {n_splits}")
    g = _column(data, groups, "groups", n)
    y = _column(data, stratify, "stratify", n)
    units = len(np.unique(g)) if g is not None else n
    if units < n_splits:
        what = "groups" if g is not None else "rows"
        raise ParameterError(f"cannot make {n_splits} folds from {units} {what}; use n_splits <= {units}")
    if g is not None and y is not None:
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    elif g is not None:
        splitter = GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    elif y is not None:
        splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    else:
        splitter = KFold(n_splits=n_splits, shuffle=True, random_state=seed)
    folds = np.full(n, -1, dtype=np.int64)
    dummy = np.zeros(n)
    for k, (_, val_idx) in enumerate(splitter.split(dummy, y if y is not None else dummy, g)):
        folds[val_idx] = k
    return folds


def fold_indices(folds: np.ndarray, fold: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train_idx, val_idx)`` for ``fold``: the rows of every other fold, and the rows of this one.

    Rows with a negative fold id (kept out of cross-validation) appear in neither.
    Raises ``ParameterError`` when no row has fold id ``fold``.
    """
    folds = np.asarray(folds)
    val = np.flatnonzero(folds == fold)
    if len(val) == 0:
        raise ParameterError(f"no row is in fold {fold}; the folds are {sorted(set(folds[folds >= 0].tolist()))}")
    train = np.flatnonzero((folds != fold) & (folds >= 0))
    return train, val


def downsample_negatives(indices: np.ndarray, is_negative: np.ndarray, ratio: float, seed: int = 0) -> np.ndarray:
    """Keep every positive row of ``indices`` and a random ``ratio`` share of its negative rows.

    Use it on the training side of a fold only, so validation folds stay whole (and the score is the
    one the test set would see). ``is_negative`` is a boolean per row of the full data (e.g. "sentence
    without any entity"). ``ratio=1`` keeps all; ``ratio=0`` drops all negatives. The kept share is
    rounded to whole rows; the choice depends only on ``seed``.
    Out: the kept indices, in their original order. Raises ``ParameterError`` for a ratio outside [0, 1].
    """
    if not 0.0 <= ratio <= 1.0:
        raise ParameterError(f"negative ratio must be in [0, 1]; got {ratio}")
    indices = np.asarray(indices)
    neg = np.asarray(is_negative, dtype=bool)[indices]
    neg_idx = indices[neg]
    keep = int(round(ratio * len(neg_idx)))
    chosen = np.random.default_rng(seed).choice(neg_idx, size=keep, replace=False) if keep else neg_idx[:0]
    mask = ~neg | np.isin(indices, chosen)
    return indices[mask]


def empty_oof(n: int, shape: Sequence[int] = (), dtype: Any = np.float32) -> np.ndarray:
    """An out-of-fold array of ``n`` rows (each of ``shape``) filled with NaN: unfilled rows stay visible."""
    return np.full((n, *shape), np.nan, dtype=dtype)


def save_oof(path: str | Path, values: np.ndarray | Sequence[np.ndarray], folds: np.ndarray, **extra: Any) -> Path:
    """Write out-of-fold predictions and their fold ids to ``path`` (``.npz``).

    ``values`` is an array with one row per sample, or a list of per-row arrays of different lengths
    (ragged; rows that were not predicted may be ``None``). ``extra`` arrays are stored beside them.
    Out: the path written. Raises ``ParameterError`` when ``values`` and ``folds`` differ in length.
    """
    path = Path(path)
    folds = np.asarray(folds)
    if len(values) != len(folds):
        raise ParameterError(f"{len(values)} out-of-fold rows but {len(folds)} fold ids")
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(values, np.ndarray):
        np.savez_compressed(path, values=values, folds=folds, **extra)
        return path
    rows = list(values)
    template = next((np.asarray(r) for r in rows if r is not None), np.zeros((0,), np.float32))
    filled = np.array([r is not None for r in rows])
    arrays = [np.asarray(r) if r is not None else np.zeros((0, *template.shape[1:]), template.dtype) for r in rows]
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    flat = np.concatenate(arrays) if arrays else template
    np.savez_compressed(path, values=flat, lengths=lengths, filled=filled, folds=folds, **extra)
    return path


def load_oof(path: str | Path) -> tuple[np.ndarray | list[np.ndarray | None], np.ndarray]:
    """Read what :func:`save_oof` wrote: ``(values, folds)``; ragged values come back as a list.

    Raises ``DataError`` naming the file when it is missing or not an out-of-fold file.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such out-of-fold file")
    with np.load(path) as z:
        if "values" not in z or "folds" not in z:
            raise DataError(f"{path}: not an out-of-fold file (expected arrays 'values' and 'folds'; got {z.files})")
        values, folds = z["values"], z["folds"]
        if "lengths" not in z:
            return values, folds
        splits = np.cumsum(z["lengths"])[:-1]
        rows = np.split(values, splits)
        return [r if f else None for r, f in zip(rows, z["filled"])], folds


def fold_summary(folds: np.ndarray, groups: Any = None, y: Any = None):
    """A small table (pandas DataFrame) per fold: rows, distinct groups, and the share of each label."""
    import pandas as pd

    df = pd.DataFrame({"fold": np.asarray(folds)})
    if groups is not None:
        df["group"] = np.asarray(groups)
    if y is not None:
        df["y"] = np.asarray(y)
    out = df.groupby("fold").size().rename("rows").to_frame()
    if groups is not None:
        out["groups"] = df.groupby("fold")["group"].nunique()
    if y is not None:
        shares = pd.crosstab(df["fold"], df["y"], normalize="index")
        out = out.join(shares.add_prefix("share_"))
    return out
