"""Comparing models: a results table, best first, and the metrics that record it.

A notebook that evaluates several models on the same folds keeps their :class:`~kitlib.folds.CVResult`\\ s by
name, then chooses one and records every model's figure::

    cvs = {"random forest": cv_forest, "MLP": cv_mlp, "MLP (Optuna)": cv_tuned}
    table = cv_table(cvs, mode=COMPETITION.mode)            # cv mean, cv std, out of fold; best first
    best_name, best = table.index[0], cvs[table.index[0]]
    run.log_metrics(cv_metrics(COMPETITION.metric, cvs, best_name))
    # {"val_weighted_f1": <best's out of fold>, "val_weighted_f1_cv_mean", "val_weighted_f1_cv_std",
    #  "val_weighted_f1_random_forest", "val_weighted_f1_mlp", "val_weighted_f1_mlp_optuna"}

Tables that are not cross-validations (one validation split, several columns) go through :func:`rank` and
:func:`model_metrics`. A model's name becomes a metric-name suffix through :func:`metric_key`
(``"MLP (Optuna)"`` -> ``"mlp_optuna"``). Ties keep the order the models were added in.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from .errors import ParameterError

if TYPE_CHECKING:
    import pandas as pd

    from .folds import CVResult

__all__ = ["MODES", "metric_key", "rank", "cv_table", "cv_metrics", "model_metrics"]

MODES = ("max", "min")
CV_COLUMNS = {"cv mean": "mean", "cv std": "std", "out of fold": "score"}
PER_MODEL = {"score": "", "mean": "_cv_mean", "std": "_cv_std"}


def metric_key(name: str) -> str:
    """A model's name as a metric-name suffix: lower case, each run of other characters one underscore.

    ``"random forest"`` -> ``"random_forest"``, ``"MLP (Optuna)"`` -> ``"mlp_optuna"``, ``"item-kNN"`` ->
    ``"item_knn"``. Raises ``ParameterError`` for a name with no letter or digit.
    """
    key = re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")
    if not key:
        raise ParameterError(f"model name {name!r} has no letter or digit to name its metrics by")
    return key


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ParameterError(f"Unknown mode {mode!r}; expected one of {list(MODES)}")


def rank(table: pd.DataFrame, by: str | Mapping[str, str], mode: str = "max") -> pd.DataFrame:
    """``table``'s rows, best first.

    In: ``by`` is a column, ranked under ``mode`` (``"max"``: higher is better; ``"min"``: lower is
    better), or ``{column: mode}`` in order of priority (later columns break ties of earlier ones, as
    ``{"val_accuracy": "max", "val_loss": "min"}``). Rows that tie on every column keep their order.
    Out: the sorted table (same index and columns). Raises ``ParameterError`` for an unknown column or
    mode.
    """
    order = {by: mode} if isinstance(by, str) else dict(by)
    if not order:
        raise ParameterError("rank needs at least one column to sort by")
    for column, direction in order.items():
        _check_mode(direction)
        if column not in table.columns:
            raise ParameterError(f"Unknown column {column!r} to rank by; expected one of {list(table.columns)}")
    return table.sort_values(list(order), ascending=[d == "min" for d in order.values()], kind="stable")


def cv_table(cvs: Mapping[str, CVResult], mode: str = "max", by: str = "cv mean") -> pd.DataFrame:
    """One row per model (index: its name), best first: ``cv mean``, ``cv std`` (over the folds) and
    ``out of fold`` (the pooled out-of-fold score).

    In: ``cvs`` maps a model's name to its :class:`~kitlib.folds.CVResult`, in the order the models were
    evaluated; ``mode`` is the metric's direction (``"max"`` or ``"min"``: a competition's ``mode``);
    ``by`` the column that ranks them. Raises ``ParameterError`` when ``cvs`` is empty, or for an unknown
    ``by`` or ``mode``.
    """
    import pandas as pd

    if not cvs:
        raise ParameterError("no models to compare: evaluate at least one first")
    if by not in CV_COLUMNS:
        raise ParameterError(f"Unknown column {by!r} to rank by; expected one of {list(CV_COLUMNS)}")
    rows = {name: {column: getattr(cv, attr) for column, attr in CV_COLUMNS.items()} for name, cv in cvs.items()}
    return rank(pd.DataFrame.from_dict(rows, orient="index"), by, mode)


def cv_metrics(metric: str, cvs: Mapping[str, CVResult], best: str,
               per_model: Sequence[str] = ("score",)) -> dict[str, float]:
    """The run record's metrics for a comparison: the chosen model's, then every model's.

    Out: ``{metric: <best's out-of-fold score>, metric_cv_mean, metric_cv_std}`` and, for each model
    ``name`` and each of ``per_model`` (``"score"``: out of fold, ``"mean"``, ``"std"``: over the folds),
    ``metric_<metric_key(name)>`` (score), ``..._cv_mean`` or ``..._cv_std``. Raises ``ParameterError``
    when ``best`` is not one of ``cvs`` or ``per_model`` names something else.
    """
    if best not in cvs:
        raise ParameterError(f"Unknown model {best!r}; expected one of {list(cvs)}")
    unknown = [p for p in per_model if p not in PER_MODEL]
    if unknown:
        raise ParameterError(f"Unknown per-model figure {unknown[0]!r}; expected one of {list(PER_MODEL)}")
    chosen = cvs[best]
    metrics = {metric: chosen.score, f"{metric}_cv_mean": chosen.mean, f"{metric}_cv_std": chosen.std}
    for part in per_model:
        metrics.update({f"{metric}_{metric_key(name)}{PER_MODEL[part]}": getattr(cv, part)
                        for name, cv in cvs.items()})
    return metrics


def model_metrics(table: pd.DataFrame, columns: Sequence[str] | None = None, prefix: str = "") -> dict[str, float]:
    """Every model's figures as metrics: ``<prefix><column>_<metric_key(model)>`` for each row and column.

    In: ``table`` has one row per model, indexed by its name (as :func:`rank` returns it); ``columns``
    the figures to record (default: every column). Raises ``ParameterError`` for an unknown column.
    """
    columns = list(table.columns if columns is None else columns)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ParameterError(f"Unknown column {missing[0]!r}; expected one of {list(table.columns)}")
    return {f"{prefix}{column}_{metric_key(name)}": float(table.at[name, column])
            for name in table.index for column in columns}
