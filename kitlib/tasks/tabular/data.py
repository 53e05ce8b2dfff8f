"""A tabular competition's files as frames: features, encoded targets, keys and the sample submission.

:func:`load` reads ``train.csv``, ``test.csv`` and ``sample_submission.csv`` (names from the problem), checks the
targets in ``train.csv`` (known labels, finite values), the test ids (unique) and every sample id (a test id); hands
every other column of ``train.csv``/``test.csv`` to the competitor's features step (``features(train, test) ->
(train, test)``, :mod:`.feature_code`), then resolves which returned columns the models use and how
(:mod:`.feature_lists`), says which they leave out and why, and checks the numeric features are numbers.
Categorical features are pandas ``category`` columns of text (``NaN`` where missing; train and test each with the
values it has); ids are text, as the sample submission writes them.
Columns the spec declares categorical are read as text (``"01234"`` keeps its zero).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ...data import read_csv, require_files
from ...errors import DataError, ParameterError
from ...memory import release_memory
from .feature_lists import feature_report, resolve
from .problem import Problem

Features = Callable[[pd.DataFrame, pd.DataFrame], tuple[pd.DataFrame, pd.DataFrame]]


@dataclass
class TabularData:
    """``X``/``X_test``: feature frames (``problem.features`` order); ``y``: ``(n, targets)`` codes or values;
    ``keys``/``test_keys``: the id column of each row (train rows without an id get their row number);
    ``targets``: the target columns as ``train.csv`` writes them; ``sample``: the sample submission (text);
    ``problem``: the problem with its feature lists resolved from the frames (what the models take);
    ``feature_report``: every column the models leave out, with the reason (``problem.unused``)."""

    X: pd.DataFrame
    y: np.ndarray
    X_test: pd.DataFrame
    keys: pd.DataFrame
    test_keys: pd.DataFrame
    targets: pd.DataFrame
    sample: pd.DataFrame
    files: dict[str, Path]
    problem: Problem | None = None
    feature_report: dict[str, str] = field(default_factory=dict)

    def head(self, n: int) -> TabularData:
        """The first ``n`` training rows (the test rows stay whole, so the submission is complete)."""
        return replace(self, X=self.X.iloc[:n], y=self.y[:n], keys=self.keys.iloc[:n], targets=self.targets.iloc[:n])


def _require_columns(frame: pd.DataFrame, columns, source: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {missing}; the file has {list(frame.columns)}")


def _number_column(values: pd.Series, column: str, source: str) -> pd.Series:
    """``values`` as a new float64 column (the model frame's one copy of the numbers); ``DataError`` naming file,
    row and column for a value that is not a number or is infinite (a missing value is fine: ``NaN``)."""
    numbers = pd.to_numeric(values, errors="coerce").astype(np.float64)
    if not pd.api.types.is_numeric_dtype(values.dtype):
        bad = (numbers.isna() & values.notna()).to_numpy()
        if bad.any():
            row = int(np.argmax(bad))
            raise DataError(f"{source} row {row + 1}: column {column!r}: {values.iloc[row]!r} is not a number "
                            f"(the column is numeric)")
    infinite = np.isinf(numbers.to_numpy())
    if infinite.any():
        row = int(np.argmax(infinite))
        raise DataError(f"{source} row {row + 1}: column {column!r}: {str(values.iloc[row])!r} is not a "
                        f"finite number; replace it (or leave the cell empty for a missing value)")
    return numbers


def row_ids(train: pd.DataFrame, test: pd.DataFrame, sample: pd.DataFrame,
            problem: Problem) -> tuple[pd.Series, pd.Series]:
    """``(ids, test_ids)`` as text: the training rows' ids (1, 2, ... when ``train.csv`` has no id column) and the
    test rows'. Raises ``DataError`` naming file, row and column for a repeated test id or a sample id that is not
    a test id."""
    names = problem.files
    test_ids = test[problem.id].fillna("").astype(str)
    _unique_ids(test_ids, names["test"], problem.id)
    unknown = ~sample[problem.id].isin(set(test_ids)).to_numpy()
    if unknown.any():
        row = int(np.argmax(unknown))
        raise DataError(f"{names['sample']} row {row + 1}: column {problem.id!r}: id {sample[problem.id].iloc[row]!r} "
                        f"is not an id of {names['test']}")
    ids = train[problem.id].astype(str) if problem.id in train.columns else pd.Series(
        np.arange(1, len(train) + 1).astype(str))
    return ids, test_ids


def _unique_ids(ids: pd.Series, source: str, column: str) -> None:
    duplicated = ids.duplicated().to_numpy()
    if duplicated.any():
        row = int(np.argmax(duplicated))
        raise DataError(f"{source} row {row + 1}: column {column!r}: id {ids.iloc[row]!r} appears twice")


def _text_column(values: pd.Series) -> pd.Series:
    """``values`` as a pandas ``category`` of text (missing values stay missing): each row a small code, each
    value's text once (1,000,000 rows x 10 text columns: 90 MiB less than as text)."""
    text = values if isinstance(values.dtype, pd.StringDtype) else values.astype("str")
    return text.astype("category")


def _features_step(features: Features | None, train: pd.DataFrame, test: pd.DataFrame, roles: set[str],
                   names: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What ``features(train, test)`` returns, checked: two frames keeping every row, columns with distinct text
    names none of which is the id or a target. Raises ``ParameterError`` naming the features code."""
    if features is None:
        return train, test
    label = getattr(features, "label", None) or f"the features function {getattr(features, '__qualname__', '?')}"
    out = features(train, test)
    if not (isinstance(out, tuple) and len(out) == 2 and all(isinstance(f, pd.DataFrame) for f in out)):
        raise ParameterError(f"{label} returned {type(out).__name__}; expected a tuple (train, test) of two "
                             f"DataFrames")
    for frame, given, name in zip(out, (train, test), (names["train"], names["test"])):
        if len(frame) != len(given):
            raise ParameterError(f"{label} returned {len(frame)} rows for the {len(given)} of {name}; it must keep "
                                 f"every row, in order")
        odd = [c for c in frame.columns if not isinstance(c, str) or c in roles]
        twice = sorted(set(frame.columns[frame.columns.duplicated()].map(str)))
        if odd or twice:
            raise ParameterError(f"{label} returned a frame for {name} with column(s) {odd or twice}: expected "
                                 f"distinct text names other than the id and the targets {sorted(roles)}")
    return out[0].reset_index(drop=True), out[1].reset_index(drop=True)


def _model_frame(frame: pd.DataFrame, problem: Problem, raw: set[str], source: str) -> pd.DataFrame:
    """The models' columns of ``frame`` (categorical first) with numeric ones as float64 and categorical ones as
    ``category`` of text; a value that is not a number names ``source`` (or the features step, for a column it
    made). Built column by column into one new frame: the numbers are copied once (a 1,000,000-row set is read in a
    few times its size, not ten)."""
    columns = {}
    for column in problem.features:
        if column in problem.categorical:
            columns[column] = _text_column(frame[column])
        else:
            columns[column] = _number_column(frame[column], column, source if column in raw else
                                             f"{source} (after the features step)")
    return pd.DataFrame(columns, index=pd.RangeIndex(len(frame)), copy=False)


def load(problem: Problem, data_dir: str | Path, features: Features | None = None, *,
         report: bool = True) -> TabularData:
    """Read and check the competition's three files in ``data_dir``; return :class:`TabularData`.

    ``features(train, test) -> (train, test)`` gets every column of ``train.csv`` / ``test.csv`` except the id and
    the targets, as pandas reads them (file order; columns the spec declares categorical as text) and returns the
    frames the models' features come from (``None``: as read). Which columns the models use, and how, is resolved
    from the returned frames and the spec (:mod:`.feature_lists`); ``TabularData.problem`` is the problem with those
    lists, and the columns left out are printed with the reason unless ``report`` is false.

    Raises ``DataError`` naming the file (and the row and column) for a missing file, id or target column, a value
    of a numeric feature that is not a number, a missing or unknown target, a repeated test id or a sample id that
    is not a test id; naming the spec file for a column it names that nobody produces; ``ParameterError`` naming
    the features code when it returns something else than two frames keeping every row.
    """
    names = problem.files
    files = require_files(Path(data_dir), [names["train"], names["test"], names["sample"]])
    declared = (*problem.categorical, *problem.feature_rules.categorical)
    text = {c: str for c in (problem.id, *problem.targets, *declared)}
    train = read_csv(files[names["train"]], dtype=text)
    release_memory()  # the parser's buffers: a large file is parsed in about twice its size
    test = read_csv(files[names["test"]], dtype=text)
    release_memory()
    sample = read_csv(files[names["sample"]], dtype=str, keep_default_na=False)
    _require_columns(train, problem.targets, names["train"])
    _require_columns(test, [problem.id], names["test"])
    _require_columns(sample, [problem.id], names["sample"])
    ids, test_ids = row_ids(train, test, sample, problem)
    y = problem.encode(train[list(problem.targets)], names["train"])
    targets = train[list(problem.targets)].reset_index(drop=True)
    roles = {problem.id, *problem.targets}
    raw_train = train[[c for c in train.columns if c not in roles]]
    raw_test = test[[c for c in test.columns if c not in roles]]
    raw = list(dict.fromkeys([*raw_train.columns, *raw_test.columns]))
    made_train, made_test = _features_step(features, raw_train, raw_test, roles, names)
    resolved = resolve(problem, raw, made_train, made_test, names)
    if report:
        print(feature_report(resolved))
    X = _model_frame(made_train, resolved, set(raw), names["train"])
    del train, raw_train, made_train
    release_memory()  # train.csv as read is gone: give its memory back before the test rows are copied
    X_test = _model_frame(made_test, resolved, set(raw), names["test"])
    del test, raw_test, made_test
    release_memory()
    return TabularData(X=X, y=y, X_test=X_test, keys=pd.DataFrame({problem.id: ids.to_numpy()}),
                       test_keys=pd.DataFrame({problem.id: test_ids.to_numpy()}),
                       targets=targets, sample=sample, files=files,
                       problem=resolved, feature_report=dict(resolved.unused))


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
