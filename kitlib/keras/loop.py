"""The Keras 3 training loop, :func:`fit`, and what it compiles with (:func:`make_optimizer`, :func:`make_schedule`).

:func:`fit` takes its knobs from a :class:`kitlib.fitting.Recipe`, the one the torch loop reads: ``epochs``,
``batch_size``, ``lr``, ``optimizer`` (a name), ``weight_decay``, ``schedule``, ``warmup``, ``max_grad_norm``,
``ema``, ``monitor``, ``mode``, ``patience``, ``seed`` and ``progress``; ``device`` is where
:func:`~kitlib.keras.backend.use_backend` put Keras before it was imported. The knobs only the torch loop has
(:data:`KERAS_UNSUPPORTED`) are refused by name when they differ from their defaults. Keras itself is imported
inside the functions.
"""
from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import ParameterError
from ..fitting import FitResult, Recipe, check_optimizer, monitor_mode, schedule_steps
from .backend import seed_everything
from .callbacks import classes

# the recipe's knobs the Keras loop has no counterpart for
KERAS_UNSUPPORTED = ("accumulate", "lr_decay", "grad_checkpointing", "eval_every", "amp_dtype", "checkpoint_every",
                     "processes")

__all__ = ["KERAS_UNSUPPORTED", "check_keras_recipe", "make_schedule", "make_optimizer", "fit", "predict"]


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


# ------------------------------------------------------------------------------------------- fit
def check_keras_recipe(recipe: Recipe) -> None:
    """Raise ``ParameterError`` naming every knob of :data:`KERAS_UNSUPPORTED` that ``recipe`` sets to other than
    its default (the Keras loop would silently ignore it)."""
    default = Recipe()
    given = [name for name in KERAS_UNSUPPORTED if getattr(recipe, name) != getattr(default, name)]
    if given:
        defaults = ", ".join(f"{name}={getattr(default, name)!r}" for name in given)
        raise ParameterError(f"the Keras loop does not support {', '.join(given)}; leave them at their defaults "
                             f"({defaults}) or train with kitlib.train.fit")


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
    recipe: Recipe | None = None,
    validation_data: tuple | None = None,
    loss=None,
    loss_weights=None,
    metrics=None,
    evaluate_fn: Callable[[Any], dict[str, float]] | None = None,
    callbacks: Sequence = (),
    trial=None,
    desc: str = "",
) -> FitResult:
    """Compile and train a Keras ``model`` on arrays ``x``, ``y`` (or a ``keras.utils.PyDataset`` as ``x``) as
    ``recipe`` (a :class:`kitlib.fitting.Recipe`; None for ``Recipe()``, every field's default) says.

    The model is compiled with ``loss``/``loss_weights``/``metrics`` and :func:`make_optimizer` (the recipe's
    ``optimizer``, ``lr``, ``weight_decay``, ``schedule`` with ``warmup`` as a fraction of all steps,
    ``max_grad_norm``, ``ema``), then trained for ``recipe.epochs`` epochs of ``recipe.batch_size`` examples.
    With ``ema`` validation, ``evaluate_fn``, the kept best weights and the returned model use the averaged
    weights (``keras.callbacks.SwapEMAWeights``). After each epoch the logs hold Keras's ``loss``, metrics and
    ``val_*`` (with ``validation_data``), plus ``evaluate_fn(model)``'s dict, ``lr`` and ``seconds``.
    ``recipe.monitor`` (default ``val_loss`` with validation data, else ``loss``) picks the epoch whose weights
    are restored at the end; ``recipe.mode`` defaults to ``"min"`` for names ending in ``loss`` or ``error``,
    else ``"max"``; ``recipe.patience`` stops after that many epochs without improvement. ``trial`` (Optuna)
    gets the monitored value each epoch and may prune (``optuna.TrialPruned`` propagates). ``callbacks`` run
    after the kit's own, e.g. ``kitlib.keras.callbacks.WandbLogger(run, prefix)`` to log every epoch to a wandb
    run. ``recipe.progress`` prints Keras's bar in a terminal and one line per epoch elsewhere (Jupyter,
    papermill, logs), each starting with ``desc``. ``recipe.seed`` seeds shuffling and dropout (seed before
    building the model for its initial weights).

    Raises ``ParameterError`` for a knob the Keras loop does not have (:func:`check_keras_recipe`), an unknown
    optimiser/schedule/mode, a monitor missing from the logs, or no ``loss``.
    """
    import keras

    recipe = recipe if recipe is not None else Recipe()
    check_keras_recipe(recipe)
    epochs, batch_size, ema = recipe.epochs, recipe.batch_size, recipe.ema
    if recipe.seed is not None:
        seed_everything(recipe.seed)
    if loss is None:
        raise ParameterError("fit needs loss= (a Keras loss, its name, or a dict of them per output)")
    steps = len(x) if isinstance(x, keras.utils.PyDataset) else math.ceil(_n_samples(x) / batch_size)
    model.compile(
        optimizer=make_optimizer(recipe.optimizer, recipe.lr, weight_decay=recipe.weight_decay,
                                 schedule=recipe.schedule, total_steps=steps * epochs, warmup=recipe.warmup,
                                 max_grad_norm=recipe.max_grad_norm, ema=ema),
        loss=loss, loss_weights=loss_weights, metrics=metrics,
    )
    monitor = recipe.monitor or ("val_loss" if validation_data is not None else "loss")
    mode = monitor_mode(monitor, recipe.mode)
    bound = classes()
    epoch_logs, keeper = bound["EpochLogs"](evaluate_fn), bound["BestWeights"](monitor, mode)
    # with ema, the averaged weights are swapped in for validation and for every callback after this one
    cbs: list = [*([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if ema else []), epoch_logs, keeper]
    if recipe.patience is not None:
        cbs.append(bound["EarlyStopping"](monitor, mode, recipe.patience))
    bar = recipe.progress and sys.stdout.isatty()
    if recipe.progress and not bar:
        cbs.append(bound["EpochLogger"](epochs, desc))
    cbs.extend(callbacks)
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
