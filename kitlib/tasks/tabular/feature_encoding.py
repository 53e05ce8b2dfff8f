"""Encodings competitors reach for: counts of a value (in the features step) and target encoding (inside a fold).

- :func:`count_encode` adds ``<col>_count``: how often each row's value occurs in the training and test rows
  together (as competitors do: no target is involved, so the test rows may be counted).
- :func:`target_encode_fold` adds ``<col>_te`` (one per class for a multiclass target, ``_<label>``; one per target
  for several, ``_<target>``): scikit-learn's ``TargetEncoder`` fitted on one fold's training rows only, its own
  cross-fitting on those rows (folds shuffled from ``seed``) giving their values, the fitted encoder the values of
  every other frame (the validation and test rows), which therefore never reach the fit. The notebook parameter
  ``target_encode`` names the columns, comma-separated (:func:`target_encode_columns`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from ...errors import DataError, ParameterError
from .problem import Problem

MAX_INNER_FOLDS = 5  # TargetEncoder's own cross-fitting folds (fewer when a class has fewer rows)


def _column_list(columns: str | Sequence[str]) -> list[str]:
    return [columns] if isinstance(columns, str) else list(dict.fromkeys(columns))


def count_encode(train: pd.DataFrame, test: pd.DataFrame, columns: str | Sequence[str]) -> tuple[pd.DataFrame,
                                                                                                   pd.DataFrame]:
    """Copies of ``train`` and ``test`` with ``<col>_count`` for each of ``columns``: the number of rows of both
    frames holding that row's value (a missing value counts as one value). Raises ``DataError`` naming the frame and
    the column for a column either frame lacks."""
    names = _column_list(columns)
    for frame, what in ((train, "training"), (test, "test")):
        missing = [c for c in names if c not in frame.columns]
        if missing:
            raise DataError(f"count_encode: the {what} frame has no column(s) {missing}; it has {list(frame.columns)}")
    train, test = train.copy(), test.copy()
    for column in names:
        counts = pd.concat([train[column], test[column]], ignore_index=True).value_counts(dropna=False)
        train[f"{column}_count"] = train[column].map(counts).to_numpy(dtype=np.int64)
        test[f"{column}_count"] = test[column].map(counts).to_numpy(dtype=np.int64)
    return train, test


def target_encode_columns(text: str, problem: Problem) -> tuple[str, ...]:
    """The columns the ``target_encode`` parameter names (comma-separated, ``""`` for none), each a feature of
    ``problem`` (resolved: :attr:`kitlib.tasks.tabular.TabularData.problem`). Raises ``ParameterError`` naming an
    unknown column and listing the features."""
    names = tuple(dict.fromkeys(part.strip() for part in str(text or "").split(",") if part.strip()))
    unknown = [c for c in names if c not in problem.features]
    if unknown:
        raise ParameterError(f"target_encode: {unknown} are not features of the problem; expected some of "
                             f"{list(problem.features)}")
    return names


def _blocks(problem: Problem) -> list[tuple[str, list[str]]]:
    """Per target: ``(name suffix, class labels)``; the labels of a binary target or a regression are ``[]``
    (one column)."""
    several = len(problem.targets) > 1
    out = []
    for target, _, labels in problem.blocks():
        prefix = f"_{target}" if several else ""
        out.append((prefix, list(labels) if problem.classification and len(labels) > 2 else []))
    return out


def target_encoded_names(columns: Sequence[str], problem: Problem) -> list[str]:
    """The columns :func:`target_encode_fold` adds for ``columns``, in the order it adds them."""
    names = []
    for column in _column_list(columns):
        for suffix, labels in _blocks(problem):
            names += [f"{column}_te{suffix}_{label}" for label in labels] if labels else [f"{column}_te{suffix}"]
    return names


def with_target_encoding(problem: Problem, columns: Sequence[str]) -> Problem:
    """``problem`` with the columns :func:`target_encode_fold` adds for ``columns`` among its numeric features (what
    a model fitted on the encoded frames takes)."""
    added = [c for c in target_encoded_names(columns, problem) if c not in problem.features]
    return replace(problem, numeric=(*problem.numeric, *added))


def _splits(y: np.ndarray, classification: bool, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The encoder's own cross-fitting folds over the training rows: stratified on the class codes (at most
    :data:`MAX_INNER_FOLDS`, no more than the rarest class has rows, at least 2), shuffled from ``seed``."""
    from sklearn.model_selection import KFold, StratifiedKFold

    rows = np.zeros((len(y), 1))
    if classification:
        counts = np.bincount(y.astype(np.int64))
        k = max(2, min(MAX_INNER_FOLDS, int(counts[counts > 0].min())))
        return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(rows, y.astype(np.int64)))
    return list(KFold(max(2, min(MAX_INNER_FOLDS, len(y))), shuffle=True, random_state=seed).split(rows))


def _encode(X: pd.DataFrame, others: list[pd.DataFrame], target: np.ndarray,
            splits: list) -> tuple[np.ndarray, list[np.ndarray]]:
    """``(training values, [values of each other frame])``, one column per feature of ``X``, for one numeric
    ``target`` (a value, or a class indicator: TargetEncoder's binary and multiclass encodings are the continuous
    one of each class's indicator); a target with one value in these rows gives that value everywhere."""
    from sklearn.preprocessing import TargetEncoder

    if np.all(target == target[0]):
        return np.full(X.shape, target[0]), [np.full(o.shape, target[0]) for o in others]
    encoder = TargetEncoder(target_type="continuous", cv=splits)
    return encoder.fit_transform(X, target), [encoder.transform(o) for o in others]


def _category_input(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The columns as TargetEncoder takes them: objects (text or numbers) with ``NaN`` for a missing value."""
    return pd.DataFrame({c: frame[c].astype(object).where(frame[c].notna(), np.nan).to_numpy() for c in columns})


def target_encode_fold(X_train: pd.DataFrame, y_train: np.ndarray, X_others: Sequence[pd.DataFrame],
                       columns: str | Sequence[str], problem: Problem, seed: int = 0
                       ) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Copies of ``X_train`` (one fold's training rows) and of each of ``X_others`` (its validation rows, the test
    rows) with the target-encoded columns of :func:`target_encoded_names` added (the originals kept).

    ``y_train``: the training rows' targets, ``(n, targets)`` or ``(n,)`` class codes or values. The encoder is
    fitted on ``X_train``/``y_train`` only: its cross-fitting (folds from ``seed``, stratified for classes) gives
    the training rows' values, and the fitted encoder the other frames', so no other row's target is ever read.
    Classification encodes class frequencies (binary: the positive class's; a class the rows lack: 0), a regression
    the mean (of ``log1p`` for RMSLE), each shrunk towards the overall one as scikit-learn's ``TargetEncoder`` does.
    Raises ``DataError`` naming the column for a column a frame lacks."""
    names = _column_list(columns)
    others = list(X_others)
    for frame, what in [(X_train, "training"), *[(o, f"other frame {i + 1}") for i, o in enumerate(others)]]:
        missing = [c for c in names if c not in frame.columns]
        if missing:
            raise DataError(f"target_encode: the {what} rows have no column(s) {missing}; they have "
                            f"{list(frame.columns)}")
    out_train, out_others = X_train.copy(), [o.copy() for o in others]
    if not names:
        return out_train, out_others
    y = np.asarray(y_train, dtype=np.float64).reshape(len(X_train), -1)
    X_in, others_in = _category_input(X_train, names), [_category_input(o, names) for o in others]
    encoded: dict[str, tuple[np.ndarray, list[np.ndarray]]] = {}
    for j, (suffix, labels) in enumerate(_blocks(problem)):
        splits = _splits(y[:, j], problem.classification, seed)
        if not problem.classification:
            indicators = {"": np.log1p(y[:, j]) if problem.metric == "rmsle" else y[:, j]}
        elif labels:
            indicators = {f"_{label}": (y[:, j] == k).astype(np.float64) for k, label in enumerate(labels)}
        else:
            indicators = {"": (y[:, j] == 1).astype(np.float64)}
        for end, target in indicators.items():
            fitted, moved = _encode(X_in, others_in, target, splits)
            for i, column in enumerate(names):
                encoded[f"{column}_te{suffix}{end}"] = (fitted[:, i], [m[:, i] for m in moved])
    for name in target_encoded_names(names, problem):
        out_train[name] = encoded[name][0]
        for frame, values in zip(out_others, encoded[name][1]):
            frame[name] = values
    return out_train, out_others
