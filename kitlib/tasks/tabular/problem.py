"""A tabular problem: its columns, task and metric, and how predictions become a score and a submission.

:class:`Problem` is what ``kit new`` infers from a competition's ``train.csv`` / ``test.csv`` /
``sample_submission.csv`` (and what ``competitions/<name>.toml`` records). Targets are kept as the training
file writes them (class labels are text: ``"0"``/``"1"``, ``"Class_3"``, ``"True"``); inside the kit a
classification target is an integer code into ``labels[target]`` (sorted; for a binary target the last label
is the positive class, whose probability a probability submission holds), a regression target a float.

Prediction columns (the run folder's tables, what a blend combines): ``p_<label>`` per class for one target,
``p_<target>_<label>`` for several, ``pred_<target>`` for values. ``holds`` says what the submission carries:
``labels`` (the most probable class), ``probabilities`` (the positive class's for a binary target, one column
per class named in ``class_columns`` for a multiclass one), ``values`` or ``ranked`` (the three most probable
classes, space-separated, for MAP@3).

Features: a :class:`Problem` read from a spec written before ``[features]`` (or made in code) lists its
``categorical`` and ``numeric`` columns; one written by ``kit new`` since leaves them empty and carries
:class:`FeatureRules` (the spec's ``[features]`` table) instead. :func:`kitlib.tasks.tabular.load` resolves either
into the lists the models use (see :mod:`.feature_lists`) and returns that resolved problem, whose ``unused`` names
every column the models leave out, with the reason.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ... import predictions
from ...errors import DataError, ParameterError
from ...metrics import find_metric

TASKS = ("binary", "multiclass", "regression")
HOLDS = ("labels", "probabilities", "values", "ranked")
FILES = {"train": "train.csv", "test": "test.csv", "sample": "sample_submission.csv"}
TOP_K = 3  # classes in a ranked submission


def _numeric_codes(labels: tuple[str, ...]) -> dict[float, int]:
    """``{number: code}`` when every label is a distinct finite number (``"0"``, ``"1"``), else ``{}``."""
    numbers = pd.to_numeric(pd.Series(list(labels), dtype=object), errors="coerce").to_numpy(dtype=np.float64)
    if not len(labels) or not np.isfinite(numbers).all() or len(set(numbers.tolist())) != len(labels):
        return {}
    return {float(x): i for i, x in enumerate(numbers)}


def metric_of(name: str):
    """The :class:`kitlib.metrics.Metric` called ``name``; ``ParameterError`` listing the choices otherwise."""
    try:
        return find_metric(name)
    except KeyError as exc:
        raise ParameterError(str(exc).strip("\"'")) from None


@dataclass(frozen=True)
class FeatureRules:
    """The spec's ``[features]`` table: ``drop`` (columns the models never use), ``categorical`` and ``numeric``
    (the kind of the columns they name, whatever the data looks like); ``source``: the spec file (named in
    errors). Every name must be a column of the files or of what the features step returns."""

    drop: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    source: str = ""

    def named(self) -> tuple[str, ...]:
        """Every column the rules name, in ``drop``, ``categorical``, ``numeric`` order."""
        return (*self.drop, *self.categorical, *self.numeric)


@dataclass(frozen=True)
class Problem:
    """One tabular competition's problem (see the module docstring); checked when made.

    Raises ``ParameterError`` for an unknown task, metric or submission kind, a classification target with
    fewer than two labels, a metric that does not score what the submission holds, or per-class columns
    that do not name every class.
    """

    id: str
    targets: tuple[str, ...]
    task: str
    metric: str
    holds: str
    labels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    class_columns: Mapping[str, str] = field(default_factory=dict)
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    files: Mapping[str, str] = field(default_factory=lambda: dict(FILES))
    feature_rules: FeatureRules = field(default_factory=FeatureRules)
    unused: Mapping[str, str] = field(default_factory=dict)  # column -> why the models leave it out (after load)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ParameterError(f"Unknown task {self.task!r}; expected one of {list(TASKS)}")
        if self.holds not in HOLDS:
            raise ParameterError(f"Unknown submission kind {self.holds!r}; expected one of {list(HOLDS)}")
        if not self.targets:
            raise ParameterError("a problem needs at least one target column")
        takes = metric_of(self.metric).takes
        if (takes == "values") != (self.task == "regression") or takes != self.holds:
            raise ParameterError(f"metric {self.metric!r} scores {takes}; a {self.task} problem whose submission "
                                 f"holds {self.holds} needs another metric")
        for target in self.targets if self.classification else ():
            if len(self.labels.get(target, ())) < 2:
                raise ParameterError(f"target {target!r} needs at least two labels; got "
                                     f"{list(self.labels.get(target, ()))}")
        if self.holds == "probabilities" and self.task == "multiclass" and not self.class_columns:
            raise ParameterError(f"a multiclass probability submission needs one column per class (class_columns); "
                                 f"{self.metric!r} on one label column would need labels, not probabilities")
        if self.class_columns and (len(self.targets) != 1
                                   or set(self.class_columns) != set(self.labels[self.targets[0]])):
            raise ParameterError(f"class_columns {dict(self.class_columns)} must map every label of the one target "
                                 f"to a submission column")
        self._check_feature_roles()

    def _check_feature_roles(self) -> None:
        """Raise ``ParameterError`` (naming the spec file of the rules) for a feature column that is also the id or
        a target, or that the feature lists and rules give two kinds (or list twice)."""
        rules = self.feature_rules
        where = f"{rules.source}: " if rules.source else ""
        roles = {self.id: "the id", **dict.fromkeys(self.targets, "a target")}
        for lists in ((("categorical", self.categorical), ("numeric", self.numeric)),
                      (("[features] drop", rules.drop), ("[features] categorical", rules.categorical),
                       ("[features] numeric", rules.numeric))):
            seen: dict[str, str] = {}
            for role, names in lists:
                for name in names:
                    if name in roles:
                        raise ParameterError(f"{where}column {name!r} is {roles[name]}; it cannot be in {role}")
                    if name in seen:
                        twice = f"twice in {role}" if seen[name] == role else f"in both {seen[name]} and {role}"
                        raise ParameterError(f"{where}column {name!r} is listed {twice}; give each column one role")
                    seen[name] = role

    @property
    def classification(self) -> bool:
        """True for a binary or multiclass task."""
        return self.task != "regression"

    @property
    def mode(self) -> str:
        """``"max"`` or ``"min"``: the metric's direction."""
        return metric_of(self.metric).mode

    @property
    def features(self) -> tuple[str, ...]:
        """Every feature column: categorical first, then numeric."""
        return (*self.categorical, *self.numeric)

    def blocks(self) -> list[tuple[str, slice, tuple[str, ...]]]:
        """Per target: ``(target, slice of its prediction columns, its labels)`` (``()`` for values)."""
        out, start = [], 0
        for target in self.targets:
            labels = tuple(self.labels.get(target, ())) if self.classification else ()
            width = len(labels) if self.classification else 1
            out.append((target, slice(start, start + width), labels))
            start += width
        return out

    @property
    def columns(self) -> list[str]:
        """The prediction columns, in :meth:`blocks` order."""
        if not self.classification:
            return predictions.columns("pred_", self.targets)
        if len(self.targets) == 1:
            return predictions.columns("p_", self.labels[self.targets[0]])
        return predictions.columns("p_", [f"{t}_{label}" for t in self.targets for label in self.labels[t]])

    def stratify(self, y: np.ndarray) -> np.ndarray | None:
        """What to stratify the folds on: the first target's codes for classification, else ``None``."""
        return y[:, 0].astype(np.int64) if self.classification else None

    def encode(self, frame: pd.DataFrame, source: str = "train.csv") -> np.ndarray:
        """``(n, len(targets))`` floats: class codes or values of the target columns of ``frame``.

        Raises ``DataError`` naming ``source``, the row (from 1) and the column for a missing value, a label
        outside ``labels`` or a value that is not a finite number."""
        out = np.empty((len(frame), len(self.targets)), dtype=np.float64)
        for j, (target, _, labels) in enumerate(self.blocks()):
            if target not in frame.columns:
                raise DataError(f"{source}: missing target column {target!r}; it has {list(frame.columns)}")
            text = frame[target].astype("string").str.strip()
            if self.classification:
                codes = text.map({label: i for i, label in enumerate(labels)})
                by_number = _numeric_codes(labels)
                if by_number and codes.isna().any():  # numbers compare as numbers: "1.0" is the label "1"
                    numbers = pd.to_numeric(text.astype(object), errors="coerce").astype(np.float64)
                    codes = codes.astype("Float64").fillna(numbers.map(by_number).astype("Float64"))
                bad = codes.isna().to_numpy()
                what = f"is not one of {list(labels)}"
            else:
                codes = pd.to_numeric(text, errors="coerce")
                bad = ~np.isfinite(codes.to_numpy(dtype=np.float64, na_value=np.nan))
                what = "is not a finite number"
            if bad.any():
                row = int(np.argmax(bad))
                raise DataError(f"{source} row {row + 1}: column {target!r}: {frame[target].iloc[row]!r} {what}")
            out[:, j] = codes.to_numpy(dtype=np.float64)
        return out

    def score(self, y: np.ndarray, pred: np.ndarray) -> float:
        """The metric of predictions ``pred`` (columns as :attr:`columns`) against ``y`` (from :meth:`encode`),
        averaged over the targets."""
        metric = metric_of(self.metric)
        y, pred = np.asarray(y, dtype=np.float64).reshape(len(y), -1), np.asarray(pred, dtype=np.float64)
        pred = pred.reshape(len(pred), -1)
        scores = []
        for j, (_, cols, labels) in enumerate(self.blocks()):
            truth, block = y[:, j], pred[:, cols]
            if not self.classification:
                scores.append(metric.fn(truth, block[:, 0]))
                continue
            truth = truth.astype(np.int64)
            if metric.takes == "labels":
                scores.append(metric.fn(truth, block.argmax(axis=1)))
            elif metric.takes == "ranked":
                scores.append(metric.fn(truth, np.argsort(-block, axis=1, kind="stable")[:, :TOP_K].tolist()))
            elif len(labels) == 2:
                scores.append(metric.fn(truth, block[:, 1]))
            else:
                scores.append(metric.fn(truth, block, labels=list(range(len(labels)))))
        return float(np.mean(scores))

    def score_frame(self, frame: pd.DataFrame) -> float:
        """:meth:`score` of a predictions table holding the target columns and :attr:`columns` (a blend's)."""
        return self.score(self.encode(frame, "the out-of-fold predictions"), frame[self.columns].to_numpy())

    def to_submission(self, test: pd.DataFrame, sample: pd.DataFrame,
                      source: str = "sample_submission.csv") -> pd.DataFrame:
        """The ``sample`` (read as text) with its prediction columns filled from ``test`` (the test predictions
        table: the ``id`` column and :attr:`columns`), in the sample's row order.

        Raises ``DataError`` naming ``source`` and the row of a sample id without a test prediction."""
        by_id = test.assign(**{self.id: test[self.id].astype(str)}).drop_duplicates(self.id).set_index(self.id)
        ids = sample[self.id].astype(str)
        missing = ~ids.isin(by_id.index).to_numpy()
        if missing.any():
            row = int(np.argmax(missing))
            raise DataError(f"{source} row {row + 1}: column {self.id!r}: id {ids.iloc[row]!r} has no test "
                            f"prediction ({int(missing.sum())} of {len(ids)} ids lack one)")
        values = by_id.loc[ids, self.columns].to_numpy(dtype=np.float64)
        out = sample.copy()
        for target, cols, labels in self.blocks():
            block = values[:, cols]
            if self.holds == "values":
                out[target] = block[:, 0]
            elif self.holds == "labels":
                out[target] = np.asarray(labels, dtype=object)[block.argmax(axis=1)]
            elif self.holds == "ranked":
                top = np.argsort(-block, axis=1, kind="stable")[:, :TOP_K]
                out[target] = [" ".join(labels[i] for i in row) for row in top]
            elif self.class_columns:
                for i, label in enumerate(labels):
                    out[self.class_columns[label]] = block[:, i]
            else:
                out[target] = block[:, -1]
        return out
