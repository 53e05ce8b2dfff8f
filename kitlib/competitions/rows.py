"""Which rows a competition's runs validate on and predict, as its prediction tables key them: one fold assignment
per competition (``Competition.folds``, ``kit folds``) and the labelled and test rows an import is checked against
(``kit import``).

A competition's :class:`Rows` holds two functions of the data folder and the :class:`FoldSettings` (the number of
folds, ``fold_seed``, ``smoke`` and the further notebook parameters the rows depend on):

- ``folds`` -> a table of the key columns of each unit that falls into a fold (a sentence for SOMD, a row
  elsewhere; key columns are the first of ``Predictions.key``) and its ``fold``, in the competition's row order:
  the rows a notebook cross-validates, the smoke subset when ``smoke``. A competition validated on one hold-out
  gives the hold-out as fold 0 and the rows that only train as fold -1;
- ``tables`` -> :class:`RowTables`: every labelled row as the out-of-fold tables hold it (key and target
  columns, one row per word for SOMD), every test row's keys, the prediction columns and which of them are class
  probabilities.

Settings a call leaves out come from the competition notebook's parameters cell (what a default ``kit run`` uses;
the smoke number of folds under ``smoke``), so ``kit folds`` and the notebook agree. A ``kit new`` competition's
rows come from its tabular problem, as its template assigns folds (:func:`tabular_rows`).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ParameterError

Competition = Any  # a kitlib.competitions.spec.Competition (spec.py imports this module, so not the other way)

__all__ = ["FoldSettings", "RowTables", "Rows", "fold_settings", "fold_table", "row_tables", "rows_of",
           "image_rows", "tabular_rows", "template_rows"]

TABULAR_SMOKE_ROWS = 400  # the rows a kit new competition's smoke run keeps (its template's data.head(400))
IMAGE_SMOKE_ROWS = 48  # the image template's data.head(48)


@dataclass(frozen=True)
class FoldSettings:
    """What a fold assignment depends on besides the data: ``n_folds`` (1 for a hold-out), ``fold_seed``,
    ``smoke`` (the smoke subset) and ``params``, the further notebook parameters the competition's rows read."""

    n_folds: int
    fold_seed: int
    smoke: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RowTables:
    """A competition's rows as its prediction tables key them.

    ``truth``: key and target columns of every labelled row, in the competition's order, one row per row of an
    out-of-fold table; ``test``: the key columns of every test row, in order; ``columns``: the prediction columns;
    ``groups``: the prediction columns that hold class probabilities, one group per target (each value in [0, 1],
    each row of a group summing to 1); empty for scores and values.
    """

    truth: pd.DataFrame
    test: pd.DataFrame
    columns: tuple[str, ...]
    groups: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Rows:
    """How a competition's rows fall into folds and how its prediction tables key them (see the module docstring).

    ``params``: the further notebook parameters ``folds`` and ``tables`` read; ``n_folds``: the notebook parameter
    holding the number of folds (``""`` for a hold-out: one fold); ``smoke_n_folds``: the number a smoke run uses.
    """

    folds: Callable[[Path, FoldSettings], pd.DataFrame]
    tables: Callable[[Path, FoldSettings], RowTables]
    params: tuple[str, ...] = ()
    n_folds: str = "n_folds"
    smoke_n_folds: int | None = 2


def rows_of(comp: Competition) -> Rows:
    """The :class:`Rows` of ``comp`` (a ``kit new`` competition's from its tabular problem); ``ParameterError`` with
    the reason for a competition without folds (the recommender) or without prediction tables."""
    if comp.rows is not None:
        return comp.rows
    if comp.tabular is not None:
        return tabular_rows(comp.tabular)
    reason = comp.no_folds or "its runs keep no prediction tables"
    raise ParameterError(f"{comp.name} has no fold assignment to share: {reason}")


def _defaults(comp: Competition) -> dict[str, Any]:
    from ..parameters import declared_values, notebook_parameters

    path = comp.notebook_path
    if not path.is_file():
        raise ParameterError(f"{comp.name}: its notebook {path} is missing, so the default number of folds and "
                             f"fold_seed are unknown; give them (--n-folds, --fold-seed)")
    return declared_values(notebook_parameters(path))


def fold_settings(comp: Competition, n_folds: int | None = None, fold_seed: int | None = None, smoke: bool = False,
                  params: Mapping[str, Any] | None = None) -> FoldSettings:
    """The :class:`FoldSettings` of a call: what is given, the rest from the notebook's parameters cell (the smoke
    number of folds under ``smoke``). Raises ``ParameterError`` for a hold-out competition given another number of
    folds than 1, fewer than 2 folds otherwise, or a parameter the competition's rows do not read."""
    rows = rows_of(comp)
    given = dict(params or {})
    unknown = sorted(set(given) - set(rows.params))
    if unknown:
        raise ParameterError(f"{comp.name}'s folds read the parameters {list(rows.params)} besides the number of folds "
                             f"and fold_seed; got {unknown}")
    smoke_k = rows.smoke_n_folds if smoke and rows.n_folds else None
    need = fold_seed is None or any(n not in given for n in rows.params) or (
        rows.n_folds and n_folds is None and smoke_k is None)
    defaults = _defaults(comp) if need else {}
    fold_seed = int(defaults.get("fold_seed", 0)) if fold_seed is None else fold_seed
    for name in rows.params:
        if name not in given:
            if name not in defaults:
                raise ParameterError(f"{comp.notebook_path}: its parameters cell declares no {name!r}, which "
                                     f"{comp.name}'s folds read")
            given[name] = defaults[name]
    if not rows.n_folds:
        if n_folds not in (None, 1):
            raise ParameterError(f"{comp.name} validates on one hold-out (fold 0; -1 for rows that only train): "
                                 f"n_folds must be 1; got {n_folds}")
        n_folds = 1
    elif n_folds is None:
        n_folds = smoke_k if smoke_k is not None else int(defaults[rows.n_folds])
    elif int(n_folds) < 2:
        raise ParameterError(f"n_folds must be at least 2; got {n_folds}")
    return FoldSettings(int(n_folds), int(fold_seed), bool(smoke), given)


def fold_table(comp: Competition, data_dir: str | Path | None = None, n_folds: int | None = None,
               fold_seed: int | None = None, smoke: bool = False,
               params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """The key columns and ``fold`` of every unit ``comp``'s notebook cross-validates (see the module docstring):
    ``Competition.folds``. Raises ``ParameterError`` as :func:`fold_settings` and :func:`rows_of`, ``DataError``
    for a data folder that is missing or malformed."""
    settings = fold_settings(comp, n_folds, fold_seed, smoke, params)
    table = rows_of(comp).folds(comp.resolve_data_dir(data_dir), settings)
    return table.reset_index(drop=True)


def row_tables(comp: Competition, data_dir: str | Path | None, settings: FoldSettings) -> RowTables:
    """``comp``'s :class:`RowTables` on ``data_dir`` (every labelled row, not the smoke subset)."""
    return rows_of(comp).tables(comp.resolve_data_dir(data_dir), settings)


# ------------------------------------------------------------------------------ kit new (tabular) competitions
def tabular_rows(problem: Any) -> Rows:
    """The :class:`Rows` of a ``kit new`` competition's tabular ``problem``: K folds stratified by the first target
    for classification (``kitlib.folds.assign_folds``), the first 400 rows in smoke mode, exactly as its template
    notebook assigns them; keys are the id column."""

    def read(data_dir: Path):
        from ..tasks.tabular import load as load_tabular

        return load_tabular(problem, data_dir)

    return _stratified_rows(problem, read, TABULAR_SMOKE_ROWS)


def _stratified_rows(problem: Any, read: Callable[[Path], Any], smoke_rows: int) -> Rows:
    """:class:`Rows` over what ``read(data_dir)`` loads (``keys``, ``targets``, ``test_keys``, ``y`` and
    ``head(n)``): K folds stratified by the first target for classification, the first ``smoke_rows`` in smoke
    mode, as the tabular and image templates assign them."""

    def load(data_dir: Path, settings: FoldSettings):
        data = read(data_dir)
        return data.head(smoke_rows) if settings.smoke else data

    def folds(data_dir: Path, settings: FoldSettings) -> pd.DataFrame:
        from ..folds import assign_folds

        data = load(data_dir, settings)
        fold = assign_folds(len(data.y), n_splits=settings.n_folds, stratify=problem.stratify(data.y),
                            seed=settings.fold_seed)
        return data.keys.reset_index(drop=True).assign(fold=fold)

    def tables(data_dir: Path, settings: FoldSettings) -> RowTables:
        return _problem_tables(problem, load(data_dir, FoldSettings(settings.n_folds, settings.fold_seed)))

    return Rows(folds=folds, tables=tables)


def _problem_tables(problem: Any, data: Any) -> RowTables:
    """The :class:`RowTables` of a ``kit new`` competition's loaded rows: keys and targets of the labelled rows,
    the test keys, the problem's prediction columns and, for classification, each target's class columns."""
    truth = pd.concat([data.keys.reset_index(drop=True), data.targets.reset_index(drop=True)], axis=1)
    groups = (tuple(tuple(problem.columns[cols]) for _, cols, _ in problem.blocks()) if problem.classification
              else ())
    return RowTables(truth, data.test_keys.reset_index(drop=True), tuple(problem.columns), groups)


def image_rows(problem: Any, inputs: Mapping[str, Any], source: str = "the spec") -> Rows:
    """The :class:`Rows` of a ``kit new`` image competition (its layout in ``inputs``, as the spec's ``[images]``
    records it): K folds stratified by the first target for classification over the rows in the training table's
    (or the class folders') order, the first 48 in smoke mode, as the image template assigns them."""

    def read(data_dir: Path):
        from ..tasks.images import ImageLayout
        from ..tasks.images import load as load_images

        return load_images(problem, ImageLayout.from_spec(inputs, source, problem.files["train"]), data_dir)

    return _stratified_rows(problem, read, IMAGE_SMOKE_ROWS)


def template_rows(problem: Any, inputs: Mapping[str, Any], template: str = "text",
                  source: str = "the spec") -> Rows | None:
    """The :class:`Rows` of a ``kit new`` text competition (``inputs["text_columns"]``): K folds stratified by the
    first target for classification and grouped by ``inputs["group_column"]`` when given
    (:func:`kitlib.tasks.text.text_folds`), the first 400 rows in smoke mode, as its template assigns them; ``None``
    for a tabular competition (its rows come from the tabular problem); an image competition's are
    :func:`image_rows`."""
    if template == "image":
        return image_rows(problem, inputs, source)
    if not inputs.get("text_columns"):
        return None
    columns, group = list(inputs["text_columns"]), inputs.get("group_column")

    def load(data_dir: Path, settings: FoldSettings):
        from ..tasks.text import SMOKE_ROWS
        from ..tasks.text import load as load_text

        data = load_text(problem, data_dir, columns, group)
        return data.head(SMOKE_ROWS) if settings.smoke else data

    def folds(data_dir: Path, settings: FoldSettings) -> pd.DataFrame:
        from ..tasks.text import text_folds

        data = load(data_dir, settings)
        return data.keys.reset_index(drop=True).assign(fold=text_folds(data, problem, settings.n_folds,
                                                                       settings.fold_seed))

    def tables(data_dir: Path, settings: FoldSettings) -> RowTables:
        return _problem_tables(problem, load(data_dir, FoldSettings(settings.n_folds, settings.fold_seed)))

    return Rows(folds=folds, tables=tables)


def holdout_table(keys: pd.DataFrame, val: np.ndarray) -> pd.DataFrame:
    """``keys`` with ``fold``: 0 for the rows ``val`` (the hold-out), -1 for the rows that only train."""
    fold = np.full(len(keys), -1, dtype=np.int64)
    fold[np.asarray(val, dtype=np.int64)] = 0
    return keys.reset_index(drop=True).assign(fold=fold)
