"""The callbacks of :func:`kitlib.train.fit` and the state they see.

Every hook of :class:`Callback` is a no-op unless overridden. ``on_epoch_end`` runs after every
evaluation: at the end of each epoch and, with ``eval_every``, every that many optimiser steps as well.
A callback that keeps state across evaluations (the best score so far, a patience counter) returns it
from ``state_dict()`` and takes it back in ``load_state_dict()``, so a resumed fit carries on exactly.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from ..fitting import MonitorBest, check_monitor, format_logs, monitor_mode, report_and_prune
from ..runtime import is_main_process

__all__ = ["FitState", "Callback", "BestWeights", "EarlyStopping", "PrintLogger", "OptunaPruning", "WandbLogger"]


@dataclass
class FitState:
    """What callbacks see: the model, its optimiser, the epoch (1-based), the optimiser steps so far, the
    number of evaluations so far (1-based inside ``on_epoch_end``) and the history (one row per evaluation)."""

    model: nn.Module
    optimizer: Any
    epoch: int = 0
    epochs: int = 0
    history: list[dict] = field(default_factory=list)
    monitor: str = "val_loss"
    stop_training: bool = False
    step: int = 0
    evaluations: int = 0


class Callback:
    """Hooks called by :func:`kitlib.train.fit`; every hook is a no-op unless overridden."""

    def on_fit_start(self, state: FitState) -> None:
        """Called once before the first epoch (after a resumed state is restored)."""

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        """Called after each evaluation with its logs (set ``state.stop_training`` to stop). With ``ema`` the
        model holds the averaged weights during this call."""

    def on_fit_end(self, state: FitState) -> None:
        """Called once after training, also when it was interrupted by an exception in another hook."""

    def state_dict(self) -> dict:
        """What a resumed fit needs to carry on (saved in ``train_state.pt``); empty by default."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Take back what :meth:`state_dict` returned."""


def _best_state(best: MonitorBest) -> dict:
    return {"best_score": best.best_score, "best_epoch": best.best_epoch, "stale": best.stale}


def _load_best(best: MonitorBest, state: dict) -> None:
    best.best_score, best.best_epoch, best.stale = state["best_score"], state["best_epoch"], state["stale"]


class BestWeights(Callback):
    """Keep a CPU copy of the weights of the evaluation with the best ``monitor`` value; restore them at the end.

    ``best_epoch``/``best_score`` of ``best`` say which evaluation that was (``mode`` as
    :func:`kitlib.fitting.monitor_mode`); ``best_row`` is its log row. ``on_best(model, weights)``, when
    given, is called with each new best (the loop passes one that writes them to the checkpoint folder).
    """

    def __init__(self, monitor: str, mode: str | None = None,
                 on_best: Callable[[nn.Module, dict], None] | None = None):
        self.monitor = monitor
        self.best = MonitorBest(monitor_mode(monitor, mode))
        self.on_best = on_best
        self.best_row: dict | None = None
        self.state_: dict | None = None

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        if self.best.update(check_monitor(self.monitor, logs), state.evaluations):
            self.best_row = dict(logs)
            self.state_ = {k: v.detach().to("cpu", copy=True) for k, v in state.model.state_dict().items()}
            if self.on_best is not None:
                self.on_best(state.model, self.state_)

    def on_fit_end(self, state: FitState) -> None:
        if self.state_ is not None:
            state.model.load_state_dict(self.state_)

    def state_dict(self) -> dict:
        return {**_best_state(self.best), "best_row": self.best_row}

    def load_state_dict(self, state: dict) -> None:
        _load_best(self.best, state)
        self.best_row = state["best_row"]


class EarlyStopping(Callback):
    """Stop training after ``patience`` evaluations without a better ``monitor`` value."""

    def __init__(self, monitor: str, mode: str | None = None, patience: int = 5):
        self.monitor = monitor
        self.best = MonitorBest(monitor_mode(monitor, mode), patience)

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        self.best.update(check_monitor(self.monitor, logs), state.evaluations)
        if self.best.exhausted:
            state.stop_training = True

    def state_dict(self) -> dict:
        return _best_state(self.best)

    def load_state_dict(self, state: dict) -> None:
        _load_best(self.best, state)


class PrintLogger(Callback):
    """Print one line of metrics per evaluation (readable in a notebook and in a log file)."""

    def __init__(self, every: int = 1, desc: str = ""):
        self.every = every
        self.desc = desc

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        if state.evaluations % self.every == 0 and is_main_process():
            total = f"/{state.epochs}" if state.epochs else ""
            step = f" step {state.step}" if "step" in logs else ""
            print(f"{self.desc} epoch {state.epoch}{total}{step}  {format_logs(logs)}".strip(), flush=True)


class OptunaPruning(Callback):
    """Report the monitored metric to an Optuna trial after each evaluation and prune when Optuna says so.

    Exactly Optuna's documented loop: ``trial.report(score, step)``, then
    ``if trial.should_prune(): raise optuna.TrialPruned()``. The step is ``step_offset + evaluation`` (the
    evaluation is the epoch unless ``eval_every`` is set): a cross-validated objective passes
    ``fold * evaluations per fold`` (``fold * epochs`` by default) so each fold reports its own steps
    (Optuna keeps only the first value reported for a step).
    """

    def __init__(self, trial, monitor: str | None = None, step_offset: int = 0):
        self.trial = trial
        self.monitor = monitor
        self.step_offset = step_offset

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        report_and_prune(self.trial, logs, self.monitor or state.monitor, self.step_offset + state.evaluations)


class WandbLogger(Callback):
    """Log each evaluation's metrics to a wandb run (see :func:`kitlib.run.Run.wandb`), prefixed if asked."""

    def __init__(self, wandb_run, prefix: str = ""):
        self.wandb_run = wandb_run
        self.prefix = prefix

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        if is_main_process():
            self.wandb_run.log({f"{self.prefix}{k}": v for k, v in logs.items()})
