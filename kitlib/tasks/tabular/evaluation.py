"""Evaluating a run's models in order on the same folds, within the run's time budget.

:func:`evaluate_models` cross-validates each model of a :class:`~.run_plan.Plan` through its fold function
(:func:`.fold_functions.fold_function`) and returns a :class:`ModelResult` per model it kept, in order:

- **seeds**: with ``n_seeds`` above 1 the model is trained with ``seed``, ``seed + 1``, ... on the same folds and
  its out-of-fold and test predictions are averaged (the fold scores are those of the average);
- **target encoding**: the plan's ``target_encode`` columns are encoded inside each fold from that fold's training
  rows only (:func:`.feature_encoding.target_encode_fold`), and become numeric features;
- **final**: ``"folds"`` keeps the fold models' test predictions averaged; ``"refit"`` fits once more on every
  labelled row for :func:`.fold_functions.final_rounds` rounds and keeps its test predictions;
- **the budget** (``settings.budget``): a model's first fold gets at most its share of what is left (what is left
  over the folds to run), so it cannot eat the time of the models after it; after it, a model whose remaining
  folds would not fit in what is left (estimated from the first fold) is skipped; a later seed or the refit that
  would not fit is left out. Each is recorded in the budget's ``cut``; decisions read the budget's clock, so a
  test drives them with a fake one.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...budget import Budget
from ...errors import ParameterError
from ...folds import FoldResult
from .fold_functions import final_rounds, fit_full, fold_function
from .model_settings import ModelSettings
from .problem import Problem

__all__ = ["Inputs", "ModelResult", "ModelSkipped", "evaluate_model", "evaluate_models", "progress_line"]

Report = Callable[[str], None]


class ModelSkipped(Exception):
    """A model (or a search trial) left out because the time budget cannot hold it; the message says why."""


@dataclass
class Inputs:
    """What every model is evaluated on: the resolved ``problem``, the feature frames ``X``/``X_test``, ``y``
    (``(n, targets)`` codes or values), ``folds`` (a fold id per row) and the ``target_encode`` columns."""

    problem: Problem
    X: pd.DataFrame
    y: np.ndarray
    X_test: pd.DataFrame
    folds: np.ndarray
    target_encode: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = [c for c in self.target_encode if c not in self.problem.features]
        if unknown:
            raise ParameterError(f"target_encode: {unknown} are not features of the problem; expected some of "
                                 f"{list(self.problem.features)}")

    @property
    def fold_ids(self) -> list[int]:
        """The fold ids, sorted."""
        return sorted(set(np.asarray(self.folds)[np.asarray(self.folds) >= 0].tolist()))

    def score(self, rows: np.ndarray, pred: np.ndarray) -> float:
        """The problem's metric of ``pred`` on ``rows``."""
        return self.problem.score(self.y[rows], pred)


class FoldScores:
    """``mean`` and ``std`` of a result's ``fold_scores`` (a model's or the final prediction's)."""

    fold_scores: list[float]

    @property
    def mean(self) -> float:
        """Mean of the fold scores."""
        return float(np.mean(self.fold_scores))

    @property
    def std(self) -> float:
        """Standard deviation of the fold scores."""
        return float(np.std(self.fold_scores))


@dataclass
class ModelResult(FoldScores):
    """One model's cross-validation: ``oof`` ``(n, c)`` (NaN on rows without a fold), ``test`` ``(n_test, c)``
    (the folds' average, or the refit's when ``final`` is ``"refit"``), ``fold_scores`` (in ``fold_ids`` order) and
    ``score`` (pooled out of fold), ``infos`` (per seed, per fold: best iteration, rounds, seconds...), ``seconds``
    (wall time, refit included), ``params`` (the overrides it ran with), ``fold_models`` (the first seed's)."""

    name: str
    model: str
    oof: np.ndarray
    test: np.ndarray
    fold_ids: list[int]
    fold_scores: list[float]
    score: float
    infos: list[list[dict]]
    seconds: float
    params: dict[str, Any] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=list)
    final: str = "folds"
    refit_rounds: list[int] | None = None
    fold_models: list = field(default_factory=list)

    @property
    def best_iterations(self) -> list:
        """Per fold (first seed), the best iteration of each target (``None`` for a model without rounds)."""
        return [info.get("best_iteration") for info in self.infos[0]]

    def summary(self, metric: str) -> dict:
        """The ``cv`` record: ``{metric, mean, std, folds, n_rows, score}``."""
        return {"metric": metric, "mean": self.mean, "std": self.std, "folds": [float(s) for s in self.fold_scores],
                "n_rows": int(np.isfinite(self.oof).all(axis=1).sum()), "score": float(self.score)}

    def record(self, metric: str) -> dict:
        """The manifest's ``models[<name>]``: ``cv``, ``score``, ``best_iterations``, ``seconds`` and how it ran."""
        return {"cv": self.summary(metric), "score": float(self.score), "best_iterations": self.best_iterations,
                "seconds": round(self.seconds, 3), "model": self.model, "params": dict(self.params),
                "seeds": list(self.seeds), "final": self.final, "refit_rounds": self.refit_rounds}


def progress_line(result: ModelResult, metric: str) -> str:
    """One line for a model: its CV, its best rounds and its time."""
    rounds = [b[0] for b in result.best_iterations if b]
    said = f"; best rounds {rounds}" if rounds else ""
    seeds = f", {len(result.seeds)} seeds" if len(result.seeds) > 1 else ""
    return (f"{result.name}: {metric} {result.mean:.4f} +- {result.std:.4f} over {len(result.fold_ids)} folds "
            f"(out of fold {result.score:.4f}){said}{seeds}; {result.seconds:.1f} s")


# ---------------------------------------------------------------------------------------------- one fit
def _encoded(inputs: Inputs, train_idx: np.ndarray, others: list[pd.DataFrame], seed: int
             ) -> tuple[Problem, pd.DataFrame, list[pd.DataFrame]]:
    """The problem and frames with the target-encoded columns, encoded from the rows ``train_idx`` only."""
    from .feature_encoding import target_encode_fold, with_target_encoding

    columns = list(inputs.target_encode)
    X_train, encoded = target_encode_fold(inputs.X.iloc[train_idx], inputs.y[train_idx], others, columns,
                                          inputs.problem, seed)
    return with_target_encoding(inputs.problem, columns), X_train, encoded


def _fold_function(model: str, inputs: Inputs, settings: ModelSettings, with_test: bool = True):
    """The fold function of ``model`` on ``inputs`` (target encoding inside each fold when asked)."""
    X_test = inputs.X_test if with_test else None
    if not inputs.target_encode:
        return fold_function(model, inputs.problem, inputs.X, inputs.y, X_test, settings)

    def fit_fold(k: int, train_idx: np.ndarray, val_idx: np.ndarray) -> FoldResult:
        others = [inputs.X.iloc[val_idx]] + ([X_test] if X_test is not None else [])
        problem, X_train, encoded = _encoded(inputs, train_idx, others, settings.seed)
        X = pd.concat([X_train, encoded[0]], ignore_index=True)
        y = np.concatenate([inputs.y[train_idx], inputs.y[val_idx]])
        inner = fold_function(model, problem, X, y, encoded[1] if X_test is not None else None, settings)
        return inner(k, np.arange(len(train_idx)), np.arange(len(train_idx), len(X)))

    return fit_fold


def _refit(model: str, inputs: Inputs, settings: ModelSettings, rounds: list[int] | None) -> FoldResult:
    rows = np.flatnonzero(np.asarray(inputs.folds) >= 0)
    problem, X, X_test = inputs.problem, inputs.X.iloc[rows], inputs.X_test
    if inputs.target_encode:
        problem, X, (X_test,) = _encoded(inputs, rows, [inputs.X_test], settings.seed)
    return fit_full(model, problem, X, inputs.y[rows], X_test, settings, rounds)


def _with_budget(settings: ModelSettings, budget: Budget | None) -> ModelSettings:
    return dataclasses.replace(settings, budget=budget)


# ------------------------------------------------------------------------------------------ one seed
def cross_validate_seed(name: str, model: str, inputs: Inputs, settings: ModelSettings,
                        on_fold: Callable[[int, list[float]], None] | None = None) -> tuple[list[FoldResult], float]:
    """Every fold of ``model`` with ``settings`` (one seed): ``(fold results in fold order, seconds on the budget's
    clock)``. The first fold runs on at most its share of the budget; ``on_fold(k, scores so far)`` is called
    after each fold (a search reports there and may prune).

    Raises :class:`ModelSkipped` when the budget is spent before a fold, when it stopped the first fold, or when
    the remaining folds would not fit in what is left (estimated from the first fold)."""
    budget = settings.budget or Budget(None)
    ids = inputs.fold_ids
    folds = np.asarray(inputs.folds)
    share_s = budget.remaining() / len(ids)
    first = _fold_function(model, inputs, _with_budget(settings, budget.part(share=1.0 / len(ids))))
    rest = None
    results, scores, started = [], [], budget.clock()
    for i, k in enumerate(ids):
        if budget.exhausted:
            raise ModelSkipped(f"{name}: the time budget was spent before fold {k}")
        train_idx, val_idx = np.flatnonzero((folds != k) & (folds >= 0)), np.flatnonzero(folds == k)
        if i == 0:
            result = first(k, train_idx, val_idx)
            if result.info.get("stopped"):
                raise ModelSkipped(f"{name}: its first fold needs more than its share of what was left ({share_s:.0f} "
                                   f"s of {share_s * len(ids):.0f} s)")
            estimate = (budget.clock() - started) * (len(ids) - 1)
            if len(ids) > 1 and not budget.allows(estimate):
                raise ModelSkipped(f"{name}: its other {len(ids) - 1} folds need about {estimate:.0f} s, "
                                   f"{budget.remaining():.0f} s left")
            rest = _fold_function(model, inputs, settings)
        else:
            result = rest(k, train_idx, val_idx)
        results.append(result)
        scores.append(inputs.score(val_idx, result.val))
        if on_fold is not None:
            on_fold(k, scores)
    return results, budget.clock() - started


def _average(results: list[list[FoldResult]], inputs: Inputs) -> tuple[np.ndarray, np.ndarray]:
    folds = np.asarray(inputs.folds)
    width = results[0][0].val.shape[1]
    oof = np.full((len(folds), width), np.nan)
    oof[folds >= 0] = 0.0
    test = np.zeros((len(inputs.X_test), width))
    for seed_results in results:
        for k, result in zip(inputs.fold_ids, seed_results):
            oof[folds == k] += result.val / len(results)
            test += result.test / len(results) / len(seed_results)
    return oof, test


# ------------------------------------------------------------------------------------------ one model
def model_result(name: str, model: str, inputs: Inputs, settings: ModelSettings, per_seed: list[list[FoldResult]],
                 seeds: list[int]) -> ModelResult:
    """The :class:`ModelResult` of the fold results of each seed (``per_seed``, in fold order): out-of-fold and
    test predictions averaged over the seeds, fold scores of the average; ``seconds`` left at 0."""
    oof, test = _average(per_seed, inputs)
    folds = np.asarray(inputs.folds)
    scores = [inputs.score(np.flatnonzero(folds == k), oof[folds == k]) for k in inputs.fold_ids]
    rows = np.flatnonzero(folds >= 0)
    infos = [[r.info for r in results] for results in per_seed]
    return ModelResult(name, model, oof, test, inputs.fold_ids, scores, inputs.score(rows, oof[rows]), infos, 0.0,
                       dict(settings.params_of(model)), list(seeds), "folds", None, [r.model for r in per_seed[0]])


def evaluate_model(name: str, model: str, inputs: Inputs, settings: ModelSettings, n_seeds: int = 1,
                   final: str = "folds") -> ModelResult:
    """Cross-validate ``model`` (a :data:`~.model_settings.MODEL_ORDER` name) as ``name`` with ``n_seeds`` seeds
    and the ``final`` test predictions (see the module docstring). Raises :class:`ModelSkipped` when the budget
    cannot hold even one seed (recorded by the caller), ``ParameterError`` for parameters the library refuses."""
    wall = time.perf_counter()
    budget = settings.budget or Budget(None)
    seeds, per_seed, seconds = [], [], 0.0
    for i in range(n_seeds):
        seed = settings.seed + i
        if i and not budget.allows(seconds / i):
            budget.cut(f"{name} seeds {seed}..{settings.seed + n_seeds - 1}",
                       f"each seed needs about {seconds / i:.0f} s, {budget.remaining():.0f} s left")
            break
        try:
            results, spent = cross_validate_seed(name, model, inputs, dataclasses.replace(settings, seed=seed))
        except ModelSkipped as exc:
            if not i:
                raise
            budget.cut(f"{name} seed {seed}", str(exc))
            break
        seeds.append(seed)
        per_seed.append(results)
        seconds += spent
    out = model_result(name, model, inputs, settings, per_seed, seeds)
    if final == "refit":
        refit_into(out, inputs, settings, seconds / len(seeds) / len(inputs.fold_ids))
    out.seconds = time.perf_counter() - wall
    return out


def refit_into(out: ModelResult, inputs: Inputs, settings: ModelSettings, fold_seconds: float) -> None:
    """Replace ``out.test`` with the refit models' predictions (one per seed, averaged) when the budget holds them."""
    budget = settings.budget or Budget(None)
    n_rows = int((np.asarray(inputs.folds) >= 0).sum())
    rounds = final_rounds(out.infos[0], n_rows)
    n_fit = np.mean([min(info.get("n_fit") or [n_rows]) for info in out.infos[0]])
    estimate = fold_seconds * len(out.seeds) * n_rows / max(n_fit, 1.0)
    if not budget.allows(estimate):
        budget.cut(f"{out.name} refit", f"needs about {estimate:.0f} s, {budget.remaining():.0f} s left; the fold "
                                        "models' average predicts the test rows")
        return
    tests = []
    for seed in out.seeds:
        fitted = _refit(out.model, inputs, dataclasses.replace(settings, seed=seed), rounds)
        if fitted.info.get("stopped"):
            budget.cut(f"{out.name} refit", "stopped by the time budget; the fold models' average predicts the "
                                            "test rows")
            return
        tests.append(fitted.test)
    out.test, out.final, out.refit_rounds = np.mean(tests, axis=0), "refit", rounds


def evaluate_models(models: tuple[str, ...], inputs: Inputs, settings: ModelSettings, n_seeds: int = 1,
                    final: str = "folds", report: Report | None = print) -> dict[str, ModelResult]:
    """:func:`evaluate_model` for each of ``models`` in order (each under its own name); a model the budget cannot
    hold is skipped and recorded in the budget's ``cut``; ``report`` gets one progress line per model. Returns the
    kept models by name, in order."""
    budget = settings.budget or Budget(None)
    out: dict[str, ModelResult] = {}
    for model in models:
        try:
            out[model] = result = evaluate_model(model, model, inputs, settings, n_seeds, final)
        except ModelSkipped as exc:
            budget.cut(model, f"skipped: {exc}")
            if report is not None:
                report(f"{model}: skipped ({exc})")
            continue
        if report is not None:
            report(progress_line(result, inputs.problem.metric))
    return out
