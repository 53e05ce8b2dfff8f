"""One vocabulary for both training loops (:mod:`kitlib.train` for torch, :mod:`kitlib.keras` for Keras 3).

What the two loops share lives here, so they cannot drift apart:

- the names: :data:`OPTIMIZERS`, :data:`SCHEDULES`, and the checks that refuse anything else;
- the schedule maths: :func:`lr_factor` (linear warmup, then constant / linear / cosine decay to 0),
  written once over an array namespace (``numpy`` for torch's ``LambdaLR``, ``keras.ops`` for Keras);
- the better-is-higher rule, :func:`monitor_mode`: a monitored name ending in ``loss`` or ``error`` is
  lower-is-better, anything else higher-is-better (before, the torch loop knew only ``loss``);
- :class:`MonitorBest`, the bookkeeping behind the best-weights and early-stopping callbacks of both
  loops; :class:`FitResult`, what both ``fit`` functions return;
- the epoch log line (:func:`format_logs`) and the Optuna pruning step (:func:`report_and_prune`),
  exactly as Optuna documents it: ``trial.report(value, step)``, then
  ``if trial.should_prune(): raise optuna.TrialPruned()``.

Imports neither torch nor Keras.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ParameterError, check_choice

OPTIMIZERS = ("adamw", "adam", "sgd", "rmsprop")
SCHEDULES = ("constant", "linear", "cosine")
MODES = ("max", "min")
LOWER_IS_BETTER = ("loss", "error")  # suffixes of monitored names where smaller is better


# ------------------------------------------------------------------------------------- schedules
def schedule_steps(schedule: str, total_steps: int, warmup: float) -> tuple[int, int]:
    """Check a schedule and its warmup; return ``(total, warm)`` optimiser steps.

    ``warmup`` is a fraction of ``total_steps`` in [0, 1). Raises ``ParameterError`` for an unknown
    schedule or a warmup outside [0, 1).
    """
    check_choice("schedule", schedule, SCHEDULES)
    if not 0.0 <= warmup < 1.0:
        raise ParameterError(f"warmup must be a fraction in [0, 1); got {warmup}")
    total = max(1, int(total_steps))
    return total, int(round(warmup * total))


def lr_factor(step, total: int, warm: int, schedule: str, xp: Any = np):
    """The learning-rate multiplier at optimiser ``step`` (0-based): ``(step + 1) / warm`` during warmup,
    then ``1`` (constant), ``1 - progress`` (linear) or ``(1 + cos(pi progress)) / 2`` (cosine), where
    progress runs from 0 after warmup to 1 at ``total``.

    ``xp`` is the array namespace (``numpy``, or ``keras.ops`` inside a Keras schedule); ``step`` must be a
    float scalar of that namespace.
    """
    warm_f = (step + 1.0) / max(1, warm)
    progress = xp.minimum(1.0, xp.maximum(0.0, step - warm) / max(1, total - warm))
    if schedule == "constant":
        after = xp.ones_like(progress)
    elif schedule == "linear":
        after = 1.0 - progress
    else:
        after = 0.5 * (1.0 + xp.cos(math.pi * progress))
    return xp.where(step < warm, warm_f, after)


def check_optimizer(name: str) -> None:
    """Raise ``ParameterError`` unless ``name`` is one of :data:`OPTIMIZERS`."""
    check_choice("optimizer", name, OPTIMIZERS)


# ------------------------------------------------------------------------------ monitor and best
def monitor_mode(monitor: str, mode: str | None = None) -> str:
    """``mode`` when given (checked), else ``"min"`` for names ending in ``loss`` or ``error``, else ``"max"``."""
    if mode is None:
        return "min" if monitor.endswith(LOWER_IS_BETTER) else "max"
    check_choice("mode", mode, MODES)
    return mode


def check_monitor(monitor: str, logs: dict) -> float:
    """The monitored value of an epoch's logs; ``ParameterError`` naming the logs when it is missing."""
    if monitor not in logs:
        raise ParameterError(f"monitor {monitor!r} is not among the epoch logs {sorted(logs)}")
    return float(logs[monitor])


class MonitorBest:
    """The best value of a monitored metric so far, and how many epochs have passed without beating it.

    ``update(score, epoch)`` returns True when ``score`` is a new best. ``patience`` epochs without one
    make ``exhausted`` true (never, when ``patience`` is None).
    """

    def __init__(self, mode: str, patience: int | None = None):
        check_choice("mode", mode, MODES)
        self.mode, self.patience = mode, patience
        self.best_score = math.inf if mode == "min" else -math.inf
        self.best_epoch = 0
        self.stale = 0

    def update(self, score: float, epoch: int) -> bool:
        better = score < self.best_score if self.mode == "min" else score > self.best_score
        if better:
            self.best_score, self.best_epoch, self.stale = float(score), int(epoch), 0
        else:
            self.stale += 1
        return better

    @property
    def exhausted(self) -> bool:
        return self.patience is not None and self.stale >= self.patience


@dataclass
class FitResult:
    """What both ``fit`` functions return: the model (best weights restored), one dict of logs per epoch
    (per evaluation, with the torch loop's ``eval_every``), the best epoch (1-based) and its score, the
    monitored key, the training time in seconds and the optimiser step of the best evaluation (0 unless
    the torch loop evaluated every N steps)."""

    model: Any
    history: list[dict]
    best_epoch: int
    best_score: float
    monitor: str
    seconds: float = 0.0
    best_step: int = 0


# ------------------------------------------------------------------------------- logs and pruning
def format_logs(logs: dict[str, Any]) -> str:
    """``train_loss=0.4123  val_f1=0.81  seconds=4.1s``: one readable line (the epoch is left to the caller)."""
    parts = []
    for k, v in logs.items():
        if k == "epoch":
            continue
        if k == "seconds":
            parts.append(f"{k}={v:.1f}s")
        else:
            parts.append(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}")
    return "  ".join(parts)


def report_and_prune(trial, logs: dict[str, float], monitor: str, step: int) -> None:
    """Report ``logs[monitor]`` to an Optuna ``trial`` at ``step``; raise ``optuna.TrialPruned`` when the
    pruner says so. Raises ``ParameterError`` when the logs do not hold ``monitor``."""
    import optuna

    if monitor not in logs:
        raise ParameterError(f"OptunaPruning monitors {monitor!r} but the epoch logs hold {sorted(logs)}")
    value = float(logs[monitor])
    trial.report(value, step)
    if trial.should_prune():
        raise optuna.TrialPruned(f"pruned at epoch {step} with {monitor}={value:.4g}")
