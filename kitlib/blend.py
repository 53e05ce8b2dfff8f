"""``kit blend``: combine the out-of-fold and test predictions of runs, models inside runs and imported predictions.

``blend(["run-a", "run-b:lightgbm", "'spouse-*'"], method="hill")`` resolves and checks the inputs
(:mod:`kitlib.blend_inputs`: one competition, the same data, rows, folds and prediction columns), stacks their
prediction columns into an ``(inputs, rows, columns)`` array and hands it to :func:`kitlib.ensemble.nested_cv`
under the competition's own metric (:mod:`kitlib.blend_scoring`). Methods (``METHODS``; default ``weights`` for two
or three inputs, ``hill`` above):

- ``hill``: greedy forward selection with replacement from the best single input, up to ``max_steps`` additions,
  optionally bagged (``bags`` hills over a random ``bag_fraction`` of the inputs);
- ``weights``: the best point of a simplex grid (random simplex points above four inputs); ``mean``: equal weights;
- ``rank``: equal weights over rank-scaled inputs, for metrics that read only the order of predictions;
- ``stack``: a second-level model (``stacker``: logistic or ridge by default, or lightgbm) on the inputs' OOF
  predictions.

The reported score is the nested CV: for each fold the method chooses on the other folds and is scored on it (mean
+- std over the folds, and pooled); beside it the final choice's score on every row, labelled ``in-sample
(optimistic)``. Runs with one validation fold take only ``mean`` and ``rank``. The result is a new run folder
``runs/<competition>-blend-<time>-<hex>/`` with a manifest (inputs, method, weights or the stacker, cv, each input's
CV on the same folds), ``oof.parquet`` (the nested blend), ``test_predictions.parquet`` and a validated submission,
so ``kit submit <blend-run>`` and ``kit runs`` treat it like any other run.
"""
from __future__ import annotations

import contextlib
import secrets
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from . import predictions
from .blend_inputs import BlendInput, check_compatible, distinct, load_input, resolve_inputs
from .blend_scoring import objective, stacker_record
from .competitions import Competition
from .ensemble import NestedCV, Settings, nested_cv, score_inputs
from .errors import DataError, ParameterError, check_choice
from .run import Run, _now, git_state, runs_dir, update_manifest

__all__ = ["METHODS", "blend", "default_method"]

METHODS = ("hill", "weights", "mean", "rank", "stack")
SINGLE_FOLD = ("mean", "rank")  # what one validation fold allows: nothing is chosen on other folds


def default_method(n_inputs: int) -> str:
    """``weights`` for two or three inputs, ``hill`` above (a grid over the simplex thins out fast)."""
    return "weights" if n_inputs <= 3 else "hill"


def blend(targets: list[str], method: str | None = None, message: str = "", settings: Settings | None = None) -> Path:
    """Blend the inputs ``targets`` (see :mod:`kitlib.blend_inputs`) with ``method`` (default
    :func:`default_method`) into a new run folder; return it. ``settings``: hill's ``max_steps``, ``bags``,
    ``bag_fraction``, ``seed``; stack's ``stacker``.

    Raises ``ParameterError`` (naming the inputs and what differs) for inputs that cannot be combined, an unknown
    method, a method that chooses on inputs with one validation fold, ``rank`` for a metric that scores values, or
    ``stack`` where the target is not what the prediction columns predict; ``DataError`` for an input without
    prediction files; ``SubmissionError`` when the blended submission does not validate.
    """
    if method is not None:
        check_choice("blend method", method, METHODS)
    t0, started = time.perf_counter(), _now()
    settings = settings or Settings()
    inputs = [load_input(folder, model, name) for folder, model, name in resolve_inputs(targets)]
    distinct(inputs)
    comp = check_compatible(inputs)
    method = method or default_method(len(inputs))
    columns = predictions.prediction_columns(inputs[0].oof)
    folds = inputs[0].oof["fold"].to_numpy(dtype=np.int64)
    _check_method(method, inputs, folds)
    goal = objective(comp, inputs[0].oof, columns)
    if method == "rank" and goal.scorer.order is None:
        raise ParameterError(f"rank averaging keeps only the order of each input's predictions, so it suits metrics "
                             f"that read nothing else (ROC AUC, MAP@k, the most probable class); {comp.name}'s "
                             f"{comp.metric!r} scores the values themselves: use method 'mean', 'weights', 'hill' or "
                             "'stack'")
    stack = np.stack([i.oof[columns].to_numpy(dtype=np.float64) for i in inputs])
    result = nested_cv(goal.method_for(method), stack, goal.y, folds, goal.scorer, settings)
    singles = score_inputs(stack, goal.y, folds, goal.scorer)
    oof = _with_columns(inputs[0].oof, columns, result.oof)
    test = None
    if inputs[0].test is not None:
        test_stack = np.stack([i.test[columns].to_numpy(dtype=np.float64) for i in inputs])
        test = _with_columns(inputs[0].test, columns, result.predict(test_stack))
    first = inputs[0].manifest
    submission = _submission(comp, first, test, inputs[0].name) if test is not None else None
    out = _new_blend_dir(comp.name)
    try:
        _record(out, comp, inputs, result, message, started, settings, singles)
        run = Run(out, comp.name, {"method": method})
        cv = result.summary(comp.metric)
        run.log_cv(cv, oof, test)
        run.log_metrics({comp.metric: cv["score"], f"{comp.metric}_cv_mean": cv["mean"],
                         f"{comp.metric}_in_sample": cv["in_sample"]})
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


def _check_method(method: str, inputs: list[BlendInput], folds: np.ndarray) -> None:
    if method not in SINGLE_FOLD and len(set(folds[folds >= 0].tolist())) < 2:
        raise ParameterError(f"runs {[i.name for i in inputs]} hold a single validation fold, so {method} cannot "
                             "choose on other folds and be scored on this one; use --method mean or rank")


def _with_columns(frame: pd.DataFrame, columns: list[str], values: np.ndarray) -> pd.DataFrame:
    """``frame`` with its prediction ``columns`` replaced by ``values`` ``(n, len(columns))``."""
    out = frame.copy()
    out[columns] = np.asarray(values, dtype=np.float64).reshape(len(frame), len(columns))
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


def _rounded(weights: np.ndarray | None) -> list[float] | None:
    return None if weights is None else [round(float(w), 6) for w in weights]


def _choice(result: NestedCV, names: list[str], columns: list[str]) -> dict:
    """What the final ensemble is: its weights per input (``None`` for stack), the stacker, hill's steps."""
    final = result.final
    record: dict = {"weights": None if final.weights is None else dict(zip(names, _rounded(final.weights))),
                    "fold_weights": {int(k): _rounded(w) for k, w in result.fold_weights.items()}}
    if final.stacker is not None:
        record["stacker"] = stacker_record(final.stacker, names, columns)
    if final.trace:
        record["hill_steps"] = [{"bag": s.bag, "step": s.step, "input": names[s.input], "score": s.score}
                                for s in final.trace]
    return record


def _record(out: Path, comp: Competition, inputs: list[BlendInput], result: NestedCV, message: str, started: str,
            settings: Settings, singles: list) -> None:
    """The blend's manifest before its tables: inputs, method, weights or stacker, data, each input's CV on the
    same folds, what it inherits (``smoke``, ``demo``)."""
    from .provenance import is_smoke, on_demo_data

    first = inputs[0].manifest
    names = [i.name for i in inputs]
    commit, dirty = git_state()
    smoke = any(is_smoke(i.manifest) for i in inputs)
    chosen = {k: v for k, v in asdict(settings).items()
              if k in {"hill": ("max_steps", "bags", "bag_fraction", "tol", "seed"),
                       "weights": ("seed",), "stack": ("stacker", "logits", "alpha", "seed")}.get(result.method, ())}
    scores = {i.name: {"score": i.record["score"], "cv_mean": i.record["cv"].get("mean"),
                       "cv_std": i.record["cv"].get("std"), "blend_cv": {"mean": s.mean, "std": s.std,
                                                                         "score": s.score, "folds": s.fold_scores}}
              for i, s in zip(inputs, singles)}
    update_manifest(out, run_id=out.name, competition=comp.name, kind="blend", status="running", started=started,
                    message=message, method=result.method, inputs=names, settings=chosen,
                    **_choice(result, names, predictions.prediction_columns(inputs[0].oof)),
                    data_dir=first.get("data_dir"), data=first.get("data"),
                    params={"method": result.method, "inputs": names, "fold_seed": (first.get("params") or {}).get(
                        "fold_seed"), "smoke": smoke, **chosen},
                    smoke=smoke, demo=any(on_demo_data(i.manifest, comp) for i in inputs),
                    git_commit=commit, git_dirty=dirty, input_scores=scores)


def _fail(out: Path, exc: BaseException, t0: float) -> None:
    """Mark the blend run ``out`` failed with ``exc`` (interrupted for Ctrl-C); a record that cannot be written
    either leaves the folder as it is (the error raised says why)."""
    from .masking import mask

    status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
    with contextlib.suppress(OSError):
        update_manifest(out, status=status, error=mask(f"{type(exc).__name__}: {exc}"),
                        seconds=round(time.perf_counter() - t0, 2))
