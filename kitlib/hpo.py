"""Optuna studies that survive interruptions and can be shared: storage URLs, pruning, resume, joining by name.

Where a study lives (the ``storage`` URL):

- ``sqlite:///PATH`` (default: ``<run_dir>/optuna.db``): one process. SQLite locks the whole file for every
  write, so concurrent writers fail with "database is locked": never share it between runs;
- ``journal:PATH``: Optuna's ``JournalFileBackend``, an append-only file with a file lock: several processes
  on one host (or one shared filesystem with working locks); it has no heartbeat, so a killed worker's trial
  stays ``RUNNING``;
- ``postgresql://USER:PASSWORD@HOST:PORT/DB``: workers on any number of machines. A plain ``postgresql://``
  URL gets the installed driver (psycopg 3, else psycopg2). Every trial beats a heartbeat; a trial whose
  heartbeat is older than the grace period is failed by the next worker that starts a trial, which retries
  it (same parameters) through ``RetryHeartbeatStaleTrialCallback``. The tables are created under a
  PostgreSQL advisory lock, so first workers starting together do not race.

A study is joined by name (:func:`create_study` loads it when it exists). It records what its scores are
comparable on (``identity``: the competition, the data sha256, ``fold_seed`` and whatever else the notebook
passes); a run with other values is refused instead of mixing scores. On SQLite, :func:`tune` runs until the
study holds ``n_trials`` finished trials (a resumed search only runs the missing ones); on a shared storage
each run adds ``n_trials`` trials.

Pruning is fed by the training loop: ``kitlib.train.OptunaPruning(trial, monitor)`` reports the
monitored metric each epoch and raises ``optuna.TrialPruned`` when the pruner says so.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .errors import ParameterError
from .hpo_storage import (  # noqa: F401  (re-exported: kitlib.hpo.open_storage and the rest as before)
    _creation_lock,
    database_url,
    is_shared,
    open_storage,
    storage_errors,
    storage_kind,
    storage_url,
)
from .masking import add_url_secrets, mask

PRUNERS = ("median", "hyperband", "none")
IDENTITY_ATTR = "kit_identity"  # study user attribute holding what its scores are comparable on


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


def identity(run: Any, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a study's scores are comparable on, for a run: its competition, the sha256 of its data (over the files
    ``run.log_data`` recorded) and ``extra`` (``{"fold_seed": 0, "n_folds": 5, "smoke": False}``, ...)."""
    return {"competition": run.competition, "data_sha256": run.data_sha256(), **(extra or {})}


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
    identity: Mapping[str, Any] | None = None,
    heartbeat_s: int | None = None,
    grace_s: int | None = None,
):
    """Create the study ``name`` in ``storage`` (default SQLite in ``run_dir``), or join it when it exists, with a
    TPE sampler and the named pruner.

    The sampler is seeded with ``seed`` on SQLite (a run is reproducible); on a shared storage each worker draws
    its own seed and TPE uses the constant liar, so concurrent workers do not suggest the same trials. A new study
    records ``identity`` (JSON values); joining a study that recorded other values, or another direction, raises
    ``ParameterError`` naming what differs, and so does a shared study with trials but no record (a SQLite study
    from before the record is adopted). A trial that was running when its process died is failed once its
    heartbeat goes stale and retried once (RDB storages; see :func:`open_storage`). Raises ``ParameterError`` for
    an unknown pruner, direction or storage.
    """
    import secrets

    import optuna

    if direction not in ("maximize", "minimize"):
        raise ParameterError(f"Unknown direction {direction!r}; expected one of ['maximize', 'minimize']")
    url = storage_url(storage, run_dir)
    shared = is_shared(url)
    sampler = optuna.samplers.TPESampler(seed=secrets.randbits(31) if shared else seed,
                                         n_startup_trials=min(n_startup_trials, 10), constant_liar=shared)
    add_url_secrets([url])
    with _creation_lock(url), storage_errors(url, f"creating or joining study {name!r}"):
        store = open_storage(url, heartbeat_s=heartbeat_s, grace_s=grace_s)
        study = optuna.create_study(study_name=name, storage=store, direction=direction, sampler=sampler,
                                    pruner=make_pruner(pruner, n_startup_trials=n_startup_trials,
                                                       n_warmup_steps=n_warmup_steps),
                                    load_if_exists=True)
        if study.direction.name.lower() != direction:
            raise ParameterError(f"study {name!r} in {mask(url)} is to {study.direction.name.lower()}; this run "
                                 f"would {direction}: name another study (-p study NAME)")
        if identity is not None:
            _check_identity(study, dict(identity), url)
    return study


def _check_identity(study, wanted: dict[str, Any], url: str) -> None:
    import json

    wanted = json.loads(json.dumps(wanted, default=str))  # as it reads back from the storage
    recorded = study.user_attrs.get(IDENTITY_ATTR)
    if recorded is None:
        if study.trials and is_shared(url):  # SQLite: one process's own study (resumed from before the record)
            raise ParameterError(f"study {study.study_name!r} in {mask(url)} has {len(study.trials)} trials and no "
                                 "record of its competition, data or folds: name another study (-p study NAME)")
        study.set_user_attr(IDENTITY_ATTR, wanted)
        return
    differ = [k for k in sorted(set(recorded) | set(wanted)) if recorded.get(k) != wanted.get(k)]
    if differ:
        said = "; ".join(f"{k} {_short(recorded.get(k))} there, {_short(wanted.get(k))} here" for k in differ)
        raise ParameterError(f"study {study.study_name!r} in {mask(url)} holds trials of other settings ({said}): "
                             "its scores do not compare with this run's; name another study (-p study NAME)")


def _short(value: Any) -> str:
    return repr(value[:12] + "...") if isinstance(value, str) and len(value) == 64 else repr(value)


def finished_trials(study) -> int:
    """Number of trials that ended (complete or pruned): the ones a resumed search keeps."""
    import optuna

    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=states))


def _storage_url(study) -> str:
    """The URL of the storage ``study`` lives in (Optuna wraps an RDBStorage in a cache, hence ``_backend``);
    ``journal:`` for a journal file."""
    from optuna.storages import JournalStorage

    if isinstance(study._storage, JournalStorage):
        return "journal:"
    return str(getattr(getattr(study._storage, "_backend", study._storage), "url", "sqlite:"))


def _study_is_shared(study) -> bool:
    """Whether ``study`` lives in a shared storage (a journal file, PostgreSQL, MySQL; not SQLite)."""
    return not _storage_url(study).startswith("sqlite")


def tune(study, objective: Callable, n_trials: int, *, timeout: float | None = None, progress: bool = True,
         run_id: str | None = None, adds: bool | None = None):
    """Run ``objective`` for ``n_trials`` trials; return the study.

    ``adds`` (default: whether the study's storage is shared) says how ``n_trials`` counts: True, this call adds
    ``n_trials`` trials (a study many runs share); False, it runs until the study holds ``n_trials`` finished
    trials (a resumed search runs only the missing ones). ``run_id`` is recorded on each trial (user attribute
    ``run_id``), so ``kit study`` says which run added it. Exceptions other than ``optuna.TrialPruned`` from the
    objective propagate, after Optuna has stored the failed trial.
    """
    import optuna

    adds = _study_is_shared(study) if adds is None else adds
    remaining = n_trials if adds else max(0, n_trials - finished_trials(study))
    if not remaining:
        return study

    def recorded(trial):
        if run_id:
            trial.set_user_attr("run_id", run_id)
        return objective(trial)

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our one line per trial replaces Optuna's
    try:
        with storage_errors(_storage_url(study), f"recording the trials of study {study.study_name!r}"):
            study.optimize(recorded, n_trials=remaining, timeout=timeout, show_progress_bar=False,
                           gc_after_trial=False, callbacks=[_ProgressLine()] if progress else None)
    finally:
        optuna.logging.set_verbosity(verbosity)
    return study


class _ProgressLine:
    """One printed line per finished trial (readable in a notebook and in a log)."""

    def __call__(self, study, trial) -> None:
        value = f"{trial.value:.4f}" if trial.value is not None else trial.state.name.lower()
        params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items())
        try:
            best = f"{study.best_value:.4f}"
        except ValueError:  # no complete trial yet
            best = "-"
        print(f"trial {trial.number}: {value}  {params}  (best {best})")


def trials_table(study):
    """The study's trials as a DataFrame (number, value, state, params, the run that added it), best first."""
    frame = study.trials_dataframe(attrs=("number", "value", "state", "params", "duration", "user_attrs"))
    frame = frame.rename(columns={"user_attrs_run_id": "run_id"})
    frame = frame[[c for c in frame.columns if not c.startswith("user_attrs_")]]
    ascending = study.direction.name == "MINIMIZE"
    return frame.sort_values("value", ascending=ascending, na_position="last").reset_index(drop=True)


def load_study(name: str | None, storage: str):
    """The study ``name`` in ``storage`` (the only one there when ``name`` is ``None``), without a sampler of ours.

    Raises ``ParameterError`` naming the studies the storage holds when ``name`` is not one of them (or is
    ``None`` and there are several or none), or for a SQLite or journal file that does not exist (reading never
    creates one); ``StorageError`` (one line, the URL masked) when the storage cannot be opened or read (a wrong
    password, a server that is down).
    """
    import optuna

    add_url_secrets([storage])
    kind = storage_kind(storage)
    if kind in ("sqlite", "journal"):  # reading: a storage that is not there is an error, never a new empty one
        path = Path(storage[len("sqlite:///"):] if kind == "sqlite" else storage[len("journal:"):]).expanduser()
        if not path.is_file():
            raise ParameterError(f"Optuna storage {mask(storage)}: no such file {str(path)!r}; kit study reads a "
                                 f"storage that exists")
    with storage_errors(storage, "reading its studies"):
        store = open_storage(storage)
        names = optuna.get_all_study_names(storage=store)
        if name is None and len(names) == 1:
            name = names[0]
        if name not in names:
            held = f"its studies are {sorted(names)}" if names else "it holds no study"
            asked = f"no study {name!r} in {mask(storage)}" if name else f"name a study in {mask(storage)}"
            raise ParameterError(f"{asked}; {held}")
        return optuna.load_study(study_name=name, storage=store)


def study_report(study, limit: int = 20) -> str:
    """A text report of a study: what its scores compare on, trial counts by state, the ``limit`` best trials
    (and the running and failed ones) and the best trial's value and parameters."""
    import pandas as pd

    lines = [f"study {study.study_name} ({study.direction.name.lower()})"]
    for key, value in (study.user_attrs.get(IDENTITY_ATTR) or {}).items():
        lines.append(f"  {key}: {value}")
    trials = study.get_trials(deepcopy=False)
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial.state.name.lower()] = counts.get(trial.state.name.lower(), 0) + 1
    lines.append(f"trials: {len(trials)}" + (" (" + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + ")"
                                            if counts else ""))
    if trials:
        table = trials_table(study)
        if "duration" in table:
            table["duration"] = table["duration"].map(lambda d: f"{d.total_seconds():.1f}s" if pd.notna(d) else "-")
        shown = table.head(limit)
        if len(table) > limit:
            lines.append(f"the {limit} best of {len(table)} trials:")
        lines.append(shown.to_string(index=False, na_rep="-"))
    try:
        best = study.best_trial
    except ValueError:
        lines.append("best: none (no complete trial)")
    else:
        by = best.user_attrs.get("run_id")
        lines.append(f"best: trial {best.number} value {best.value:.6g}" + (f" (run {by})" if by else ""))
        lines.append("  " + ", ".join(f"{k}={v!r}" for k, v in best.params.items()))
    return "\n".join(lines)


def data_sha256(files: list[Mapping[str, str]], root: str | Path | None) -> str | None:
    """One sha256 over data files recorded as ``[{path, sha256}]``: their paths relative to ``root`` and their
    sha256s, so the same files in another folder (another machine) give the same value; ``None`` for no files."""
    if not files:
        return None
    digest = hashlib.sha256()
    named = [(Path(os.path.relpath(f["path"], root) if root else Path(f["path"]).name).as_posix(), f["sha256"])
             for f in files]
    for rel, sha in sorted(named):
        digest.update(f"{rel}\0{sha}\n".encode())
    return digest.hexdigest()
