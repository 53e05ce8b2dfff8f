"""The habits of :mod:`kitlib.train` for Keras 3 models, on any backend (torch by default).

- :func:`use_backend` picks the backend (``"torch"``, ``"tensorflow"``, ``"jax"``) and the device *before*
  Keras is imported; importing this module already sets ``KERAS_BACKEND=torch`` unless the environment
  says otherwise, so no TensorFlow is needed.
- :func:`fit` compiles with an optimiser whose learning rate follows a warmup + constant/linear/cosine
  schedule (:func:`make_schedule`, the same shape as ``kitlib.train``), optionally clipping the global
  gradient norm (``max_grad_norm``) and averaging the weights (``ema``, as ``kitlib.train``), trains, evaluates extra metrics
  each epoch (``evaluate_fn``), keeps the best epoch's weights by ``monitor`` (restored at the end),
  stops after ``patience`` epochs without improvement, prints one line per epoch when output is not a
  terminal (papermill, Jupyter, log files) instead of a per-batch bar, reports to an Optuna trial (and
  prunes) and logs to wandb when given a run.
- :func:`seed_everything` seeds Python, NumPy and the backend from one number.

Keras itself is imported lazily: the callback classes (``EpochLogs``, ``BestWeights``, ``EarlyStopping``,
``EpochLogger``, ``OptunaPruning``, ``WandbLogger``) and ``WarmupSchedule`` are built on first use, on top of
``keras.callbacks.Callback`` / ``keras.optimizers.schedules.LearningRateSchedule`` of the chosen backend.

Example::

    import kitlib.keras as kk
    kk.use_backend("torch")           # or "" = $KERAS_BACKEND, else torch
    import keras
    kk.seed_everything(0)
    model = keras.Sequential([...])
    result = kk.fit(model, x, y, validation_data=(xv, yv), loss="sparse_categorical_crossentropy",
                    metrics=["accuracy"], monitor="val_accuracy", epochs=20, patience=5)
    result.history[-1]["val_accuracy"], result.best_epoch
"""
from __future__ import annotations

import importlib.util
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import MissingDependencyError, ParameterError
from ..fitting import OPTIMIZERS, SCHEDULES, FitResult, check_optimizer, monitor_mode, schedule_steps
from .callbacks import MIXINS, classes

os.environ.setdefault("KERAS_BACKEND", "torch")

BACKENDS = ("torch", "tensorflow", "jax")
_INSTALL = {"torch": "pip install torch==2.13.0", "tensorflow": "pip install -r requirements-tf.txt",
            "jax": "pip install jax"}

__all__ = [
    "BACKENDS", "OPTIMIZERS", "SCHEDULES", "FitResult", "use_backend", "current_backend", "seed_everything",
    "make_schedule", "make_optimizer", "fit", "predict",
    "WarmupSchedule", "EpochLogs", "BestWeights", "EarlyStopping", "EpochLogger", "OptunaPruning", "WandbLogger",
]


# ------------------------------------------------------------------------------------- backend
def use_backend(backend: str = "", device: str = "auto") -> str:
    """Choose the Keras backend and device; call before anything imports ``keras``.

    ``backend``: ``"torch"``, ``"tensorflow"`` or ``"jax"``; ``""`` keeps ``$KERAS_BACKEND`` (torch when
    unset). ``device``: ``"auto"`` lets the backend choose (CUDA when present); ``"cpu"``, ``"cuda"`` or
    ``"cuda:1"`` pins torch (``KERAS_TORCH_DEVICE``) and jax (``JAX_PLATFORMS``); with TensorFlow,
    ``"cpu"`` hides the GPUs (``CUDA_VISIBLE_DEVICES=-1``). Returns the backend in effect.

    Raises ``ParameterError`` for an unknown backend, or when Keras is already imported with another
    backend or device (restart the kernel, or set ``KERAS_BACKEND`` before starting Python), and
    ``MissingDependencyError`` (with the install command) when the backend's package is not installed.
    """
    name = backend or os.environ.get("KERAS_BACKEND") or "torch"
    if name not in BACKENDS:
        raise ParameterError(f"Unknown Keras backend {name!r}; expected one of {list(BACKENDS)}")
    if importlib.util.find_spec(name) is None:
        raise MissingDependencyError(f"the Keras backend {name!r} needs the {name} package; run: {_INSTALL[name]}")
    if "keras" in sys.modules:
        active = sys.modules["keras"].backend.backend()
        if active != name:
            raise ParameterError(
                f"Keras is already imported with backend {active!r}, so it cannot switch to {name!r}; "
                f"restart the kernel, or start Python with KERAS_BACKEND={name}"
            )
        if device not in ("", "auto") and name == "torch":
            from keras.src.backend.torch.core import get_device

            if str(get_device()) != device:
                raise ParameterError(
                    f"Keras is already imported on device {get_device()!s}, so it cannot move to {device!r}; "
                    f"restart the kernel, or start Python with KERAS_TORCH_DEVICE={device}"
                )
        return name
    os.environ["KERAS_BACKEND"] = name
    if device not in ("", "auto"):
        if name == "torch":
            os.environ["KERAS_TORCH_DEVICE"] = device
        elif name == "jax":
            os.environ["JAX_PLATFORMS"] = device.split(":")[0]
        elif device == "cpu":
            os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    return name


def current_backend() -> str:
    """The backend Keras uses (imports Keras; after :func:`use_backend` that is the chosen one)."""
    import keras

    return keras.backend.backend()


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and the backend (``keras.utils.set_random_seed``) from one number; call it
    before building a model so its initial weights are reproducible."""
    import keras

    keras.utils.set_random_seed(int(seed) % 2**32)


# -------------------------------------------------------------------------- schedules, optimisers
def make_schedule(lr: float, schedule: str = "cosine", total_steps: int = 1, warmup: float = 0.0):
    """A :class:`WarmupSchedule`; ``warmup`` is a fraction of ``total_steps`` (optimiser steps).

    Raises ``ParameterError`` for an unknown schedule or a warmup outside [0, 1).
    """
    total, warm = schedule_steps(schedule, total_steps, warmup)
    return classes()["WarmupSchedule"](lr, total, warm, schedule)


def make_optimizer(
    name: str = "adamw",
    lr: float = 1e-3,
    *,
    weight_decay: float = 0.0,
    schedule: str = "cosine",
    total_steps: int = 1,
    warmup: float = 0.0,
    clipnorm: float | None = None,
    max_grad_norm: float | None = None,
    ema: float | None = None,
):
    """A Keras optimiser (``adamw``, ``adam``, ``sgd`` with momentum 0.9, ``rmsprop``) whose learning
    rate follows :func:`make_schedule`. Biases and normalisation weights get no weight decay.

    ``max_grad_norm`` clips the global gradient norm (Keras's ``global_clipnorm``: what ``kitlib.train``
    does); ``clipnorm`` clips each variable's gradient on its own. ``ema`` (a decay such as 0.999) keeps a
    moving average of the weights (Keras's ``use_ema``/``ema_momentum``). Raises ``ParameterError`` for an
    unknown name, schedule or warmup, both clipping kinds at once, or a decay outside (0, 1).
    """
    import keras

    check_optimizer(name)
    if clipnorm and max_grad_norm:
        raise ParameterError("give max_grad_norm (the global norm, as kitlib.train) or clipnorm (per variable), "
                             "not both")
    if ema is not None and not 0.0 < ema < 1.0:
        raise ParameterError(f"ema must be a decay in (0, 1), e.g. 0.999 (or None for no averaging); got {ema}")
    rate = make_schedule(lr, schedule, total_steps, warmup)
    wd = weight_decay or None
    common = dict(clipnorm=clipnorm or None, global_clipnorm=max_grad_norm or None, use_ema=bool(ema),
                  ema_momentum=ema or 0.99)
    if name == "adamw":
        opt = keras.optimizers.AdamW(rate, weight_decay=weight_decay, **common)
    elif name == "adam":
        opt = keras.optimizers.Adam(rate, weight_decay=wd, **common)
    elif name == "sgd":
        opt = keras.optimizers.SGD(rate, momentum=0.9, weight_decay=wd, **common)
    else:
        opt = keras.optimizers.RMSprop(rate, weight_decay=wd, **common)
    if weight_decay:
        opt.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return opt


def __getattr__(name: str):
    """``kitlib.keras.BestWeights`` and friends: Keras classes created on first access."""
    if name in MIXINS:
        return classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ------------------------------------------------------------------------------------------- fit
def _n_samples(x) -> int:
    if isinstance(x, dict):
        x = next(iter(x.values()))
    elif isinstance(x, (list, tuple)):
        x = x[0]
    return len(x)


def fit(
    model,
    x,
    y=None,
    *,
    validation_data: tuple | None = None,
    loss=None,
    loss_weights=None,
    metrics=None,
    evaluate_fn: Callable[[Any], dict[str, float]] | None = None,
    epochs: int = 10,
    batch_size: int = 32,
    lr: float = 1e-3,
    optimizer: str = "adamw",
    weight_decay: float = 0.0,
    schedule: str = "cosine",
    warmup: float = 0.0,
    clipnorm: float | None = None,
    max_grad_norm: float | None = None,
    ema: float | None = None,
    monitor: str | None = None,
    mode: str | None = None,
    patience: int | None = None,
    callbacks: Sequence = (),
    progress: bool = True,
    seed: int | None = None,
    trial=None,
    wandb_run=None,
    wandb_prefix: str = "",
    desc: str = "",
) -> FitResult:
    """Compile and train a Keras ``model`` on arrays ``x``, ``y`` (or a ``keras.utils.PyDataset`` as ``x``).

    The model is compiled with ``loss``/``loss_weights``/``metrics`` and :func:`make_optimizer`
    (``optimizer``, ``lr``, ``weight_decay``, ``schedule`` with ``warmup`` as a fraction of all steps,
    ``max_grad_norm`` or ``clipnorm``, ``ema``). With ``ema`` validation, ``evaluate_fn``, the kept best
    weights and the returned model use the averaged weights (``keras.callbacks.SwapEMAWeights``).
    After each epoch the logs hold Keras's ``loss``, metrics and ``val_*`` (with ``validation_data``),
    plus ``evaluate_fn(model)``'s dict, ``lr`` and ``seconds``. ``monitor`` (default ``val_loss`` with
    validation data, else ``loss``) picks the epoch whose weights are restored at the end; ``mode``
    defaults to ``"min"`` for names ending in ``loss`` or ``error``, else ``"max"``; ``patience`` stops
    after that many epochs without improvement. ``trial`` (Optuna) gets the monitored value each epoch and
    may prune (``optuna.TrialPruned`` propagates); ``wandb_run`` gets every epoch's logs (keys prefixed
    with ``wandb_prefix``, so several models can share one run). ``progress``
    prints Keras's bar in a terminal and one line per epoch elsewhere (Jupyter, papermill, logs).
    ``seed`` seeds shuffling and dropout (seed before building the model for its initial weights);
    ``desc`` starts each printed line.

    Raises ``ParameterError`` for unknown optimiser/schedule/mode, a monitor missing from the logs, or
    no ``loss``.
    """
    import keras

    if seed is not None:
        seed_everything(seed)
    if loss is None:
        raise ParameterError("fit needs loss= (a Keras loss, its name, or a dict of them per output)")
    if isinstance(x, keras.utils.PyDataset):
        steps = len(x)
    else:
        steps = math.ceil(_n_samples(x) / batch_size)
    model.compile(
        optimizer=make_optimizer(optimizer, lr, weight_decay=weight_decay, schedule=schedule,
                                 total_steps=steps * epochs, warmup=warmup, clipnorm=clipnorm,
                                 max_grad_norm=max_grad_norm, ema=ema),
        loss=loss, loss_weights=loss_weights, metrics=metrics,
    )
    monitor = monitor or ("val_loss" if validation_data is not None else "loss")
    mode = monitor_mode(monitor, mode)
    bound = classes()
    epoch_logs, keeper = bound["EpochLogs"](evaluate_fn), bound["BestWeights"](monitor, mode)
    # with ema, the averaged weights are swapped in for validation and for every callback after this one
    cbs: list = [*([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if ema else []), epoch_logs, keeper]
    if patience is not None:
        cbs.append(bound["EarlyStopping"](monitor, mode, patience))
    bar = progress and sys.stdout.isatty()
    if progress and not bar:
        cbs.append(bound["EpochLogger"](epochs, desc))
    cbs.extend(callbacks)
    if wandb_run is not None:
        cbs.append(bound["WandbLogger"](wandb_run, wandb_prefix))
    if trial is not None:
        cbs.append(bound["OptunaPruning"](trial, monitor))
    start = time.perf_counter()
    model.fit(
        x, y, validation_data=validation_data, epochs=epochs,
        batch_size=None if isinstance(x, keras.utils.PyDataset) else batch_size,
        callbacks=cbs, verbose=1 if bar else 0, shuffle=True,
    )
    return FitResult(model=model, history=epoch_logs.history, best_epoch=keeper.best.best_epoch,
                     best_score=float(keeper.best.best_score), monitor=monitor,
                     seconds=time.perf_counter() - start)


def predict(model, x, batch_size: int = 256):
    """``model.predict`` without a progress bar: a NumPy array, or a dict of arrays for a model with
    named outputs."""
    out = model.predict(x, batch_size=batch_size, verbose=0)
    if isinstance(out, dict):
        return {k: np.asarray(v) for k, v in out.items()}
    return np.asarray(out)
