"""A text competition's files as texts, encoded targets, keys, groups and folds.

:func:`load` reads ``train.csv``, ``test.csv`` and ``sample_submission.csv`` (names from the problem) and checks
them: the text columns in both files, the targets in ``train.csv`` with known labels, the group column (when given)
in ``train.csv``, test ids unique, every sample id a test id. Several text columns are joined with their names
(:func:`~kitlib.tasks.text.columns.join_texts`). :func:`text_folds` assigns the folds the template uses: stratified
by the first target for classification, grouped by the group column when there is one.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ...data import read_csv, require_files
from ...errors import DataError
from ..tabular.data import row_ids
from ..tabular.problem import Problem
from .columns import join_texts

__all__ = ["TextData", "load", "text_folds", "text_lengths", "SMOKE_ROWS"]

SMOKE_ROWS = 400  # the training rows a smoke run keeps (as the tabular template; kitlib.competitions.rows)


@dataclass
class TextData:
    """``texts``/``test_texts``: one text per row; ``y``: ``(n, targets)`` codes or values; ``keys``/``test_keys``:
    the id column of each row; ``groups``: the group of each training row (``None`` without a group column);
    ``targets``: the target columns as ``train.csv`` writes them; ``sample``: the sample submission (text)."""

    texts: list[str]
    y: np.ndarray
    test_texts: list[str]
    keys: pd.DataFrame
    test_keys: pd.DataFrame
    targets: pd.DataFrame
    sample: pd.DataFrame
    groups: np.ndarray | None = None

    def head(self, n: int) -> TextData:
        """The first ``n`` training rows (the test rows stay whole, so the submission is complete)."""
        return replace(self, texts=self.texts[:n], y=self.y[:n], keys=self.keys.iloc[:n],
                       targets=self.targets.iloc[:n], groups=None if self.groups is None else self.groups[:n])


def _require(frame: pd.DataFrame, columns: Sequence[str], source: str, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: missing {what} column(s) {missing}; the file has {list(frame.columns)}")


def load(problem: Problem, data_dir: str | Path, text_columns: Sequence[str], group: str | None = None) -> TextData:
    """Read and check the competition's three files in ``data_dir``; return :class:`TextData`.

    Raises ``DataError`` naming the file (and the row and column) for a missing file or column, a missing or
    unknown target, a repeated test id or a sample id that is not a test id."""
    names = problem.files
    files = require_files(Path(data_dir), [names["train"], names["test"], names["sample"]])
    as_text = {c: str for c in (problem.id, *problem.targets, *text_columns, *([group] if group else []))}
    train = read_csv(files[names["train"]], dtype=as_text, keep_default_na=False, na_values=[""])
    test = read_csv(files[names["test"]], dtype=as_text, keep_default_na=False, na_values=[""])
    sample = read_csv(files[names["sample"]], dtype=str, keep_default_na=False)
    _require(train, [*text_columns, *problem.targets], names["train"], "text or target")
    _require(train, [group] if group else [], names["train"], "group")
    _require(test, [problem.id, *text_columns], names["test"], "id or text")
    _require(sample, [problem.id], names["sample"], "id")
    texts, test_texts = join_texts(train, text_columns), join_texts(test, text_columns)
    ids, test_ids = row_ids(train, test, sample, problem)
    y = problem.encode(train[list(problem.targets)], names["train"])
    groups = train[group].fillna("").astype(str).to_numpy() if group else None
    return TextData(texts=texts, y=y, test_texts=test_texts, keys=pd.DataFrame({problem.id: ids.to_numpy()}),
                    test_keys=pd.DataFrame({problem.id: test_ids.to_numpy()}),
                    targets=train[list(problem.targets)].reset_index(drop=True), sample=sample, groups=groups)


def text_folds(data: TextData, problem: Problem, n_folds: int, seed: int) -> np.ndarray:
    """One fold id per training row: ``n_folds`` folds from ``seed``, stratified by the first target for
    classification, rows of one group in one fold (``StratifiedGroupKFold``/``GroupKFold`` with groups).
    Raises ``ParameterError`` (from :func:`kitlib.folds.assign_folds`) for fewer rows or groups than folds."""
    from ...folds import assign_folds

    return assign_folds(len(data.y), n_splits=n_folds, groups=data.groups, stratify=problem.stratify(data.y),
                        seed=seed)


def text_lengths(texts: Sequence[str]) -> pd.DataFrame:
    """Per text: ``characters`` and ``words`` (whitespace-separated)."""
    series = pd.Series(list(texts), dtype="string").fillna("")
    return pd.DataFrame({"characters": series.str.len().astype(int), "words": series.str.split().str.len().astype(int)})
