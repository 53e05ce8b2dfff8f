"""The habits of :mod:`kitlib.train` for Keras 3 models, on any backend (torch by default).

- :func:`use_backend` picks the backend (``"torch"``, ``"tensorflow"``, ``"jax"``) and the device *before*
  Keras is imported; importing this package already sets ``KERAS_BACKEND=torch`` unless the environment
  says otherwise, so no TensorFlow is needed (:mod:`.backend`, with :func:`seed_everything`, which seeds
  Python, NumPy and the backend from one number).
- :func:`fit` (:mod:`.loop`) takes its knobs from the :class:`~kitlib.fitting.Recipe` the torch loop reads
  (re-exported here) and refuses by name the ones it does not have: it compiles with an optimiser whose
  learning rate follows a warmup + constant/linear/cosine schedule (:func:`make_schedule`, the same shape as
  ``kitlib.train``), optionally clipping the global gradient norm (``max_grad_norm``) and averaging the weights
  (``ema``, as ``kitlib.train``), trains, evaluates extra metrics each epoch (``evaluate_fn``), keeps the best
  epoch's weights by ``monitor`` (restored at the end), stops after ``patience`` epochs without improvement,
  prints one line per epoch when output is not a terminal (papermill, Jupyter, log files) instead of a
  per-batch bar and reports to an Optuna trial (and prunes).

Keras itself is imported lazily: the callback classes (``EpochLogs``, ``BestWeights``, ``EarlyStopping``,
``EpochLogger``, ``OptunaPruning``, ``WandbLogger``) and ``WarmupSchedule`` are built on first use, on top of
``keras.callbacks.Callback`` / ``keras.optimizers.schedules.LearningRateSchedule`` of the chosen backend, and
reached as ``kitlib.keras.callbacks.WandbLogger`` and so on (:mod:`.callbacks`).

Example::

    import kitlib.keras as kk
    kk.use_backend("torch")           # or "" = $KERAS_BACKEND, else torch
    import keras
    kk.seed_everything(0)
    model = keras.Sequential([...])
    recipe = kk.Recipe(epochs=20, patience=5, monitor="val_accuracy")
    result = kk.fit(model, x, y, recipe=recipe, validation_data=(xv, yv), loss="sparse_categorical_crossentropy",
                    metrics=["accuracy"])
    result.history[-1]["val_accuracy"], result.best_epoch
"""
from __future__ import annotations

from ..fitting import OPTIMIZERS, SCHEDULES, FitResult, Recipe
from . import callbacks  # kitlib.keras.callbacks.WandbLogger and the other Keras classes, bound on first access
from .backend import BACKENDS, current_backend, seed_everything, use_backend
from .loop import KERAS_UNSUPPORTED, check_keras_recipe, fit, make_optimizer, make_schedule, predict

__all__ = [
    "BACKENDS", "OPTIMIZERS", "SCHEDULES", "KERAS_UNSUPPORTED", "FitResult", "Recipe", "use_backend",
    "current_backend", "seed_everything", "make_schedule", "make_optimizer", "check_keras_recipe", "fit", "predict",
    "callbacks",
]
