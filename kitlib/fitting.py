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
  ``if trial.should_prune(): raise optuna.TrialPruned()``;
- the training :class:`Recipe`: every knob of a loop that is not data, model or callbacks, one frozen
  dataclass built once (from a notebook's parameters with :meth:`Recipe.from_params`) and handed down
  unread to ``kitlib.train.fit`` or ``kitlib.keras.fit``; per-model variants are ``dataclasses.replace``
  of it. Like Hugging Face's ``TrainingArguments`` apart from its ``Trainer``.

Imports neither torch nor Keras.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from .errors import ParameterError, check_choice

OPTIMIZERS = ("adamw", "adam", "sgd", "rmsprop")
SCHEDULES = ("constant", "linear", "cosine")
MODES = ("max", "min")
LOWER_IS_BETTER = ("loss", "error")  # suffixes of monitored names where smaller is better
# what a notebook parameter writes for "none" (a parameter cell holds no None), mapped by Recipe.from_params
NONE_IN_PARAMS = {"max_grad_norm": 0.0, "ema": 0.0, "eval_every": 0, "checkpoint_every": 0, "patience": 0,
                  "lr_decay": 1.0}


# ---------------------------------------------------------------------------------------- recipe
def _knob(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Recipe:
    """How a model trains: every knob of the training loop that is not data, model or callbacks.

    Built once (``Recipe.from_params(globals())`` in a notebook, or ``Recipe(epochs=3, lr=3e-4)``) and handed
    down unread through fold functions to :func:`kitlib.train.fit` (every field) or :func:`kitlib.keras.fit`
    (the fields it supports; it refuses the others by name). A variant for another model is
    ``dataclasses.replace(recipe, lr=1e-3)``. Each field's one-line help is in its metadata (``help``);
    :meth:`record` gives the JSON-able dict a run records.
    """

    epochs: int = _knob(10, "passes over the training data")
    lr: float = _knob(1e-3, "peak learning rate (of the top layer with lr_decay)")
    batch_size: int = _knob(32, "examples per training batch, where the loader is built from the recipe (fold "
                                "functions, kitlib.keras.fit); kitlib.train.fit takes its loader as given")
    weight_decay: float = _knob(0.0, "decoupled weight decay; biases and norm weights get none")
    optimizer: Any = _knob("adamw", "one of OPTIMIZERS, or (torch) an optimiser built over your own parameter groups")
    schedule: str = _knob("cosine", "learning rate after warmup: constant, linear or cosine decay to 0")
    warmup: float = _knob(0.0, "share of the optimiser steps that warm the learning rate up linearly, in [0, 1)")
    accumulate: int = _knob(1, "batches per optimiser step")
    max_grad_norm: float | None = _knob(None, "clip the global gradient norm at this; None for no clipping")
    lr_decay: float | None = _knob(None, "layer-wise learning-rate decay in (0, 1]: each encoder layer trains at "
                                         "this times the rate of the one above it; None for none")
    ema: float | None = _knob(None, "decay of a moving average of the weights that evaluation, the best weights "
                                    "and the returned model use (0.999 for long runs); None for none")
    grad_checkpointing: bool = _knob(False, "recompute activations in the backward pass (transformers models): "
                                            "less memory, about a third slower")
    eval_every: int | None = _knob(None, "also evaluate every that many optimiser steps; None for epoch ends only")
    patience: int | None = _knob(None, "stop after that many evaluations without a better monitored value; "
                                       "None for no early stopping")
    monitor: str | None = _knob(None, "the logged value whose best evaluation is kept; None for val_<metric>, "
                                      "else val_loss, else train_loss")
    mode: str | None = _knob(None, "max or min: which way the monitored value improves; None for min when its "
                                   "name ends in loss or error, else max")
    amp_dtype: str | bool = _knob("auto", "mixed precision on CUDA: auto (bf16 where the GPU has it, else fp16), "
                                          "bf16, fp16 or off; the CPU runs fp32")
    checkpoint_every: int | None = _knob(None, "also save the training state every that many optimiser steps "
                                               "(with a checkpoint folder); None for epoch ends only")
    processes: int = _knob(1, "training processes on this machine (DistributedDataParallel); the batch stays "
                              "the global batch")
    device: str = _knob("auto", "auto (CUDA when present), cpu, cuda or cuda:N")
    seed: int | None = _knob(None, "seeds Python, NumPy and torch before training; fold functions give their "
                                   "models seed, seed + 1, ... (0 when None); None leaves the random state alone")
    progress: bool = _knob(True, "draw a progress bar (one line per epoch outside a terminal)")

    @classmethod
    def from_params(cls, params: Mapping[str, Any], *, base: Recipe | None = None, **overrides: Any) -> Recipe:
        """The recipe of a notebook's parameters in one call: ``Recipe.from_params(globals(), warmup=0.1)``.

        In: ``params`` (``globals()``, or a run's recorded parameters): the names that are fields are taken,
        the others ignored, and the notebooks' "0 means none" values (:data:`NONE_IN_PARAMS`: ``max_grad_norm``,
        ``ema``, ``eval_every``, ``checkpoint_every``, ``patience`` 0 and ``lr_decay`` 1) become ``None``, here
        and only here; ``base`` (default ``Recipe()``) gives the fields ``params`` does not name; ``overrides``
        (fields) apply last, as given. Out: a :class:`Recipe`. Raises ``ParameterError`` naming the fields for
        an override that is not one.
        """
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise ParameterError(f"Unknown recipe field(s) {unknown}; the fields are {known}")
        values = {}
        for name in known:
            if name in params:
                value = params[name]
                none = NONE_IN_PARAMS.get(name)
                values[name] = None if none is not None and value is not None and value == none else value
        return replace(base if base is not None else cls(), **{**values, **overrides})

    def split(self, params: Mapping[str, Any]) -> tuple[Recipe, dict[str, Any]]:
        """``(this recipe with the fields that params names replaced, the other params)``, e.g. an Optuna trial's
        suggestions where ``lr`` and ``weight_decay`` are training knobs and ``hidden`` is the model's. No
        "0 means none" mapping here: the values are taken as they are."""
        known = {f.name for f in fields(self)}
        return (replace(self, **{k: v for k, v in params.items() if k in known}),
                {k: v for k, v in params.items() if k not in known})

    def record(self) -> dict[str, Any]:
        """The recipe as a JSON-able dict (field -> value) for the run record; an optimiser given as an object
        is recorded by its class name."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.generic):
                value = value.item()
            out[f.name] = value if value is None or isinstance(value, (bool, int, float, str)) else type(value).__name__
        return out


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
