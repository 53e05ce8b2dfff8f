"""What ``kit new`` reads from a competition's target columns and its sample submission: the targets, their task and
labels, what the sample holds, the default metric (:mod:`kitlib.scaffold` puts it together).

Target values are compared as numbers where they are numbers (``1`` and ``1.0`` are one class), and so are the
sample's values against the labels; a classification target needs as many rows per class as the notebook has
folds (its folds are stratified).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import DataError, ParameterError
from .metrics import METRICS

MAX_INTEGER_CLASSES = 10


def class_columns_for(target: str, labels: list[str], columns: list[str]) -> dict[str, str] | None:
    """``{label: sample column}`` when ``columns`` are exactly the labels (or ``<target>_<label>``)."""
    for name in (lambda label: label, lambda label: f"{target}_{label}"):
        mapping = {label: name(label) for label in labels}
        if sorted(mapping.values()) == sorted(columns):
            return mapping
    return None


def sorted_labels(text: pd.Series) -> list[str]:
    labels = sorted(text.unique().tolist())
    numbers = pd.to_numeric(pd.Series(labels, dtype=object), errors="coerce")
    return [labels[i] for i in numbers.argsort()] if numbers.notna().all() else labels


def as_numbers(text: pd.Series) -> pd.Series | None:
    """``text`` as finite floats when every value is one, else ``None``."""
    numbers = pd.to_numeric(text, errors="coerce")
    finite = np.isfinite(numbers.to_numpy(dtype=np.float64, na_value=np.nan))
    return numbers.astype(np.float64) if len(text) and finite.all() else None


def canonical(text: pd.Series) -> pd.Series:
    """Target values compared as numbers where they are numbers: ``1`` and ``1.0`` are one class, written the way
    most rows write it; text labels stay as they are."""
    numbers = as_numbers(text)
    if numbers is None:
        return text
    spelling = pd.DataFrame({"number": numbers, "text": text}).groupby("number")["text"].agg(
        lambda t: t.value_counts().index[0])
    return numbers.map(spelling).astype(object)


def target_text(raw: pd.DataFrame, target: str, source: str) -> pd.Series:
    text = raw[target].astype(str).str.strip()
    empty = (text == "").to_numpy()
    if empty.any():
        row = int(empty.argmax())
        raise DataError(f"{source} row {row + 1}: column {target!r} is empty; a target needs a value in every row")
    text = canonical(text)
    if text.nunique() < 2:
        raise DataError(f"{source}: column {target!r} holds one value ({text.iloc[0]!r}); a target needs two or more")
    return text


def check_enough_rows(text: pd.Series, target: str, classes: bool, n_folds: int, source: str) -> None:
    """Refuse a target the notebook's ``n_folds``-fold cross-validation cannot split: fewer rows than folds, or (for
    classes: the folds are stratified) a class with fewer rows than folds, naming it."""
    if len(text) < n_folds:
        raise DataError(f"{source}: {len(text)} rows; {n_folds}-fold cross-validation (the notebook's n_folds) needs "
                        f"at least {n_folds}")
    counts = text.value_counts() if classes else pd.Series(dtype=int)
    few = counts[counts < n_folds]
    if len(few):
        raise DataError(f"{source}: class {few.index[0]!r} of column {target!r} has {int(few.iloc[0])} row(s); the "
                        f"notebook's {n_folds}-fold stratified cross-validation needs at least {n_folds} per class"
                        + (f" ({len(few)} classes have fewer)" if len(few) > 1 else ""))


def target_task(target: str, text: pd.Series, chosen, per_class: bool, source: str) -> tuple[str, str]:
    """``(task, why)`` for one target (``chosen``: the metric given, or ``None``)."""
    takes = chosen.takes if chosen else None
    numbers = pd.to_numeric(text, errors="coerce")
    count = text.nunique()
    if takes == "values" and not per_class:
        if numbers.isna().any():
            row = int(numbers.isna().to_numpy().argmax())
            raise DataError(f"{source} row {row + 1}: column {target!r}: {text.iloc[row]!r} is not a number; a metric "
                            f"that scores values needs a numeric target")
        return "regression", "the metric scores values"
    kind = "binary" if count == 2 else "multiclass"
    integral = numbers.notna().all() and (numbers == numbers.round()).all()
    if takes is not None and not per_class and numbers.notna().all() and not integral and count > 2:
        values = sorted(m.name for m in METRICS.values() if m.takes == "values")
        raise ParameterError(f"metric {chosen.name!r} scores classes, but {source} column {target!r} holds {count} "
                             f"distinct numbers (a regression); choose one of {values}")
    if per_class or takes is not None:
        return kind, "the metric scores classes" if takes else "the sample holds a probability per class"
    if numbers.isna().any():
        return kind, f"{count} text labels"
    if count == 2:
        return kind, "two values"
    if integral and count <= MAX_INTEGER_CLASSES:
        return kind, f"{count} integer values (pass --metric rmse for a regression)"
    return "regression", f"{count} distinct numbers"


def sample_holds(values: pd.Series, labels: list[str]) -> str:
    """What a sample's prediction column holds: ``ranked`` (space-separated labels), ``labels`` (every value a label,
    compared as numbers where both are numbers), ``probabilities`` (numbers in [0, 1] that are not all labels) or
    ``values`` (other numbers, or text that is no label)."""
    text = values.astype(str).str.strip()
    if text.str.contains(" ").any():
        return "ranked"
    if text.isin(labels).all():
        return "labels"
    numbers, known = as_numbers(text), as_numbers(pd.Series(labels, dtype=object))
    if numbers is not None and known is not None and numbers.isin(set(known)).all():
        return "labels"
    if numbers is not None and ((numbers >= 0) & (numbers <= 1)).all():
        return "probabilities"
    return "values"


def default_metric(task: str, per_class: bool, holds: str) -> tuple[str, str]:
    if task == "regression":
        return "rmse", "the default for a regression"
    if per_class:
        return "log_loss", "the default for a probability per class"
    if task == "multiclass" and holds == "ranked":
        return "map_at_3", "the sample holds space-separated labels"
    if task == "binary" and holds != "labels":
        return "roc_auc", "the default for a binary target whose sample holds probabilities"
    return "accuracy", f"the default for a {task} target whose sample holds labels"


def find_targets(train: pd.DataFrame, test: pd.DataFrame, raw: pd.DataFrame, id_col: str, rest: list[str],
                  given: list[str] | None, names: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """``(targets, class columns)`` from the sample's columns after the id (and ``--target``)."""
    if given:
        missing = [t for t in given if t not in train.columns]
        if missing:
            raise DataError(f"{names['train']}: no target column(s) {missing}; it has {list(train.columns)}")
        if sorted(given) == sorted(rest):
            return list(given), {}
        candidates = list(given)
    else:
        if all(c in train.columns for c in rest):
            return rest, {}
        if any(c in train.columns for c in rest):
            raise DataError(f"{names['sample']}: columns {[c for c in rest if c in train.columns]} are in "
                            f"{names['train']} but {[c for c in rest if c not in train.columns]} are not; "
                            f"pass --target")
        candidates = [c for c in train.columns if c not in test.columns and c != id_col]
    for target in candidates if len(candidates) >= 1 and (not given or len(given) == 1) else ():
        mapping = class_columns_for(target, sorted_labels(raw[target].str.strip()), rest)
        if mapping:
            return [target], mapping
    raise DataError(f"{names['sample']}: columns {rest} are neither columns of {names['train']} nor the classes of "
                    f"one of its columns {candidates}; pass --target COL")


def values_not_labels(sample: pd.DataFrame, column: str, texts: dict[str, pd.Series], names: dict[str, str]) -> str:
    """``"regression"`` for numeric targets whose sample holds numbers that are not labels; ``DataError`` naming the
    sample's first such value when the targets are text labels."""
    if all(as_numbers(text) is not None for text in texts.values()):
        return "regression"
    labels = set().union(*(set(text) for text in texts.values()))
    values = sample[column].astype(str).str.strip()
    row = int((~values.isin(labels)).to_numpy().argmax())
    raise DataError(f"{names['sample']} row {row + 1}: column {column!r}: {values.iloc[row]!r} is not one of the "
                    f"labels of {names['train']} ({sorted(labels)[:8]}); pass --metric to say what it holds")


def shown_labels(labels: list[str] | None) -> str:
    return f", labels {labels[:12]}{' ...' if len(labels) > 12 else ''}" if labels else ""
