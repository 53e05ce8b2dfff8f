"""``kit import``: predictions made elsewhere (a Kaggle notebook, a teammate, AutoGluon, a script) become a run.

``import_predictions("sentiment-classification", "oof.csv", "test.csv")`` reads the two files (CSV or parquet),
checks them against the competition (:mod:`kitlib.competitions.rows`) and writes a run folder
``runs/<competition>-import-<time>-<hex>/`` with both prediction tables in the run-folder contract (the
competition's row order, key columns, ``fold``, the target, the prediction columns) and a validated submission, so
``kit submit``, ``kit blend`` and ``kit runs`` treat it like any other run. Its manifest says ``imported: true``,
``source`` (each file's path and sha256), ``data`` as ``Run.log_data`` records it, ``n_folds`` and ``fold_seed``.

Each check refuses with the file, the row (from 1, as the file's data rows count) and what differs: keys that are
not the competition's labelled rows of the validated folds (or its test rows), a missing or repeated row, a
``fold`` other than ``Competition.folds`` gives (or the run of ``folds_from``), a target other than the data's, a
missing or unknown prediction column (a binary target may give the positive class's probability alone), a value
that is not a finite number, a probability outside [0, 1], class probabilities not summing to 1 (+- 1e-3).

The score is the kit's own: the competition's metric of the out-of-fold table, per fold and pooled. An import that
is implausibly good (its predictions equal the labels, or its CV mean beats every kit run of the competition on the
same data by more than 3 fold standard deviations) is accepted and flagged in the manifest's ``warnings``: nested
CV cannot see leakage inside an input.
"""
from __future__ import annotations

import contextlib
import secrets
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .competitions import Competition, get_competition
from .competitions.rows import FoldSettings, RowTables, fold_settings, rows_of
from .data import file_sha256
from .errors import DataError, ParameterError
from .import_checks import check_columns, check_keys, check_values, flags, label_copy
from .run import Run, _now, git_state, read_manifest, runs_dir, update_manifest

__all__ = ["import_predictions", "read_table"]


def read_table(path: str | Path, text: list[str]) -> pd.DataFrame:
    """A CSV or parquet file as a frame, the ``text`` columns (keys, target) of a CSV read as text. Raises
    ``DataError`` naming the file when it is missing or not readable."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file (predictions to import: CSV or parquet)")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype={c: str for c in text}, keep_default_na=False, na_values=["", "NaN", "nan"])
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable CSV or parquet file ({type(exc).__name__}: {exc})") from None


def _folds_from(comp: Competition, run: str) -> tuple[dict, pd.DataFrame]:
    """The manifest and out-of-fold ``keys + fold`` of the run ``run`` (id or folder) whose folds an import takes."""
    from .predictions import read

    folder = Path(run) if Path(run).is_dir() else runs_dir() / run
    manifest = read_manifest(folder)
    if not manifest:
        raise ParameterError(f"--folds-from {run!r} is not a run (no manifest in {folder})")
    if manifest.get("competition") != comp.name:
        raise ParameterError(f"--folds-from {run!r} is a run of {manifest.get('competition')!r}, not {comp.name!r}")
    oof, _ = read(folder)
    keys = list(comp.predictions.key)
    missing = [c for c in [*keys, "fold"] if c not in oof.columns]
    if missing:
        raise DataError(f"{folder / 'oof.parquet'} lacks the column(s) {missing}: its folds cannot be taken")
    return manifest, oof[[*keys, "fold"]]


def _data_shas(root: Path) -> list[str]:
    """The sha256 of every file ``Run.log_data`` records for ``root``, sorted."""
    files = [p for p in root.rglob("*") if p.is_file() and not any(
        part.startswith(".") for part in p.relative_to(root).parts)] if root.is_dir() else []
    return sorted(file_sha256(p) for p in files)


def _expected(tables: RowTables, assignment: pd.DataFrame) -> pd.DataFrame:
    """The out-of-fold rows an import must hold: every labelled row whose unit the ``assignment`` (key columns and
    ``fold``) puts in a validated fold (``fold >= 0``), in the competition's order, with its ``fold``."""
    on = [c for c in assignment.columns if c != "fold"]
    merged = tables.truth.merge(assignment, on=on, how="inner", validate="many_to_one", sort=False)
    return merged[merged["fold"] >= 0].reset_index(drop=True)


def _cv(comp: Competition, oof: pd.DataFrame) -> dict:
    """The manifest's ``cv`` of the out-of-fold table: the competition's metric per fold and pooled."""
    ids = sorted(set(oof["fold"].tolist()))
    scores = [float(comp.predictions.score(oof[oof["fold"] == k])) for k in ids]
    return {"metric": comp.metric, "mean": float(np.mean(scores)), "std": float(np.std(scores)), "folds": scores,
            "fold_ids": ids, "n_rows": int(len(oof)), "score": float(comp.predictions.score(oof))}


def import_predictions(competition: str | Competition, oof_path: str | Path, test_path: str | Path,
                       data_dir: str | Path | None = None, folds_from: str | None = None, n_folds: int | None = None,
                       fold_seed: int | None = None, message: str = "") -> Path:
    """Import the out-of-fold predictions ``oof_path`` and test predictions ``test_path`` of ``competition`` made
    on ``data_dir`` (default: the folds-from run's, else the competition's) as a new run folder; return it.

    Folds: the file's ``fold`` column, checked against ``Competition.folds(data_dir, n_folds, fold_seed)`` (what is
    not given from the notebook's defaults), or those of the run ``folds_from`` (its rows, folds and settings).
    Raises ``ParameterError`` for a competition without folds or a folds-from run of another competition or data,
    ``DataError`` naming the file, row and what differs for predictions that do not fit (module docstring),
    ``SubmissionError`` when the submission written from the test predictions does not validate.
    """
    from .provenance import is_smoke

    comp = get_competition(competition)
    rows = rows_of(comp)
    t0, started = time.perf_counter(), _now()
    smoke = False
    if folds_from and (n_folds is not None or fold_seed is not None):
        raise ParameterError("--folds-from RUN takes the run's folds and settings; --n-folds and --fold-seed go "
                             "without it")
    if folds_from:
        run, assignment = _folds_from(comp, folds_from)
        params = run.get("params") or {}
        n_folds = int(params.get(rows.n_folds) or 1) if rows.n_folds else 1
        settings = FoldSettings(n_folds, int(params.get("fold_seed", 0)), is_smoke(run),
                                {p: params[p] for p in rows.params if p in params})
        data = comp.resolve_data_dir(data_dir if data_dir else run.get("data_dir"))
        recorded = sorted(d.get("sha256", "") for d in run.get("data") or [] if isinstance(d, dict))
        if recorded != _data_shas(data):
            raise ParameterError(f"--folds-from {run.get('run_id', folds_from)} ran on {run.get('data_dir')}, whose "
                                 f"files differ from those of {data}; import on the run's data")
        smoke = settings.smoke
    else:
        settings = fold_settings(comp, n_folds, fold_seed)
        data = comp.resolve_data_dir(data_dir)
        assignment = rows.folds(data, settings)
    tables = rows.tables(data, settings)
    spec = comp.predictions
    keys = list(spec.key)
    targets = [c for c in tables.truth.columns if c not in keys]
    expected = _expected(tables, assignment)
    oof_file, test_file = Path(oof_path), Path(test_path)
    raw_oof, raw_test = read_table(oof_file, keys + targets), read_table(test_file, keys)
    source = (f"run {folds_from}'s out-of-fold table" if folds_from else
              f"kit folds {comp.name} --n-folds {settings.n_folds} --fold-seed {settings.fold_seed}")
    oof = check_keys(raw_oof, oof_file, expected, tables.truth, keys, "out-of-fold")
    oof = check_columns(oof, oof_file, tables, fold=expected["fold"], target=expected[targets], fold_source=source,
                        fold_required=not folds_from)
    test = check_keys(raw_test, test_file, tables.test, tables.test, keys, "test")
    test = check_columns(test, test_file, tables)
    check_values(oof, oof_file, tables)
    check_values(test, test_file, tables)
    oof_table = pd.concat([expected[[*keys, "fold", *targets]], oof[list(tables.columns)]], axis=1)
    test_table = pd.concat([tables.test[keys].reset_index(drop=True), test[list(tables.columns)]], axis=1)
    cv = _cv(comp, oof_table)
    warnings = flags(comp, cv, _data_shas(data), label_copy(oof_table, tables, spec.target))
    submission = spec.to_submission(test_table, data)
    out = runs_dir() / f"{comp.name}-import-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
    out.mkdir(parents=True)
    try:
        commit, dirty = git_state()
        params = {"n_folds": settings.n_folds, "fold_seed": settings.fold_seed, "smoke": smoke,
                  "folds_from": folds_from or "", **dict(settings.params)}
        update_manifest(out, run_id=out.name, competition=comp.name, kind="import", imported=True, status="running",
                        started=started, message=message, params=params, n_folds=settings.n_folds,
                        fold_seed=settings.fold_seed, smoke=smoke, warnings=warnings, git_commit=commit,
                        git_dirty=dirty, source={"oof": {"path": str(oof_file.resolve()), "sha256": file_sha256(
                            oof_file)}, "test": {"path": str(test_file.resolve()), "sha256": file_sha256(test_file)}})
        run = Run(out, comp.name, params)
        run.log_data(data)
        run.log_cv(cv, oof_table, test_table)
        run.log_metrics({comp.metric: cv["score"], f"{comp.metric}_cv_mean": cv["mean"]})
        from .submit import write_submission

        write_submission(submission, comp, run=run, data_dir=data)
        update_manifest(out, status="ok", seconds=round(time.perf_counter() - t0, 2))
    except BaseException as exc:  # a failed import leaves a failed run with the reason, never a 'running' one
        from .masking import mask

        with contextlib.suppress(OSError):
            update_manifest(out, status="interrupted" if isinstance(exc, KeyboardInterrupt) else "failed",
                            error=mask(f"{type(exc).__name__}: {exc}"), seconds=round(time.perf_counter() - t0, 2))
        raise
    return out
