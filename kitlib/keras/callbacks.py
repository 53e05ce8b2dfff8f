"""The Keras classes of :mod:`kitlib.keras`: the warmup schedule and the callbacks of ``fit``.

Each is written as a mixin and bound to its Keras base class (``keras.callbacks.Callback``,
``keras.optimizers.schedules.LearningRateSchedule``) on first use by :func:`classes`, so importing this
module does not import Keras (the backend must be chosen first). ``kitlib.keras.callbacks.WandbLogger`` (and
every other name of :data:`MIXINS`) is that class, bound on first access. What they compute comes from
:mod:`kitlib.fitting`, shared with the torch loop.
"""
from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..fitting import MonitorBest, check_monitor, format_logs, lr_factor, monitor_mode, report_and_prune


class _WarmupScheduleMixin:
    """Learning rate ``lr * factor(step)``: linear warmup over ``warmup_steps``, then ``constant``,
    ``linear`` decay to 0 or ``cosine`` decay to 0 at ``total_steps`` (as ``kitlib.train``)."""

    def __init__(self, lr: float, total_steps: int, warmup_steps: int = 0, schedule: str = "cosine"):
        super().__init__()
        self.lr = float(lr)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.schedule = schedule

    def __call__(self, step):
        from keras import ops

        return self.lr * lr_factor(ops.cast(step, "float32"), self.total_steps, self.warmup_steps, self.schedule, ops)

    def get_config(self) -> dict:
        return {"lr": self.lr, "total_steps": self.total_steps, "warmup_steps": self.warmup_steps,
                "schedule": self.schedule}


def _scalar(value) -> float | None:
    """A Python float from a number, a 0-d/1-element tensor of any backend or a Keras variable; else None."""
    try:
        return float(value)  # numbers and scalar tensors of every backend
    except (TypeError, ValueError):
        from keras import ops

        arr = ops.convert_to_numpy(value)
        return float(np.reshape(arr, ())) if np.size(arr) == 1 else None


def _floats(logs: dict | None) -> dict[str, float]:
    """The scalar entries of Keras epoch logs as Python floats."""
    out = {}
    for k, v in (logs or {}).items():
        value = _scalar(v)
        if value is not None:
            out[k] = value
    return out


class _EpochLogsMixin:
    """First of :func:`fit`'s callbacks: per epoch it adds ``epoch`` (1-based), the ``evaluate_fn(model)``
    metrics, ``lr`` and ``seconds`` to the logs (so the callbacks after it see them) and keeps the history."""

    def __init__(self, evaluate_fn: Callable[[Any], dict[str, float]] | None = None):
        super().__init__()
        self.evaluate_fn = evaluate_fn
        self.history: list[dict[str, float]] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        if self.evaluate_fn is not None:
            logs.update({k: float(v) for k, v in self.evaluate_fn(self.model).items()})
        opt = getattr(self.model, "optimizer", None)
        if opt is not None:
            logs["lr"] = _scalar(opt.learning_rate)
        logs["seconds"] = time.perf_counter() - self._start
        self.history.append({"epoch": epoch + 1, **_floats(logs)})


class _BestWeightsMixin:
    """Remember the weights of the epoch with the best ``monitor`` value (on the device) and restore them
    at the end of training; ``best`` holds the epoch and score (``mode`` as
    :func:`kitlib.fitting.monitor_mode`)."""

    def __init__(self, monitor: str, mode: str | None = None):
        super().__init__()
        self.monitor = monitor
        self.best = MonitorBest(monitor_mode(monitor, mode))
        self.best_weights_: list | None = None

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1, **_floats(logs)}
        if self.best.update(check_monitor(self.monitor, row), epoch + 1):
            from keras import ops

            self.best_weights_ = [ops.copy(v.value) for v in self.model.weights]  # stays on the device

    def on_train_end(self, logs=None):
        if self.best_weights_ is not None:
            for variable, value in zip(self.model.weights, self.best_weights_):
                variable.assign(value)


class _EarlyStoppingMixin:
    """Stop training after ``patience`` epochs without a better ``monitor`` value."""

    def __init__(self, monitor: str, mode: str | None = None, patience: int = 5):
        super().__init__()
        self.monitor = monitor
        self.best = MonitorBest(monitor_mode(monitor, mode), patience)

    def on_epoch_end(self, epoch, logs=None):
        self.best.update(check_monitor(self.monitor, _floats(logs)), epoch + 1)
        if self.best.exhausted:
            self.model.stop_training = True


class _EpochLoggerMixin:
    """Print one line per epoch (``epoch 3/20  loss=...  val_loss=...  lr=...  seconds=4.1s``), flushed:
    readable in a notebook, under papermill and in a log file, unlike a per-batch bar."""

    def __init__(self, epochs: int | None = None, desc: str = "", stream=None):
        super().__init__()
        self.epochs, self.desc, self.stream = epochs, desc, stream

    def on_epoch_end(self, epoch, logs=None):
        total = f"/{self.epochs}" if self.epochs else ""
        head = f"{self.desc} epoch {epoch + 1}{total}".strip()
        print(f"{head}  {format_logs(_floats(logs))}", file=self.stream or sys.stdout, flush=True)


class _OptunaPruningMixin:
    """Report ``monitor`` to an Optuna trial each epoch (step = 1-based epoch) and prune when Optuna says
    so: ``trial.report(score, epoch)``, then ``if trial.should_prune(): raise optuna.TrialPruned()``."""

    def __init__(self, trial, monitor: str):
        super().__init__()
        self.trial, self.monitor = trial, monitor

    def on_epoch_end(self, epoch, logs=None):
        report_and_prune(self.trial, _floats(logs), self.monitor, epoch + 1)


class _WandbLoggerMixin:
    """Log each epoch's metrics to a wandb run, keys prefixed with ``prefix``."""

    def __init__(self, wandb_run, prefix: str = ""):
        super().__init__()
        self.wandb_run, self.prefix = wandb_run, prefix

    def on_epoch_end(self, epoch, logs=None):
        logs = {"epoch": epoch + 1, **_floats(logs)}
        self.wandb_run.log({f"{self.prefix}{k}": v for k, v in logs.items()})


MIXINS = {
    "EpochLogs": (_EpochLogsMixin, "callbacks.Callback"),
    "BestWeights": (_BestWeightsMixin, "callbacks.Callback"),
    "EarlyStopping": (_EarlyStoppingMixin, "callbacks.Callback"),
    "EpochLogger": (_EpochLoggerMixin, "callbacks.Callback"),
    "OptunaPruning": (_OptunaPruningMixin, "callbacks.Callback"),
    "WandbLogger": (_WandbLoggerMixin, "callbacks.Callback"),
    "WarmupSchedule": (_WarmupScheduleMixin, "optimizers.schedules.LearningRateSchedule"),
}


@functools.cache
def classes() -> dict[str, type]:
    """Bind each mixin to its Keras base class (imports Keras, so the backend is fixed from here on)."""
    import keras

    out = {}
    for name, (mixin, base_path) in MIXINS.items():
        base: Any = keras
        for part in base_path.split("."):
            base = getattr(base, part)
        out[name] = type(name, (mixin, base), {"__doc__": mixin.__doc__, "__module__": __name__})
    return out


def __getattr__(name: str):
    """``kitlib.keras.callbacks.WandbLogger`` and friends: the Keras classes, bound on first access (imports
    Keras). Raises ``AttributeError`` for any other name."""
    if name in MIXINS:
        return classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
