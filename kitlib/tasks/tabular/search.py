"""Tuning models with Optuna on the run's folds, within the run's time budget.

One study per searched model, named ``<study or competition>-<model>`` (:class:`StudyPlace`), in the run folder's
SQLite file unless a storage URL is given (:func:`kitlib.hpo.create_study`: a shared study joins, its recorded
identity checked). A trial draws the model's parameters from :func:`.search_spaces.suggest`, lays them over the
user's overrides and cross-validates on the run's folds; its value is the CV mean. After each fold the running
mean is reported, and Optuna's median pruner stops a trial that trails the earlier ones (from the second fold on,
after five trials).

The search ends after ``n_trials`` or when the budget is spent, whichever comes first: before a trial, one that
would not fit in what is left (estimated from the trials so far, or from the untuned model's time) stops the study;
inside a trial, the fold rules of :func:`.evaluation.cross_validate_seed` apply. Each stop is recorded in the
budget's ``cut``. The best trial's model is kept as ``<model>_optuna``: its cross-validation is the trial's own
when the trial ran in this run (one seed), else the model is evaluated again with the best parameters.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...budget import Budget
from .evaluation import (
    Inputs,
    ModelResult,
    ModelSkipped,
    cross_validate_seed,
    evaluate_model,
    model_result,
    progress_line,
    refit_into,
)
from .model_settings import ModelSettings
from .run_plan import TUNED_SUFFIX
from .search_spaces import suggest

__all__ = ["StudyPlace", "search_model", "search_models"]

Report = Callable[[str], None]
STARTUP_TRIALS = 5  # trials before the sampler and the pruner use what they saw
WARMUP_FOLDS = 1  # folds a trial always runs before it may be pruned


@dataclass(frozen=True)
class StudyPlace:
    """Where a run's studies live: ``prefix`` (the ``study`` parameter, else the competition's name) names each
    study ``<prefix>-<model>``; ``storage`` (``None``: SQLite in ``run_dir``), ``identity`` (what the scores are
    comparable on, :func:`kitlib.hpo.identity`) and ``run_id`` (recorded on each trial)."""

    prefix: str
    storage: str | None = None
    run_dir: str | Path | None = None
    identity: Mapping[str, Any] | None = None
    run_id: str | None = None

    def name(self, model: str) -> str:
        """The study of ``model``: ``<prefix>-<model>``."""
        return f"{self.prefix}-{model}"


def _open(place: StudyPlace, model: str, mode: str, seed: int):
    from ... import hpo

    return hpo.create_study(place.name(model), storage=place.storage or None, run_dir=place.run_dir,
                            direction="maximize" if mode == "max" else "minimize", pruner="median", seed=seed,
                            n_startup_trials=STARTUP_TRIALS, n_warmup_steps=WARMUP_FOLDS, identity=place.identity)


def _better(mode: str, a: float, b: float) -> bool:
    return a > b if mode == "max" else a < b


def search_model(model: str, n_trials: int, inputs: Inputs, settings: ModelSettings, place: StudyPlace,
                 first_estimate: float = 0.0, n_seeds: int = 1, final: str = "folds") -> tuple[ModelResult | None, Any]:
    """Up to ``n_trials`` trials of ``model`` (see the module docstring); ``first_estimate``: seconds the first
    trial may take (the untuned model's time). Returns ``(the tuned model's result or None, the study)``: ``None``
    when no trial completed or the budget cannot hold the tuned model (recorded in the budget's ``cut``)."""
    import optuna

    from ... import hpo

    budget = settings.budget or Budget(None)
    mode, name = inputs.problem.mode, f"{model}{TUNED_SUFFIX}"
    study = _open(place, model, mode, settings.seed)
    durations: list[float] = []
    kept: dict[str, Any] = {}

    def stop(reason: str) -> None:
        budget.cut(f"search {place.name(model)}", reason)
        study.stop()
        raise optuna.TrialPruned(reason)

    def objective(trial) -> float:
        estimate = float(np.mean(durations)) if durations else first_estimate
        if budget.exhausted or not budget.allows(estimate):
            stop(f"stopped before trial {trial.number}: a trial needs about {estimate:.0f} s, "
                 f"{budget.remaining():.0f} s left")
        trial_settings = settings.with_params(model, suggest(model, trial))

        def on_fold(k: int, scores: list[float]) -> None:
            trial.report(float(np.mean(scores)), len(scores) - 1)
            if trial.should_prune():
                raise optuna.TrialPruned(f"fold {k}: trails the earlier trials")

        try:
            results, spent = cross_validate_seed(f"trial {trial.number}", model, inputs, trial_settings, on_fold)
        except ModelSkipped as exc:
            stop(f"stopped at trial {trial.number}: {exc}")
        durations.append(spent)
        if any(r.info.get("stopped") for r in results):
            stop(f"stopped at trial {trial.number}: the time budget cut its boosting short")
        result = model_result(name, model, inputs, trial_settings, [results], [trial_settings.seed])
        result.seconds = spent
        if "result" not in kept or _better(mode, result.mean, kept["result"].mean):
            kept.update(result=result, number=trial.number)
        return result.mean

    hpo.tune(study, objective, n_trials, run_id=place.run_id)
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not completed:
        return None, study
    best = study.best_trial
    tuned = settings.with_params(model, best.params)
    if kept.get("number") == best.number and n_seeds == 1:
        result = kept["result"]
        if final == "refit":
            refit_into(result, inputs, tuned, result.seconds / len(inputs.fold_ids))
        return result, study
    try:
        return evaluate_model(name, model, inputs, tuned, n_seeds, final), study
    except ModelSkipped as exc:
        budget.cut(name, f"skipped: {exc}")
        return None, study


def search_models(models: tuple[str, ...], n_trials: int, inputs: Inputs, settings: ModelSettings,
                  place: StudyPlace, evaluated: Mapping[str, ModelResult] | None = None, n_seeds: int = 1,
                  final: str = "folds", report: Report | None = print) -> tuple[dict[str, ModelResult], dict[str, Any]]:
    """:func:`search_model` for each of ``models`` in order while the budget lasts; ``evaluated`` (the untuned
    models' results) gives each first trial's time estimate. Returns ``({<model>_optuna: result}, {model:
    study})``; ``report`` gets one line per tuned model."""
    budget = settings.budget or Budget(None)
    results, studies = {}, {}
    for model in models:
        if budget.exhausted:
            budget.cut(f"search {place.name(model)}", "skipped: the time budget was spent")
            continue
        known = (evaluated or {}).get(model)
        estimate = known.seconds / max(len(known.seeds), 1) if known is not None else 0.0
        result, studies[model] = search_model(model, n_trials, inputs, settings, place, estimate, n_seeds, final)
        if result is not None:
            results[result.name] = result
            if report is not None:
                report(progress_line(result, inputs.problem.metric) + f" ({_trials_said(studies[model])})")
    return results, studies


def _trials_said(study) -> str:
    import optuna

    states = [t.state for t in study.trials]
    done = states.count(optuna.trial.TrialState.COMPLETE)
    pruned = states.count(optuna.trial.TrialState.PRUNED)
    return f"best trial {study.best_trial.number}; {done} complete, {pruned} pruned"
