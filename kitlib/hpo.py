"""Optuna studies that survive interruptions: persistent storage, pruning, resume.

A study lives in an Optuna storage URL: by default SQLite in the run folder (``<run_dir>/optuna.db``),
or any URL a user passes (a PostgreSQL URL lets workers on several machines share one study). Every
finished trial is committed as it ends, so an interrupted search loses at most the trial in flight, and
:func:`tune` called again on the same storage and name only runs the trials still missing.

Pruning is fed by the training loop: ``kitlib.train.OptunaPruning(trial, monitor)`` reports the
monitored metric each epoch and raises ``optuna.TrialPruned`` when the pruner says so.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .errors import ParameterError

PRUNERS = ("median", "hyperband", "none")


def storage_url(storage: str | None, run_dir: str | Path | None) -> str:
    """``storage`` when given, else SQLite in ``run_dir`` (``sqlite:///<run_dir>/optuna.db``)."""
    if storage:
        return storage
    if run_dir is None:
        raise ParameterError("give a storage URL or a run_dir to keep the study in")
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(run_dir).resolve() / 'optuna.db'}"


def make_pruner(pruner: str = "median", *, n_startup_trials: int = 5, n_warmup_steps: int = 2,
                max_resource: int | str = "auto"):
    """An Optuna pruner by name: ``median`` (MedianPruner), ``hyperband`` (HyperbandPruner) or ``none``."""
    import optuna

    if pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=n_startup_trials, n_warmup_steps=n_warmup_steps)
    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_resource)
    if pruner == "none":
        return optuna.pruners.NopPruner()
    raise ParameterError(f"Unknown pruner {pruner!r}; expected one of {list(PRUNERS)}")


def create_study(
    name: str,
    *,
    storage: str | None = None,
    run_dir: str | Path | None = None,
    direction: str = "maximize",
    pruner: str = "median",
    seed: int = 0,
    n_startup_trials: int = 5,
    n_warmup_steps: int = 2,
):
    """Create or load (same storage and name) a study with a seeded TPE sampler and the named pruner.

    A trial that was running when a process died is failed once its heartbeat goes stale and retried
    once (Optuna's ``RetryFailedTrialCallback``). Raises ``ParameterError`` for an unknown pruner or
    direction.
    """
    import warnings

    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    if direction not in ("maximize", "minimize"):
        raise ParameterError(f"Unknown direction {direction!r}; expected one of ['maximize', 'minimize']")
    url = storage_url(storage, run_dir)
    store: object = url
    if url.startswith(("sqlite", "postgresql", "mysql")):
        with warnings.catch_warnings():  # heartbeats are marked experimental; this scope only
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            store = RDBStorage(url, heartbeat_interval=30, grace_period=90,
                               heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1))
    return optuna.create_study(
        study_name=name,
        storage=store,
        direction=direction,
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(n_startup_trials, 10)),
        pruner=make_pruner(pruner, n_startup_trials=n_startup_trials, n_warmup_steps=n_warmup_steps),
        load_if_exists=True,
    )


def finished_trials(study) -> int:
    """Number of trials that ended (complete or pruned): the ones a resumed search keeps."""
    import optuna

    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=states))


def tune(study, objective: Callable, n_trials: int, *, timeout: float | None = None, progress: bool = True):
    """Run ``objective`` until the study holds ``n_trials`` finished trials (resuming counts old ones).

    Returns the study. Exceptions other than ``optuna.TrialPruned`` from the objective propagate, after
    Optuna has stored the failed trial.
    """
    import optuna

    remaining = max(0, n_trials - finished_trials(study))
    if remaining:
        verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # our one line per trial replaces Optuna's
        try:
            study.optimize(objective, n_trials=remaining, timeout=timeout, show_progress_bar=False,
                           gc_after_trial=False, callbacks=[_ProgressLine()] if progress else None)
        finally:
            optuna.logging.set_verbosity(verbosity)
    return study


class _ProgressLine:
    """One printed line per finished trial (readable in a notebook and in a log)."""

    def __call__(self, study, trial) -> None:
        value = f"{trial.value:.4f}" if trial.value is not None else trial.state.name.lower()
        params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items())
        best = study.best_value if any(t.value is not None for t in study.trials) else float("nan")
        print(f"trial {trial.number}: {value}  {params}  (best {best:.4f})")


def trials_table(study):
    """The study's trials as a DataFrame (number, value, state, params), best first."""
    frame = study.trials_dataframe(attrs=("number", "value", "state", "params", "duration"))
    ascending = study.direction.name == "MINIMIZE"
    return frame.sort_values("value", ascending=ascending, na_position="last").reset_index(drop=True)
