"""A tabular competition's files as frames: features, encoded targets, keys and the sample submission.

:func:`load` reads ``train.csv``, ``test.csv`` and ``sample_submission.csv`` (names from the problem) and checks
them against the :class:`~kitlib.tasks.tabular.problem.Problem`: every feature in both files, numeric features
numbers, the targets in ``train.csv`` with known labels, test ids unique, every sample id among the test ids.
Categorical features stay text (``NaN`` where missing); ids are text, as the sample submission writes them.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ...data import read_csv, require_files
from ...errors import DataError
from .problem import Problem


@dataclass
class TabularData:
    """``X``/``X_test``: feature frames (``problem.features`` order); ``y``: ``(n, targets)`` codes or values;
    ``keys``/``test_keys``: the id column of each row (train rows without an id get their row number);
    ``targets``: the target columns as ``train.csv`` writes them; ``sample``: the sample submission (text)."""

    X: pd.DataFrame
    y: np.ndarray
    X_test: pd.DataFrame
    keys: pd.DataFrame
    test_keys: pd.DataFrame
    targets: pd.DataFrame
    sample: pd.DataFrame
    files: dict[str, Path]

    def head(self, n: int) -> TabularData:
        """The first ``n`` training rows (the test rows stay whole, so the submission is complete)."""
        return replace(self, X=self.X.iloc[:n], y=self.y[:n], keys=self.keys.iloc[:n], targets=self.targets.iloc[:n])


def _require_columns(frame: pd.DataFrame, columns, source: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {missing}; the file has {list(frame.columns)}")


def _numbers(frame: pd.DataFrame, columns, source: str) -> pd.DataFrame:
    """``frame`` with ``columns`` as float64; ``DataError`` naming file, row and column for a value that is not a
    number or is infinite (a missing value is fine: ``NaN``)."""
    out = frame.copy()
    for column in columns:
        values = pd.to_numeric(frame[column], errors="coerce").astype(np.float64)
        bad = (values.isna() & frame[column].notna()).to_numpy()
        if bad.any():
            row = int(np.argmax(bad))
            raise DataError(f"{source} row {row + 1}: column {column!r}: {frame[column].iloc[row]!r} is not a number "
                            f"(the column is numeric)")
        infinite = np.isinf(values.to_numpy())
        if infinite.any():
            row = int(np.argmax(infinite))
            raise DataError(f"{source} row {row + 1}: column {column!r}: {str(frame[column].iloc[row])!r} is not a "
                            f"finite number; replace it (or leave the cell empty for a missing value)")
        out[column] = values
    return out


def _unique_ids(ids: pd.Series, source: str, column: str) -> None:
    duplicated = ids.duplicated().to_numpy()
    if duplicated.any():
        row = int(np.argmax(duplicated))
        raise DataError(f"{source} row {row + 1}: column {column!r}: id {ids.iloc[row]!r} appears twice")


def load(problem: Problem, data_dir: str | Path) -> TabularData:
    """Read and check the competition's three files in ``data_dir``; return :class:`TabularData`.

    Raises ``DataError`` naming the file (and the row and column) for a missing file or column, a value of a
    numeric feature that is not a number, a missing or unknown target, a repeated test id or a sample id that
    is not a test id.
    """
    names = problem.files
    files = require_files(Path(data_dir), [names["train"], names["test"], names["sample"]])
    text = {c: str for c in (problem.id, *problem.targets, *problem.categorical)}
    train = read_csv(files[names["train"]], dtype=text)
    test = read_csv(files[names["test"]], dtype=text)
    sample = read_csv(files[names["sample"]], dtype=str, keep_default_na=False)
    _require_columns(train, [*problem.features, *problem.targets], names["train"])
    _require_columns(test, [problem.id, *problem.features], names["test"])
    _require_columns(sample, [problem.id], names["sample"])
    X = _numbers(train[list(problem.features)], problem.numeric, names["train"])
    X_test = _numbers(test[list(problem.features)], problem.numeric, names["test"])
    test_ids = test[problem.id].fillna("").astype(str)
    _unique_ids(test_ids, names["test"], problem.id)
    unknown = ~sample[problem.id].isin(set(test_ids)).to_numpy()
    if unknown.any():
        row = int(np.argmax(unknown))
        raise DataError(f"{names['sample']} row {row + 1}: column {problem.id!r}: id {sample[problem.id].iloc[row]!r} "
                        f"is not an id of {names['test']}")
    y = problem.encode(train[list(problem.targets)], names["train"])
    ids = train[problem.id].astype(str) if problem.id in train.columns else pd.Series(
        np.arange(1, len(train) + 1).astype(str))
    return TabularData(X=X, y=y, X_test=X_test, keys=pd.DataFrame({problem.id: ids.to_numpy()}),
                       test_keys=pd.DataFrame({problem.id: test_ids.to_numpy()}),
                       targets=train[list(problem.targets)].reset_index(drop=True), sample=sample, files=files)


def summary(data: TabularData, problem: Problem) -> pd.DataFrame:
    """One row per feature: ``kind`` (categorical/numeric), missing share in train and test, distinct values;
    most missing first."""
    rows = {c: {"kind": "categorical" if c in problem.categorical else "numeric",
                "missing train": float(data.X[c].isna().mean()), "missing test": float(data.X_test[c].isna().mean()),
                "distinct": int(data.X[c].nunique())} for c in problem.features}
    return pd.DataFrame(rows).T.sort_values(["missing train", "distinct"], ascending=False)


def plot_targets(data: TabularData, problem: Problem, axes=None):
    """Bars of each classification target's label counts, or a histogram of each regression target. Returns
    the figure."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, len(problem.targets), figsize=(5 * len(problem.targets), 3.5), squeeze=False)
        axes = axes[0]
    for j, (target, _, labels) in enumerate(problem.blocks()):
        ax = axes[j]
        if problem.classification:
            counts = np.bincount(data.y[:, j].astype(np.int64), minlength=len(labels))
            ax.bar([str(label) for label in labels], counts, color="C0")
            ax.tick_params(axis="x", rotation=45 if len(labels) > 6 else 0)
        else:
            ax.hist(data.y[:, j], bins=40, color="C0")
        ax.set(title=f"{target} ({len(data.y)} training rows)", ylabel="rows")
    axes[0].figure.tight_layout()
    return axes[0].figure
