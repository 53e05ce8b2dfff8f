"""``kit blend``: combine the out-of-fold and test predictions of several runs of one competition.

``blend(["run-a", "run-b"], method="weights")`` checks that the runs can be combined (same competition,
same data, the same out-of-fold rows in the same folds, the same test rows, the same prediction columns),
then weights their prediction columns:

- ``mean``: equal weights;
- ``weights``: the weights that score best on the out-of-fold rows under the competition's own metric,
  searched over a grid on the simplex (equal weights first, so ties keep them). The blend's CV is
  *nested*: for each fold the weights are chosen on the other folds and scored on it, so the reported
  score is never the weights' own training score. The test predictions use weights chosen on all rows.

The result is a new run folder ``runs/<competition>-blend-<time>-<hex>/`` with a manifest (inputs,
weights, cv), ``oof.parquet`` (the nested blend), ``test_predictions.parquet`` and a validated
submission, so ``kit submit <blend-run>`` and ``kit runs`` treat it like any other run.
"""
from __future__ import annotations

import contextlib
import itertools
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import predictions
from .competitions import Competition, get_competition
from .errors import DataError, ParameterError, check_choice
from .run import Run, _now, git_state, read_manifest, runs_dir, update_manifest

METHODS = ("weights", "mean")


@dataclass
class BlendInput:
    """One run to blend: its id, folder, manifest and prediction tables."""

    run_id: str
    dir: Path
    manifest: dict
    oof: pd.DataFrame
    test: pd.DataFrame | None


def load_input(target: str) -> BlendInput:
    """A run by id or folder, with its prediction tables checked (:func:`check_tables`); ``DataError`` when it has
    none, did not finish or its tables cannot be blended."""
    path = Path(target)
    folder = path if path.is_dir() else runs_dir() / target
    manifest = read_manifest(folder)
    if not manifest:
        raise DataError(f"{target!r} is not a run (no manifest in {folder})")
    if manifest.get("status") != "ok":
        raise DataError(f"run {folder.name} has status {manifest.get('status')!r}; only finished runs blend")
    oof, test = predictions.read(folder)
    found = BlendInput(folder.name, folder, manifest, oof, test)
    check_tables(found)
    return found


def check_tables(found: BlendInput) -> None:
    """Raise ``DataError`` naming the run, the file, the row (from 1) and the column when its out-of-fold table has
    no ``fold`` column or a table has no prediction columns or a prediction that is not a finite number (NaN, inf:
    a blend would carry it into every weight's score and the submission)."""
    for name, table in ((predictions.OOF_FILE, found.oof), (predictions.TEST_FILE, found.test)):
        if table is None:
            continue
        where = f"run {found.run_id}: {found.dir / name}"
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


def _distinct(inputs: list[BlendInput]) -> None:
    """Raise ``ParameterError`` when one run is given twice (by id or by folder): a blend of a run with itself."""
    seen: dict[Path, str] = {}
    for found in inputs:
        folder = found.dir.resolve()
        if folder in seen:
            raise ParameterError(f"run {found.run_id} is given twice ({seen[folder]!r} and {str(found.dir)!r}); a "
                                 f"blend needs two or more different runs")
        seen[folder] = str(found.dir)


def check_compatible(inputs: list[BlendInput]) -> Competition:
    """The competition the runs share; ``ParameterError`` naming the runs and what differs otherwise."""
    if len(inputs) < 2:
        raise ParameterError(f"a blend needs at least two runs; got {[i.run_id for i in inputs]}")
    first = inputs[0]
    comps = {i.run_id: i.manifest.get("competition") for i in inputs}
    if len(set(comps.values())) > 1:
        raise ParameterError(f"runs of different competitions cannot be blended: {comps}")
    comp = get_competition(first.manifest["competition"])
    spec = comp.predictions
    if spec is None:
        raise ParameterError(f"{comp.name} runs keep no blendable predictions (its spec defines none)")
    data = {i.run_id: sorted(d["sha256"] for d in i.manifest.get("data") or []) for i in inputs}
    for other in inputs[1:]:
        if data[other.run_id] != data[first.run_id]:
            raise ParameterError(f"runs {first.run_id} and {other.run_id} were run on different data "
                                 f"({first.manifest.get('data_dir')} vs {other.manifest.get('data_dir')})")
        _same_rows(first, other, "oof", first.oof, other.oof, [*spec.key, spec.target])
        if not first.oof["fold"].equals(other.oof["fold"]):
            row = int(np.flatnonzero(first.oof["fold"].to_numpy() != other.oof["fold"].to_numpy())[0])
            seeds = [i.manifest.get("params", {}).get("fold_seed") for i in (first, other)]
            raise ParameterError(f"runs {first.run_id} and {other.run_id} use different fold assignments "
                                 f"(fold_seed {seeds[0]} vs {seeds[1]}; first differing out-of-fold row {row + 1}); "
                                 "rerun one with the other's fold_seed")
        if predictions.prediction_columns(first.oof) != predictions.prediction_columns(other.oof):
            raise ParameterError(f"runs {first.run_id} and {other.run_id} predict different columns: "
                                 f"{predictions.prediction_columns(first.oof)} vs "
                                 f"{predictions.prediction_columns(other.oof)}")
        if (first.test is None) != (other.test is None):
            raise ParameterError(f"only one of {first.run_id} and {other.run_id} kept test predictions")
        if first.test is not None:
            _same_rows(first, other, "test", first.test, other.test, list(spec.key))
    return comp


def _same_rows(a: BlendInput, b: BlendInput, what: str, fa: pd.DataFrame, fb: pd.DataFrame, cols: list[str]) -> None:
    if len(fa) != len(fb):
        raise ParameterError(f"runs {a.run_id} and {b.run_id} differ in their {what} rows: {len(fa)} vs {len(fb)}")
    for col in cols:
        if col not in fa or col not in fb:
            raise ParameterError(f"runs {a.run_id} and {b.run_id}: {what} predictions lack column {col!r}")
        differ = fa[col].to_numpy() != fb[col].to_numpy()
        if differ.any():
            row = int(np.flatnonzero(differ)[0])
            raise ParameterError(f"runs {a.run_id} and {b.run_id} differ in their {what} rows: column {col!r} "
                                 f"at row {row + 1} is {fa[col].iat[row]!r} vs {fb[col].iat[row]!r}")


def candidate_weights(n: int, seed: int = 0) -> np.ndarray:
    """Weight vectors on the simplex to search, equal weights first: a grid of step 0.05 (two runs) or
    0.1 (three or four), else 1,000 Dirichlet draws and the vertices."""
    rows = [np.full(n, 1.0 / n)]
    if n <= 4:
        steps = 20 if n == 2 else 10
        for combo in itertools.product(range(steps + 1), repeat=n - 1):
            if sum(combo) <= steps:
                rows.append(np.array([*combo, steps - sum(combo)], dtype=np.float64) / steps)
    else:
        rows += list(np.eye(n)) + list(np.random.default_rng(seed).dirichlet(np.ones(n), size=1000))
    return np.array(rows)


def combine(frames: list[pd.DataFrame], weights: np.ndarray) -> pd.DataFrame:
    """The first frame with its prediction columns replaced by the weighted sum over ``frames``."""
    cols = predictions.prediction_columns(frames[0])
    out = frames[0].copy()
    out[cols] = sum(w * f[cols].to_numpy(dtype=np.float64) for w, f in zip(weights, frames))
    return out


def best_weights(frames: list[pd.DataFrame], comp: Competition, candidates: np.ndarray) -> np.ndarray:
    """The candidate whose blend scores best on these rows (the first of equals)."""
    sign = 1.0 if comp.mode == "max" else -1.0
    scores = [sign * comp.predictions.score(combine(frames, w)) for w in candidates]
    return candidates[int(np.argmax(scores))]


def blend(targets: list[str], method: str = "weights", message: str = "") -> Path:
    """Blend the runs ``targets`` (ids or folders) into a new run folder; return it.

    Raises ``ParameterError`` (naming the runs and what differs) for runs that cannot be combined or an
    unknown method, ``DataError`` for a run without prediction files, ``SubmissionError`` when the blended
    submission does not validate.
    """
    check_choice("blend method", method, METHODS)
    t0, started = time.perf_counter(), _now()
    inputs = [load_input(t) for t in targets]
    _distinct(inputs)
    comp = check_compatible(inputs)
    spec = comp.predictions
    oofs = [i.oof for i in inputs]
    candidates = candidate_weights(len(inputs)) if method == "weights" else candidate_weights(len(inputs))[:1]
    folds = inputs[0].oof["fold"].to_numpy()
    if method == "weights" and len(set(folds.tolist())) < 2:
        raise ParameterError(f"runs {[i.run_id for i in inputs]} hold a single validation fold, so weights cannot "
                             "be chosen on other folds and scored on this one; use --method mean")
    nested, fold_scores, fold_weights = [], [], {}
    for k in sorted(set(folds.tolist())):
        train, held = folds != k, folds == k
        w = best_weights([f[train] for f in oofs], comp, candidates) if len(candidates) > 1 else candidates[0]
        part = combine([f[held] for f in oofs], w)
        nested.append(part)
        fold_scores.append(float(spec.score(part)))
        fold_weights[int(k)] = [round(float(x), 6) for x in w]
    blended_oof = pd.concat(nested).loc[inputs[0].oof.index]
    final = best_weights(oofs, comp, candidates) if len(candidates) > 1 else candidates[0]
    score = float(spec.score(blended_oof))
    test = combine([i.test for i in inputs], final) if inputs[0].test is not None else None
    first = inputs[0].manifest
    submission = _submission(comp, first, test, inputs[0].run_id) if test is not None else None
    cv = {"metric": comp.metric, "mean": float(np.mean(fold_scores)), "std": float(np.std(fold_scores)),
          "folds": fold_scores, "n_rows": int(len(blended_oof)), "score": score, "nested": method == "weights"}
    out = _new_blend_dir(comp.name)
    try:
        _record(out, comp, inputs, method, message, started, final, fold_weights)
        run = Run(out, comp.name, {"method": method})
        run.log_cv(cv, blended_oof, test)
        run.log_metrics({comp.metric: score, f"{comp.metric}_cv_mean": cv["mean"]})
        if submission is not None:
            from .submit import write_submission

            write_submission(submission[0], comp, run=run, data_dir=submission[1])
        update_manifest(out, status="ok", seconds=round(time.perf_counter() - t0, 2))
    except BaseException as exc:  # a failed blend leaves a failed run (with the reason), never a 'running' one
        _fail(out, exc, t0)
        if isinstance(exc, OSError):
            raise DataError(f"blend {out.name} failed: {exc.strerror or exc}"
                            + (f": {exc.filename}" if exc.filename else "")) from None
        raise
    return out


def _submission(comp: Competition, first: dict, test: pd.DataFrame, first_id: str) -> tuple:
    """``(the submission of the blended test predictions, the data folder it is checked against)``, made before the
    blend's folder exists; ``DataError`` when the data folder the first run recorded is gone (moved or deleted)."""
    data_dir = Path(first["data_dir"]) if first.get("data_dir") else comp.resolve_data_dir(None)
    if not data_dir.is_dir():
        raise DataError(f"run {first_id} recorded its data folder {str(data_dir)!r}, which does not exist (moved or "
                        f"deleted?): the blend's submission is written against its sample; put the folder back or run "
                        f"again on the new one")
    try:
        return comp.predictions.to_submission(test, data_dir), data_dir
    except (OSError, KeyError) as exc:
        raise DataError(f"cannot write the blend's submission from {data_dir}: {type(exc).__name__}: {exc}") from None


def _new_blend_dir(name: str) -> Path:
    """A fresh ``runs/<competition>-blend-<time>-<hex>/``."""
    run_id = f"{name}-blend-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
    out = runs_dir() / run_id
    out.mkdir(parents=True)
    return out


def _record(out: Path, comp: Competition, inputs: list[BlendInput], method: str, message: str, started: str,
            final: np.ndarray, fold_weights: dict) -> None:
    """The blend's manifest before its tables: inputs, weights, data, what it inherits (``smoke``, ``demo``)."""
    from .provenance import is_smoke, on_demo_data

    first = inputs[0].manifest
    commit, dirty = git_state()
    smoke = any(is_smoke(i.manifest) for i in inputs)
    update_manifest(out, run_id=out.name, competition=comp.name, kind="blend", status="running", started=started,
                    message=message, method=method, inputs=[i.run_id for i in inputs],
                    weights={i.run_id: round(float(w), 6) for i, w in zip(inputs, final)},
                    fold_weights=fold_weights, data_dir=first.get("data_dir"), data=first.get("data"),
                    params={"method": method, "inputs": [i.run_id for i in inputs],
                            "fold_seed": first.get("params", {}).get("fold_seed"), "smoke": smoke},
                    smoke=smoke, demo=any(on_demo_data(i.manifest, comp) for i in inputs),
                    git_commit=commit, git_dirty=dirty,
                    input_scores={i.run_id: {"score": i.manifest.get("score"),
                                             "cv_mean": (i.manifest.get("cv") or {}).get("mean"),
                                             "cv_std": (i.manifest.get("cv") or {}).get("std")} for i in inputs})


def _fail(out: Path, exc: BaseException, t0: float) -> None:
    """Mark the blend run ``out`` failed with ``exc`` (interrupted for Ctrl-C); a record that cannot be written
    either leaves the folder as it is (the error raised says why)."""
    from .masking import mask

    status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
    with contextlib.suppress(OSError):
        update_manifest(out, status=status, error=mask(f"{type(exc).__name__}: {exc}"),
                        seconds=round(time.perf_counter() - t0, 2))
