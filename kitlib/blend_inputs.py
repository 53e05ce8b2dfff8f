"""What ``kit blend`` combines: inputs named on the command line, found in the runs folder, read and checked.

An input is one of::

    RUN             a run's submitted predictions (runs/RUN/oof.parquet, test_predictions.parquet); or a run folder
    RUN:MODEL       one model of a run that kept every model (runs/RUN/models/MODEL/, the same two tables)
    RUN:*           every model of RUN
    'PATTERN'       every finished run whose id matches a glob ('spouse-*'; quoted, so the shell leaves it),
                    also 'PATTERN:MODEL' and 'PATTERN:*'

:func:`resolve_inputs` expands them (each once, in the order given; a glob's runs by id, a run's models by name),
:func:`load_input` reads one with its tables checked (:func:`check_tables`) and :func:`check_compatible` says
whether they can be combined: one competition, the same data, the same out-of-fold rows in the same folds, the same
test rows and prediction columns.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import predictions
from .competitions import Competition, get_competition
from .errors import DataError, ParameterError
from .run import read_manifest
from .runtime import runs_dir

__all__ = ["BlendInput", "check_compatible", "check_tables", "load_input", "resolve_inputs"]

GLOB = "*?["
MODELS = "models"  # runs/RUN/models/MODEL/ holds one model's tables


@dataclass
class BlendInput:
    """One input of a blend: ``name`` (``RUN`` or ``RUN:MODEL``), its run's folder and manifest, the folder of its
    tables (the run folder, or ``models/MODEL`` inside it) and the tables."""

    name: str
    run_id: str
    model: str | None
    dir: Path
    tables_dir: Path
    manifest: dict
    oof: pd.DataFrame
    test: pd.DataFrame | None

    @property
    def record(self) -> dict:
        """What the run recorded about these predictions: its ``score`` and ``cv`` (a model's from ``models``)."""
        if self.model is None:
            return {"score": self.manifest.get("score"), "cv": self.manifest.get("cv") or {}}
        models = self.manifest.get("models") if isinstance(self.manifest.get("models"), dict) else {}
        found = models.get(self.model) if isinstance(models.get(self.model), dict) else {}
        return {"score": found.get("score"), "cv": found.get("cv") or {}}


def _run_folder(run: str) -> Path:
    path = Path(run)
    return path if path.is_dir() else runs_dir() / run


def _matching_runs(pattern: str) -> list[Path]:
    """The finished runs (status ``ok``) whose id matches ``pattern``, by id."""
    folder = runs_dir()
    found = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if not fnmatch.fnmatchcase(path.name, pattern) or not (path / "manifest.json").is_file():
            continue
        try:
            if read_manifest(path).get("status") == "ok":
                found.append(path)
        except DataError:
            continue
    if not found:
        raise ParameterError(f"no finished run in {folder} matches {pattern!r}")
    return found


def _models(folder: Path, pattern: str) -> list[str]:
    """The models of the run ``folder`` whose name matches ``pattern`` (a name or a glob), by name."""
    root = folder / MODELS
    kept = sorted(p.name for p in root.iterdir() if (p / predictions.OOF_FILE).is_file()) if root.is_dir() else []
    if not any(c in pattern for c in GLOB):
        if pattern not in kept:
            raise DataError(f"run {folder.name} has no model {pattern!r} ({root / pattern / predictions.OOF_FILE} "
                            f"is missing); its models: {kept or 'none (it kept only its submitted predictions)'}")
        return [pattern]
    chosen = [m for m in kept if fnmatch.fnmatchcase(m, pattern)]
    if not chosen:
        raise DataError(f"run {folder.name} has no model matching {pattern!r} under {root}; its models: "
                        f"{kept or 'none (it kept only its submitted predictions)'}")
    return chosen


def resolve_inputs(targets: list[str]) -> list[tuple[Path, str | None, str]]:
    """``(run folder, model or None, name)`` for each input of ``targets`` (see the module docstring), in order.

    Raises ``ParameterError`` for a glob matching no finished run, ``DataError`` for a model a run did not keep (a
    glob over runs takes the runs that kept it, and refuses when none did)."""
    out = []
    for target in targets:
        if Path(target).is_dir() or ":" not in target:
            run, model = target, None
        else:
            run, model = target.split(":", 1)
        folders = _matching_runs(run) if any(c in run for c in GLOB) and not Path(run).is_dir() else [
            _run_folder(run)]
        found = []
        for folder in folders:
            if model is None:
                found.append((folder, None, folder.name))
                continue
            try:
                found += [(folder, m, f"{folder.name}:{m}") for m in _models(folder, model)]
            except DataError:
                if len(folders) == 1:
                    raise
        if not found:  # a glob over runs: only the runs holding such models count, and none does
            raise DataError(f"no run matching {run!r} kept a model matching {model!r}")
        out += found
    return out


def load_input(folder: Path, model: str | None = None, name: str | None = None) -> BlendInput:
    """The input ``name`` (a run folder, or one of its models), with its prediction tables checked
    (:func:`check_tables`); ``DataError`` when it is not a run, did not finish or its tables cannot be blended."""
    target = name or (folder.name if model is None else f"{folder.name}:{model}")
    manifest = read_manifest(folder)
    if not manifest:
        raise DataError(f"{target!r} is not a run (no manifest in {folder})")
    if manifest.get("status") != "ok":
        raise DataError(f"run {folder.name} has status {manifest.get('status')!r}; only finished runs blend")
    tables_dir = folder if model is None else folder / MODELS / model
    oof, test = predictions.read(tables_dir)
    found = BlendInput(target, folder.name, model, folder, tables_dir, manifest, oof, test)
    check_tables(found)
    return found


def check_tables(found: BlendInput) -> None:
    """Raise ``DataError`` naming the input, the file, the row (from 1) and the column when its out-of-fold table has
    no ``fold`` column or a table has no prediction columns or a prediction that is not a finite number (NaN, inf:
    a blend would carry it into every weight's score and the submission)."""
    for name, table in ((predictions.OOF_FILE, found.oof), (predictions.TEST_FILE, found.test)):
        if table is None:
            continue
        where = f"run {found.name}: {found.tables_dir / name}"
        if name == predictions.OOF_FILE and "fold" not in table.columns:
            raise DataError(f"{where} has no 'fold' column (its columns: {list(table.columns)[:12]}); a blend chooses "
                            f"its weights on the folds")
        cols = predictions.prediction_columns(table)
        if not cols:
            raise DataError(f"{where} has no prediction columns (names starting with {list(predictions.PREFIXES)})")
        for col in cols:
            values = pd.to_numeric(table[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            bad = ~np.isfinite(values)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                shown = table[col].iat[row]
                shown = str(shown) if isinstance(shown, (float, np.floating)) else repr(shown)
                raise DataError(f"{where} row {row + 1}: column {col!r} is {shown}; expected a finite number "
                                f"({int(bad.sum())} such row(s))")


def distinct(inputs: list[BlendInput]) -> None:
    """Raise ``ParameterError`` when one input is given twice (by id, by folder or through a glob)."""
    seen: dict[Path, str] = {}
    for found in inputs:
        tables = found.tables_dir.resolve()
        if tables in seen:
            raise ParameterError(f"run {found.name} is given twice ({seen[tables]!r} and {str(found.tables_dir)!r}); "
                                 f"a blend needs two or more different inputs")
        seen[tables] = str(found.tables_dir)


def check_compatible(inputs: list[BlendInput]) -> Competition:
    """The competition the inputs share; ``ParameterError`` naming the inputs and what differs otherwise."""
    if len(inputs) < 2:
        raise ParameterError(f"a blend needs at least two inputs; got {[i.name for i in inputs]}")
    first = inputs[0]
    comps = {i.name: i.manifest.get("competition") for i in inputs}
    if len(set(comps.values())) > 1:
        raise ParameterError(f"runs of different competitions cannot be blended: {comps}")
    comp = get_competition(first.manifest["competition"])
    spec = comp.predictions
    if spec is None:
        raise ParameterError(f"{comp.name} runs keep no blendable predictions (its spec defines none)")
    data = {i.name: sorted(d.get("sha256", "") for d in i.manifest.get("data") or [] if isinstance(d, dict))
            for i in inputs}
    for other in inputs[1:]:
        if data[other.name] != data[first.name]:
            raise ParameterError(f"runs {first.name} and {other.name} were run on different data "
                                 f"({first.manifest.get('data_dir')} vs {other.manifest.get('data_dir')})")
        _same_rows(first, other, "oof", first.oof, other.oof, [*spec.key, spec.target])
        if not first.oof["fold"].equals(other.oof["fold"]):
            row = int(np.flatnonzero(first.oof["fold"].to_numpy() != other.oof["fold"].to_numpy())[0])
            seeds = [(i.manifest.get("params") or {}).get("fold_seed") for i in (first, other)]
            raise ParameterError(f"runs {first.name} and {other.name} use different fold assignments "
                                 f"(fold_seed {seeds[0]} vs {seeds[1]}; first differing out-of-fold row {row + 1}); "
                                 "rerun one with the other's fold_seed")
        if predictions.prediction_columns(first.oof) != predictions.prediction_columns(other.oof):
            raise ParameterError(f"runs {first.name} and {other.name} predict different columns: "
                                 f"{predictions.prediction_columns(first.oof)} vs "
                                 f"{predictions.prediction_columns(other.oof)}")
        if (first.test is None) != (other.test is None):
            raise ParameterError(f"only one of {first.name} and {other.name} kept test predictions")
        if first.test is not None:
            _same_rows(first, other, "test", first.test, other.test, list(spec.key))
    return comp


def _same_rows(a: BlendInput, b: BlendInput, what: str, fa: pd.DataFrame, fb: pd.DataFrame, cols: list[str]) -> None:
    if len(fa) != len(fb):
        raise ParameterError(f"runs {a.name} and {b.name} differ in their {what} rows: {len(fa)} vs {len(fb)}")
    for col in cols:
        if col not in fa or col not in fb:
            raise ParameterError(f"runs {a.name} and {b.name}: {what} predictions lack column {col!r}")
        differ = fa[col].to_numpy() != fb[col].to_numpy()
        if differ.any():
            row = int(np.flatnonzero(differ)[0])
            raise ParameterError(f"runs {a.name} and {b.name} differ in their {what} rows: column {col!r} "
                                 f"at row {row + 1} is {fa[col].iat[row]!r} vs {fb[col].iat[row]!r}")
