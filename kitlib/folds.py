"""Cross-validation folds as a fold column, and the out-of-fold bookkeeping around them.

Every competition uses the same steps::

    folds = assign_folds(df, n_splits=5, groups="document", stratify="label", seed=fold_seed)  # one id per row

    def fit_fold(k, train_idx, val_idx):
        train_idx = downsample_negatives(train_idx, is_negative, ratio=0.3, seed=k)  # training side only
        model = ...fit on train_idx...
        return FoldResult(val=model.predict(val_rows), test=model.predict(test_rows), model=model)

    cv = cross_validate(fit_fold, folds, score=lambda idx, pred: metric(y[idx], pred))
    cv.oof, cv.test, cv.fold_scores, cv.score, cv.mean, cv.std, cv.models

``assign_folds`` picks the scikit-learn splitter from what it is given: ``KFold`` (neither groups nor
stratify), ``StratifiedKFold`` (stratify), ``GroupKFold`` (groups; rows of one group always share a
fold) or ``StratifiedGroupKFold`` (both); all shuffled from ``seed``. One validation split is a
:class:`Holdout` (:func:`holdout`): its rows in draw order, its fold column and its ``cv`` record.
Out-of-fold predictions may be ragged (one array per row of different lengths, as in token classification);
:func:`save_oof` and :func:`load_oof` keep them in one ``.npz`` file.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
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
    "Holdout",
    "holdout",
    "FoldResult",
    "CVResult",
    "cross_validate",
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


def save_oof(path: str | Path, values: np.ndarray | Sequence[np.ndarray], folds: np.ndarray,
             extra: Mapping[str, Any] | None = None) -> Path:
    """Write out-of-fold predictions and their fold ids to ``path`` (``.npz``).

    ``values`` is an array with one row per sample, or a list of per-row arrays of different lengths
    (ragged; rows that were not predicted may be ``None``). ``extra`` (name -> array) is stored beside them.
    Out: the path written. Raises ``ParameterError`` when ``values`` and ``folds`` differ in length.
    """
    path, folds, extra = Path(path), np.asarray(folds), dict(extra or {})
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


@dataclass(frozen=True, eq=False)
class Holdout:
    """One validation split: ``train`` and ``val`` row indices, in the order they were drawn.

    The order matters to a model that reads its rows in order (a training loop shuffling from a seed),
    so it is kept; :attr:`folds` gives the same split as a fold column.
    """

    train: np.ndarray
    val: np.ndarray

    @property
    def folds(self) -> np.ndarray:
        """A fold id per row: 0 for the held-out rows (the one fold validated), 1 for the rows that only train
        (``cross_validate(fit_fold, holdout.folds, only=[0])``)."""
        folds = np.ones(len(self.train) + len(self.val), dtype=np.int64)
        folds[self.val] = 0
        return folds

    @classmethod
    def from_folds(cls, folds: Any) -> Holdout:
        """The hold-out of a fold column (``Competition.folds`` of a hold-out competition): the rows of fold 0
        validate, every other row (fold -1) only trains; both in row order. Raises ``ParameterError`` when no row
        is in fold 0 or none is outside it."""
        fold = np.asarray(folds)
        val, train = np.flatnonzero(fold == 0), np.flatnonzero(fold != 0)
        if not len(val) or not len(train):
            raise ParameterError(f"a hold-out needs rows in fold 0 and rows outside it; got {len(val)} and "
                                 f"{len(train)}")
        return cls(train=train, val=val)

    def summary(self, metric: str, score: float) -> dict:
        """``{metric, mean, std, folds, n_rows}``: the manifest's ``cv`` record of one split scored ``score``
        (one fold, so ``std`` 0)."""
        return {"metric": metric, "mean": score, "std": 0.0, "folds": [score], "n_rows": int(len(self.val))}


def holdout(data: Any, fraction: float, seed: int = 0, stratify: Any = None) -> Holdout:
    """Hold out a ``fraction`` of the rows for validation.

    In: ``data`` is a row count or anything with ``len``; ``stratify`` a per-row array (or, with a
    DataFrame, a column name) whose label shares the split keeps. Stratified, the rows come from
    scikit-learn's ``train_test_split`` (``ceil(fraction * n)`` held out); otherwise from one permutation of
    ``numpy.random.default_rng(seed)``, whose first ``max(1, round(fraction * n))`` rows are held out.
    Out: :class:`Holdout` (the same rows and order for the same inputs and seed). Raises
    ``ParameterError`` when ``fraction`` is not in (0, 1) or leaves no training row.
    """
    n = int(data) if isinstance(data, (int, np.integer)) else len(data)
    if not 0.0 < fraction < 1.0:
        raise ParameterError(f"the held-out fraction must be in (0, 1); got {fraction}")
    y = _column(data, stratify, "stratify", n)
    if y is not None:
        from sklearn.model_selection import train_test_split

        train, val = train_test_split(np.arange(n), test_size=fraction, random_state=seed, stratify=y)
        return Holdout(train=train, val=val)
    n_val = max(1, int(round(fraction * n)))
    if n_val >= n:
        raise ParameterError(f"holding out {n_val} of {n} rows leaves none to train on; lower the fraction")
    order = np.random.default_rng(seed).permutation(n)
    return Holdout(train=order[n_val:], val=order[:n_val])


# ------------------------------------------------------------------------------- cross-validation
@dataclass
class FoldResult:
    """What a fold function returns to :func:`cross_validate`.

    ``val``: predictions for the fold's validation rows, in ``val_idx`` order (an array with one row per
    validation row, or a list of per-row arrays of different lengths); ``test``: predictions for the test
    rows (averaged over the folds); ``model``: the fold's model, kept in :attr:`CVResult.models`;
    ``info``: anything else to keep per fold (history, best epoch, timings).
    """

    val: Any
    test: Any = None
    model: Any = None
    info: dict = field(default_factory=dict)


@dataclass
class CVResult:
    """Out-of-fold predictions and scores (nyaggle's named container).

    ``oof``: one prediction per row of the data (NaN rows, or ``None`` entries for ragged predictions,
    where the row's fold was not run); ``test``: the fold models' test predictions averaged (``None``
    when the folds gave none); ``fold_scores``: the score of each fold that ran, in ``fold_ids`` order;
    ``score``: the score of the pooled out-of-fold rows (``rows``); ``models`` and ``infos`` per fold;
    ``folds``: the fold id of every row.
    """

    oof: Any
    test: Any
    fold_scores: list[float]
    score: float | None
    models: list
    infos: list[dict]
    folds: np.ndarray
    fold_ids: list[int]
    rows: np.ndarray

    @property
    def mean(self) -> float:
        """Mean of the per-fold scores (NaN when nothing was scored)."""
        return float(np.mean(self.fold_scores)) if self.fold_scores else float("nan")

    @property
    def std(self) -> float:
        """Standard deviation of the per-fold scores (0 for a single fold)."""
        return float(np.std(self.fold_scores)) if self.fold_scores else float("nan")

    def summary(self, metric: str) -> dict:
        """``{metric, mean, std, folds, n_rows, score}``: the manifest's ``cv`` record."""
        return {"metric": metric, "mean": self.mean, "std": self.std, "folds": [float(s) for s in self.fold_scores],
                "n_rows": int(len(self.rows)), "score": None if self.score is None else float(self.score)}


def _take(values: Any, idx: np.ndarray) -> Any:
    return values[idx] if isinstance(values, np.ndarray) else [values[i] for i in idx]


def _add(total: Any, part: Any) -> Any:
    if total is None:
        return part if isinstance(part, np.ndarray) else [np.asarray(p, dtype=np.float64) for p in part]
    if isinstance(total, np.ndarray):
        return total + part
    return [a + b for a, b in zip(total, part)]


def cross_validate(
    fit_fold: Callable[[int, np.ndarray, np.ndarray], FoldResult | tuple],
    folds: np.ndarray,
    *,
    score: Callable[[np.ndarray, Any], float] | None = None,
    only: Sequence[int] | None = None,
) -> CVResult:
    """Run ``fit_fold(k, train_idx, val_idx)`` for each fold and gather the out-of-fold predictions.

    In: ``folds`` (a fold id per row, e.g. from :func:`assign_folds`; negative ids stay out of every
    fold); ``fit_fold`` returns a :class:`FoldResult` (or a ``(val, test)`` tuple) whose ``val`` holds the
    predictions for exactly the ``val_idx`` rows: they come from a model that never saw those rows;
    ``score(idx, predictions)`` scores predictions for the rows ``idx`` (called per fold and once on the
    pooled rows); ``only`` runs just these fold ids (default: all).

    Out: :class:`CVResult`. ``test`` is the mean of the folds' test predictions (arrays, or per-row
    arrays for ragged predictions). Raises ``ParameterError`` when a fold returns a number of validation
    predictions other than its row count, or ``only`` names a fold that has no rows.
    """
    folds = np.asarray(folds)
    fold_ids = sorted(set(folds[folds >= 0].tolist())) if only is None else [int(k) for k in only]
    oof: Any = None
    test_sum: Any = None
    n_test, fold_scores, models, infos, scored = 0, [], [], [], []
    for k in fold_ids:
        train_idx, val_idx = fold_indices(folds, k)
        result = fit_fold(k, train_idx, val_idx)
        if not isinstance(result, FoldResult):
            result = FoldResult(*result)
        val = result.val
        if len(val) != len(val_idx):
            raise ParameterError(f"fold {k}: {len(val)} validation predictions for {len(val_idx)} validation rows")
        if oof is None:
            if isinstance(val, np.ndarray):
                numeric = val.dtype.kind in "biufc"
                oof = np.full((len(folds), *val.shape[1:]), np.nan, dtype=np.float64 if numeric else object)
            else:
                oof = [None] * len(folds)
        for j, i in enumerate(val_idx):
            oof[i] = val[j]
        if result.test is not None:
            test_sum, n_test = _add(test_sum, result.test), n_test + 1
        if score is not None:
            fold_scores.append(float(score(val_idx, val)))
        models.append(result.model)
        infos.append(dict(result.info))
        scored.append(val_idx)
    rows = np.sort(np.concatenate(scored)) if scored else np.zeros(0, dtype=np.int64)
    pooled = float(score(rows, _take(oof, rows))) if score is not None and len(rows) else None
    if test_sum is not None:
        test_sum = test_sum / n_test if isinstance(test_sum, np.ndarray) else [t / n_test for t in test_sum]
    return CVResult(oof=oof, test=test_sum, fold_scores=fold_scores, score=pooled, models=models, infos=infos,
                    folds=folds, fold_ids=fold_ids, rows=rows)
