"""The image template's steps: decode once, evaluate the models in order within the budget, choose the final one.

- :func:`decode`: every training and test picture decoded and resized once into the content-keyed cache beside the
  data (or the user cache for a read-only folder such as Kaggle's input), as memory maps;
- :func:`evaluate_models`: ``pixels`` (the cheap baseline, always first) then ``cnn``, each cross-validated on the
  same folds; each returns a :class:`kitlib.tasks.tabular.ModelResult` (``oof``, ``test``, fold scores, seconds),
  so the tabular template's ensemble (:func:`kitlib.tasks.tabular.choose_final`), run-folder tables
  (:func:`kitlib.tasks.tabular.prediction_tables`) and records apply unchanged. The CNN's epochs and folds follow
  :class:`~.plan.CNNPlan`; a CNN cut short of some folds keeps NaN out-of-fold rows there, and the ensemble and
  the comparison then use the folds every model ran (:func:`common_folds`);
- :class:`ImageInputs`: what the final choice reads (``problem``, ``y``, ``folds``, ``fold_ids``, ``score``).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ...budget import Budget
from ...data import writable_cache_dir
from ...errors import ParameterError
from ...fitting import Recipe
from ..tabular.evaluation import ModelResult
from ..tabular.problem import Problem
from .augment import tta_views
from .cnn import SmallCNN, save_weights
from .data import ImageData
from .loader import decoded
from .models import CNNSettings, StopWhen, cnn_fold, measure_speed, pixel_features, pixels_fold
from .plan import CNNPlan, reserve_seconds

__all__ = ["MODELS", "ImageInputs", "parse_models", "decode", "evaluate_models", "common_folds"]

MODELS = ("pixels", "cnn")
Report = Callable[[str], None]


def parse_models(text: str) -> tuple[str, ...]:
    """The models a ``models`` parameter names, ``pixels`` first (the baseline always runs). Raises
    ``ParameterError`` naming an unknown one and the choices."""
    names = [m.strip() for m in str(text).split(",") if m.strip()]
    unknown = [m for m in names if m not in MODELS]
    if unknown:
        raise ParameterError(f"models {text!r}: unknown {unknown}; expected a comma-separated list of {list(MODELS)}")
    return tuple(["pixels"] + [m for m in dict.fromkeys(names) if m != "pixels"])


@dataclass
class ImageInputs:
    """What every model is evaluated on: the ``problem``, ``y`` (``(n, targets)``), the decoded ``pixels`` and
    ``test_pixels`` (``uint8`` memory maps) and ``folds`` (a fold id per row)."""

    problem: Problem
    y: np.ndarray
    pixels: np.ndarray
    test_pixels: np.ndarray
    folds: np.ndarray

    @property
    def fold_ids(self) -> list[int]:
        """The fold ids, sorted (rows with a negative id take part in nothing)."""
        return sorted(set(np.asarray(self.folds)[np.asarray(self.folds) >= 0].tolist()))

    def score(self, rows: np.ndarray, pred: np.ndarray) -> float:
        """The problem's metric of ``pred`` on ``rows``."""
        return self.problem.score(self.y[rows], pred)


def decode(data: ImageData, size: int, data_dir: str | Path, *, workers: int = 2, cache: bool = True,
           progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(train pixels, test pixels)``: ``uint8`` ``(n, size, size, channels)`` memory maps of the decoded, resized
    pictures (cached beside the data: ``.kitcache/images/``). Raises ``DataError`` naming the file and its row for
    a picture that does not decode."""
    folder = writable_cache_dir(data_dir, "images") if cache else None
    return tuple(decoded(paths, size, data.channels, folder, where=where, workers=workers, progress=progress)
                 for paths, where in ((data.paths, data.where), (data.test_paths, data.test_where)))


def _result(name: str, inputs: ImageInputs, oof: np.ndarray, test: np.ndarray, done: list[int],
            infos: list[dict], seconds: float) -> ModelResult:
    folds = np.asarray(inputs.folds)
    scores = [inputs.score(np.flatnonzero(folds == k), oof[folds == k]) for k in done]
    rows = np.flatnonzero(np.isin(folds, done))
    return ModelResult(name=name, model=name, oof=oof, test=test, fold_ids=list(done), fold_scores=scores,
                       score=inputs.score(rows, oof[rows]), infos=[infos], seconds=seconds, seeds=[0])


def _run_folds(name: str, fit_fold: Callable, inputs: ImageInputs, width: int,
               epochs_for: Callable[[int, int], int] | None = None,
               after: Callable[[float], None] | None = None, report: Report | None = None) -> ModelResult | None:
    """Run the folds in order (``epochs_for(k, left)`` 0 stops before fold ``k``); None when no fold ran. ``report``
    says one line per fold."""
    started = time.perf_counter()
    folds = np.asarray(inputs.folds)
    oof = np.full((len(folds), width), np.nan)
    test, done, infos = None, [], []
    ids = inputs.fold_ids
    for i, k in enumerate(ids):
        if epochs_for is not None and not epochs_for(k, len(ids) - i):
            break
        fold_started = time.perf_counter()
        train, val = np.flatnonzero((folds != k) & (folds >= 0)), np.flatnonzero(folds == k)
        result = fit_fold(k, train, val)
        oof[val] = result.val
        test = result.test if test is None else test + result.test
        done.append(k)
        infos.append({k2: v for k2, v in result.info.items() if k2 != "history"})
        seconds = time.perf_counter() - fold_started
        if after is not None:
            after(seconds)
        if report is not None:
            epochs = f"{result.info['epochs']} epochs, " if "epochs" in result.info else ""
            report(f"  {name} fold {k}: {epochs}{inputs.problem.metric} {inputs.score(val, result.val):.4f}, "
                   f"{seconds:.0f} s")
    if not done:
        return None
    return _result(name, inputs, oof, test / len(done), done, infos, time.perf_counter() - started)


def evaluate_models(models: Sequence[str], inputs: ImageInputs, recipe: Recipe, settings: CNNSettings,
                    budget: Budget, *, pixel_size: int = 32, pixel_c: float = 0.01,
                    weights_dir: str | Path | None = None, report: Report = print) -> dict[str, ModelResult]:
    """Cross-validate ``models`` (see :func:`parse_models`) in order; return a :class:`ModelResult` per model that
    ran at least one fold. ``weights_dir``: where the CNN's first fold keeps its weights (``cnn.pt``,
    ``cnn.json``: a folder the ``model`` parameter of a later run can start from)."""
    problem, width = inputs.problem, len(inputs.problem.columns)
    results: dict[str, ModelResult] = {}
    for name in parse_models(",".join(models)):
        if name == "pixels":
            features = pixel_features(inputs.pixels, pixel_size)
            test_features = pixel_features(inputs.test_pixels, pixel_size)
            fit_fold = pixels_fold(problem, features, inputs.y, test_features, c=pixel_c, seed=recipe.seed or 0)
            result = _run_folds(name, fit_fold, inputs, width)
        else:
            result = _evaluate_cnn(inputs, recipe, settings, budget, weights_dir, report)
        if result is None:
            continue
        results[name] = result
        report(f"{name}: {problem.metric} {result.mean:.4f} +- {result.std:.4f} over {len(result.fold_ids)} folds "
               f"(out of fold {result.score:.4f}); {result.seconds:.1f} s")
    return results


def _evaluate_cnn(inputs: ImageInputs, recipe: Recipe, settings: CNNSettings, budget: Budget,
                  weights_dir: str | Path | None, report: Report) -> ModelResult | None:
    problem, folds = inputs.problem, np.asarray(inputs.folds)
    train_ips, predict_ips = measure_speed(problem, inputs.pixels, inputs.y, settings, recipe)
    n_val = int(np.ceil((folds >= 0).sum() / max(len(inputs.fold_ids), 1)))
    plan = CNNPlan(budget, rows=int((folds >= 0).sum()) - n_val, val_rows=n_val, test_rows=len(inputs.test_pixels),
                   epochs=recipe.epochs, train_ips=train_ips, predict_ips=predict_ips, folds=len(inputs.fold_ids),
                   views=len(tta_views(settings.augment, settings.tta)), reserve=reserve_seconds(budget.seconds),
                   min_epochs=min(2, recipe.epochs))
    report(f"cnn: {train_ips:.0f} training and {predict_ips:.0f} prediction images/s here; ~"
           f"{plan.fold_seconds(recipe.epochs):.0f} s a fold with {recipe.epochs} epochs")

    def stops(k: int) -> list:
        return [StopWhen(plan.must_stop, lambda epoch: budget.cut(f"cnn fold {k} training",
                                                                   f"stopped after epoch {epoch}: time budget"))]

    def keep(k: int, model) -> None:
        if weights_dir is not None and k == inputs.fold_ids[0] and isinstance(model, SmallCNN):
            save_weights(model, weights_dir)

    fit_fold = cnn_fold(problem, inputs.pixels, inputs.y, inputs.test_pixels, settings, recipe,
                        epochs_for=lambda k: plan.planned.get(k, recipe.epochs), callbacks=stops, keep=keep)
    return _run_folds("cnn", fit_fold, inputs, len(problem.columns), epochs_for=plan.epochs_for, after=plan.fold_done,
                      report=report)


def common_folds(results: dict[str, ModelResult], inputs: ImageInputs) -> tuple[dict[str, ModelResult], ImageInputs]:
    """The results and inputs restricted to the folds every model ran (a CNN the budget cut short of some folds):
    the other rows' fold ids become -1, each result keeps the scores of those folds. Unchanged when every model ran
    every fold."""
    shared = sorted(set.intersection(*(set(r.fold_ids) for r in results.values()))) if results else []
    if all(r.fold_ids == shared for r in results.values()):
        return results, inputs
    folds = np.where(np.isin(inputs.folds, shared), inputs.folds, -1)
    restricted = replace(inputs, folds=folds)
    out = {}
    for name, r in results.items():
        keep = [r.fold_ids.index(k) for k in shared]
        rows = np.flatnonzero(folds >= 0)
        out[name] = replace(r, fold_ids=shared, fold_scores=[r.fold_scores[i] for i in keep],
                            score=restricted.score(rows, r.oof[rows]))
    return out, restricted
