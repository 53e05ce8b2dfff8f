"""The torch training loop: CPU or CUDA (mixed precision on CUDA), LR schedule with warmup, gradient
accumulation, best weights and early stopping on a validation metric (as callbacks), checkpoints that a
later fit resumes, and the large-model recipe (layer-wise LR decay, EMA of the weights, gradient
checkpointing, clipping, evaluation every N steps).

``fit(model, loader, recipe=Recipe(...))``: the knobs come in one :class:`~kitlib.fitting.Recipe` (re-exported
here), built once by the caller and read by the loop alone. The pieces a launcher (``torchrun``/``accelerate``)
wraps stay separate from the loop: ``make_optimizer``, ``make_scheduler`` and ``tensor_loader`` build things;
``fit`` only runs them, and only the main process (rank 0) draws progress bars and writes checkpoints. Names,
schedule maths, the better-is-higher rule and :class:`~kitlib.fitting.FitResult` are shared with the Keras loop
through :mod:`kitlib.fitting`. Checkpoints are read with ``torch.load(weights_only=True)``
(:func:`~kitlib.train.checkpoint.load_safely`): a checkpoint folder may come from elsewhere.

Batch contract (what ``fit``/``predict``/``evaluate`` accept from a DataLoader):

- a tuple/list ``(x1, ..., xn, target)``: ``output = model(x1, ..., xn)``, ``loss = loss_fn(output, target)``;
- a dict (Hugging Face style): ``output = model(**batch)``; the loss is ``loss_fn(output, batch["labels"])``
  when ``loss_fn`` is given, else the model's own ``output.loss``; the target is ``batch["labels"]``.

The "output" handed to metrics is ``output.logits`` / ``output["logits"]`` when present, else the output;
token-level outputs of batches padded to different widths are padded to the widest (NaN; targets -100).

The modules: :mod:`.loop` (``fit``), :mod:`.inference` (``evaluate``, ``predict``, ``tensor_loader``),
:mod:`.optim` (optimisers, layer-wise groups, schedules), :mod:`.callbacks`, :mod:`.ema` and
:mod:`.checkpoint` (the checkpoint folder's layout); every public name is re-exported here.
"""
from __future__ import annotations

from ..fitting import FitResult, Recipe
from .callbacks import BestWeights, Callback, EarlyStopping, FitState, OptunaPruning, PrintLogger, WandbLogger
from .checkpoint import TRAIN_STATE, copy_checkpoint, fold_checkpoint, load_best_weights
from .ema import ModelEMA
from .inference import clone_model, evaluate, predict, tensor_loader
from .loop import enable_grad_checkpointing, fit
from .optim import encoder_parts, make_optimizer, make_scheduler, parameter_groups

__all__ = ["tensor_loader", "make_optimizer", "make_scheduler", "parameter_groups", "encoder_parts", "FitState",
           "Callback", "BestWeights", "EarlyStopping", "PrintLogger", "OptunaPruning", "WandbLogger", "ModelEMA",
           "FitResult", "Recipe", "evaluate", "predict", "fit", "clone_model", "enable_grad_checkpointing",
           "TRAIN_STATE", "copy_checkpoint", "fold_checkpoint", "load_best_weights"]
