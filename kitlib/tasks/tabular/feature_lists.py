"""Which columns the models use, and why they leave out the others: a tabular problem's feature lists resolved from
the frames the features step returned.

:func:`resolve` takes the raw feature columns (``train.csv`` and ``test.csv`` without the id and the targets) and
the training and test frames the features step made of them, and returns the problem with ``categorical`` and
``numeric`` filled in and ``unused`` naming every other column with its reason:

- a column of the training frame that the test frame lacks, or the other way round, cannot be used;
- a raw column the features step removed is said as such;
- the spec's ``[features] drop`` leaves a column out; its ``categorical`` and ``numeric`` set a column's kind;
- a spec written before ``[features]`` (a problem listing ``categorical``/``numeric`` itself) keeps its lists: the
  raw columns it does not list stay out, as they always did, and the columns the features step adds are judged
  like any other;
- every other column is judged by its values: strings and categories are categorical, numbers (booleans too)
  numeric; left out are a column missing in every training row, one with a single value, datetimes, strings that
  look like dates or times, and strings with a distinct value in every training row (an identifier?). The features
  step can turn any of these into numbers, which are then used.

A column the spec names is used as named (none of the judgements above applies to it); a name that is neither a
column of the files nor one the features step returns is a ``DataError`` naming the spec file and the column.
"""
from __future__ import annotations

import re
from dataclasses import replace

import pandas as pd

from ...errors import DataError
from .problem import Problem

DATE_LIKE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?)?"
                       r"|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}( \d{1,2}:\d{2}(:\d{2})?)?"
                       r"|\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?")
DATE_SAMPLE = 200  # values of a string column checked for dates
NUMBER_TYPES = ("integer", "floating", "mixed-integer-float", "decimal", "boolean")


def inferred_kind(series: pd.Series) -> str:
    """``"numeric"`` for numbers and booleans (also held in an object column), ``"datetime"`` for datetimes and
    durations, else ``"categorical"`` (strings, categories, mixed values)."""
    if pd.api.types.is_bool_dtype(series):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(series) or pd.api.types.is_timedelta64_dtype(series):
        return "datetime"
    if pd.api.types.is_numeric_dtype(series):
        return "numeric"
    if isinstance(series.dtype, (pd.CategoricalDtype, pd.StringDtype)):
        return "categorical"
    kind = pd.api.types.infer_dtype(series, skipna=True)
    return "numeric" if kind in NUMBER_TYPES and series.notna().any() else "categorical"


def _looks_like_dates(values: pd.Series) -> str | None:
    """The first value when every one of (up to :data:`DATE_SAMPLE`) non-missing string values is a date or a time,
    else ``None``."""
    sample = values.dropna().astype(str).str.strip().head(DATE_SAMPLE)
    if sample.empty or not sample.map(lambda v: DATE_LIKE.fullmatch(v) is not None).all():
        return None
    return str(sample.iloc[0])


def judged(series: pd.Series, train_name: str) -> tuple[str, str | None]:
    """``(kind, reason)`` for a column nobody named: its kind (:func:`inferred_kind`) and, when the models cannot
    use it, why (``None`` when they can)."""
    kind = inferred_kind(series)
    n = len(series)
    present = series.notna()
    if n and not present.any():
        return kind, f"missing in every row of {train_name}"
    if kind == "datetime":
        return kind, "datetimes: make numbers of them in the features step (year, month, day of week, ...)"
    if series.nunique(dropna=False) <= 1:
        return kind, f"one value in every row of {train_name}"
    if kind != "categorical":
        return kind, None
    date = _looks_like_dates(series)
    if date is not None:
        return kind, f"strings that look like dates or times ({date!r}): make numbers of them in the features step"
    if n > 1 and present.all() and series.nunique() == n:
        return kind, f"a distinct value in every row of {train_name} (an identifier?)"
    return kind, None


def _check_named(problem: Problem, known: set[str], where: str, files: str) -> None:
    for name in (*problem.feature_rules.named(), *problem.categorical, *problem.numeric):
        if name not in known:
            raise DataError(f"{where}: column {name!r} is neither a column of {files} nor one the features step "
                            f"returns; remove it from the spec or make it in the features step")


def resolve(problem: Problem, raw_columns: list[str], train: pd.DataFrame, test: pd.DataFrame,
            names: dict[str, str]) -> Problem:
    """``problem`` with ``categorical``, ``numeric`` and ``unused`` resolved from the frames ``train`` and ``test``
    that the features step returned (see the module docstring); ``raw_columns``: the files' feature columns, in
    file order; ``names``: the files' names (``train``, ``test``).

    Raises ``DataError`` naming the spec file and the column for a column the spec names that neither the files
    nor the features step produce, or that the training or test frame lacks."""
    rules = problem.feature_rules
    where = rules.source or "the problem's feature lists"
    files = f"{names['train']}/{names['test']}"
    _check_named(problem, set(raw_columns) | set(train.columns) | set(test.columns), where, files)
    listed = (*problem.categorical, *problem.numeric)  # a spec from before [features]: its raw columns, complete
    declared = {**dict.fromkeys(problem.categorical, "categorical"), **dict.fromkeys(problem.numeric, "numeric"),
                **dict.fromkeys(rules.categorical, "categorical"), **dict.fromkeys(rules.numeric, "numeric")}
    unused: dict[str, str] = {}
    for column in raw_columns:
        if column not in train.columns and column not in test.columns:
            unused[column] = "removed by the features step"
    for column in test.columns:
        if column not in train.columns and column not in unused:
            unused[column] = f"not in {names['train']}"
    kinds: dict[str, str] = {}
    for column in train.columns:
        if column not in test.columns:
            if column in declared and column not in rules.drop:
                raise DataError(f"{where}: column {column!r} is named as a feature but {names['test']} lacks it "
                                f"(after the features step); make it for the test rows too, or drop it")
            unused[column] = f"not in {names['test']}"
        elif column in rules.drop:
            unused[column] = f"dropped by {where} ([features] drop)"
        elif column in declared:
            kinds[column] = declared[column]
        elif listed and column in raw_columns:
            unused[column] = f"not listed in [columns] of {where} (list it there, or remove both lists to let the " \
                             f"kit choose)"
        else:
            kinds[column], reason = judged(train[column], names["train"])
            if reason:
                unused[column] = reason
                del kinds[column]
    order = {c: i for i, c in enumerate(listed)}
    position = {c: order.get(c, len(order) + i) for i, c in enumerate(train.columns)}
    by_kind = {kind: tuple(sorted((c for c, k in kinds.items() if k == kind), key=position.__getitem__))
               for kind in ("categorical", "numeric")}
    return replace(problem, categorical=by_kind["categorical"], numeric=by_kind["numeric"], unused=unused)


def feature_report(problem: Problem) -> str:
    """What :func:`kitlib.tasks.tabular.load` prints: the resolved lists' sizes and every unused column with its
    reason."""
    more = " ..." if len(problem.categorical) > 8 else ""
    head = (f"features: {len(problem.categorical)} categorical {list(problem.categorical[:8])}{more}, "
            f"{len(problem.numeric)} numeric")
    if not problem.unused:
        return f"{head}; every column is used"
    lines = [f"{head}; not used by the models ({len(problem.unused)}):"]
    lines += [f"  {column}: {reason}" for column, reason in problem.unused.items()]
    return "\n".join(lines)
