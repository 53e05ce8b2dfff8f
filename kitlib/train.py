"""The torch training loop: CPU or CUDA (AMP on CUDA), LR schedule with warmup, gradient accumulation,
best weights and early stopping on a validation metric (as callbacks), a progress bar, callbacks.

The pieces a launcher (``torchrun``/``accelerate``) wraps stay separate from the loop:
``make_optimizer``, ``make_scheduler`` and ``tensor_loader`` build things; ``fit`` only runs them, and
only the main process (rank 0) draws progress bars. Names, schedule maths, the better-is-higher rule and
:class:`~kitlib.fitting.FitResult` are shared with the Keras loop through :mod:`kitlib.fitting`.

Batch contract (what ``fit``/``predict``/``evaluate`` accept from a DataLoader):

- a tuple/list ``(x1, ..., xn, target)``: ``output = model(x1, ..., xn)``, ``loss = loss_fn(output, target)``;
- a dict (Hugging Face style): ``output = model(**batch)``; the loss is ``loss_fn(output, batch["labels"])``
  when ``loss_fn`` is given, else the model's own ``output.loss``; the target is ``batch["labels"]``.

The "output" handed to metrics is ``output.logits`` / ``output["logits"]`` when present, else the output.
"""
from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from .errors import ParameterError
from .fitting import (FitResult, MonitorBest, check_monitor, check_optimizer, format_logs, lr_factor, monitor_mode,
                      report_and_prune, schedule_steps)
from .runtime import autocast, is_main_process, progress_bar, resolve_device, seed_everything, to_device

__all__ = ["tensor_loader", "make_optimizer", "make_scheduler", "FitState", "Callback", "BestWeights",
           "EarlyStopping", "PrintLogger", "OptunaPruning", "WandbLogger", "FitResult", "evaluate", "predict", "fit",
           "clone_model"]


# ------------------------------------------------------------------------------------ data loaders
def tensor_loader(
    *arrays: np.ndarray | torch.Tensor,
    batch_size: int = 64,
    shuffle: bool = False,
    seed: int = 0,
    drop_last: bool = False,
) -> DataLoader:
    """A DataLoader over in-memory arrays (the last array is the target by the batch contract).

    Float arrays become float32, integer arrays int64. With ``shuffle`` the order comes from ``seed``.
    """
    tensors = []
    for a in arrays:
        t = torch.as_tensor(np.asarray(a)) if not isinstance(a, torch.Tensor) else a
        t = t.float() if t.is_floating_point() else t.long() if t.dtype != torch.bool else t
        tensors.append(t)
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(
        TensorDataset(*tensors), batch_size=batch_size, shuffle=shuffle, generator=generator, drop_last=drop_last
    )


# ------------------------------------------------------------------------ optimisers and schedules
def make_optimizer(model: nn.Module, name: str = "adamw", lr: float = 1e-3, weight_decay: float = 0.0):
    """An optimiser over the trainable parameters; biases and norm weights get no weight decay.

    ``name`` is one of :data:`kitlib.fitting.OPTIMIZERS` (``sgd`` with momentum 0.9).
    """
    check_optimizer(name)
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (no_decay if param.ndim < 2 else decay).append(param)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=0.9)
    if name == "rmsprop":
        return torch.optim.RMSprop(groups, lr=lr)
    return (torch.optim.AdamW if name == "adamw" else torch.optim.Adam)(groups, lr=lr)


def make_scheduler(optimizer, schedule: str = "cosine", total_steps: int = 1, warmup: float = 0.0):
    """Per-step LR multiplier :func:`kitlib.fitting.lr_factor`: linear warmup over ``warmup`` (a fraction of
    ``total_steps``), then ``constant``, ``linear`` decay to 0 or ``cosine`` decay to 0."""
    total, warm = schedule_steps(schedule, total_steps, warmup)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: float(lr_factor(np.float64(step), total, warm, schedule)))


# --------------------------------------------------------------------------------------- callbacks
@dataclass
class FitState:
    """What callbacks see: the model, its optimiser, the epoch (1-based) and the history so far."""

    model: nn.Module
    optimizer: Any
    epoch: int = 0
    epochs: int = 0
    history: list[dict] = field(default_factory=list)
    monitor: str = "val_loss"
    stop_training: bool = False


class Callback:
    """Hooks called by :func:`fit`; every hook is a no-op unless overridden."""

    def on_fit_start(self, state: FitState) -> None:
        """Called once before the first epoch."""

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        """Called after each epoch's validation with that epoch's logs (set ``state.stop_training`` to stop)."""

    def on_fit_end(self, state: FitState) -> None:
        """Called once after training, also when it was interrupted by an exception in another hook."""


class BestWeights(Callback):
    """Keep a CPU copy of the weights of the epoch with the best ``monitor`` value; restore them at the end.

    ``best_epoch``/``best_score`` say which epoch that was (``mode`` as :func:`kitlib.fitting.monitor_mode`).
    """

    def __init__(self, monitor: str, mode: str | None = None):
        self.monitor = monitor
        self.best = MonitorBest(monitor_mode(monitor, mode))
        self.state_: dict | None = None

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        if self.best.update(check_monitor(self.monitor, logs), state.epoch):
            self.state_ = {k: v.detach().to("cpu", copy=True) for k, v in state.model.state_dict().items()}

    def on_fit_end(self, state: FitState) -> None:
        if self.state_ is not None:
            state.model.load_state_dict(self.state_)


class EarlyStopping(Callback):
    """Stop training after ``patience`` epochs without a better ``monitor`` value."""

    def __init__(self, monitor: str, mode: str | None = None, patience: int = 5):
        self.monitor = monitor
        self.best = MonitorBest(monitor_mode(monitor, mode), patience)

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        self.best.update(check_monitor(self.monitor, logs), state.epoch)
        if self.best.exhausted:
            state.stop_training = True


class PrintLogger(Callback):
    """Print one line of metrics per epoch (readable in a notebook and in a log file)."""

    def __init__(self, every: int = 1, desc: str = ""):
        self.every = every
        self.desc = desc

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        if state.epoch % self.every == 0 and is_main_process():
            total = f"/{state.epochs}" if state.epochs else ""
            print(f"{self.desc} epoch {state.epoch}{total}  {format_logs(logs)}".strip(), flush=True)


class OptunaPruning(Callback):
    """Report the monitored metric to an Optuna trial each epoch and prune when Optuna says so.

    Exactly Optuna's documented loop: ``trial.report(score, step)``, then
    ``if trial.should_prune(): raise optuna.TrialPruned()``. The step is ``step_offset + epoch``: a
    cross-validated objective passes ``fold * epochs`` so each fold reports its own steps (Optuna keeps
    only the first value reported for a step).
    """

    def __init__(self, trial, monitor: str | None = None, step_offset: int = 0):
        self.trial = trial
        self.monitor = monitor
        self.step_offset = step_offset

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        report_and_prune(self.trial, logs, self.monitor or state.monitor, self.step_offset + state.epoch)


class WandbLogger(Callback):
    """Log each epoch's metrics to a wandb run (see :func:`kitlib.run.Run.wandb`), prefixed if asked."""

    def __init__(self, wandb_run, prefix: str = ""):
        self.wandb_run = wandb_run
        self.prefix = prefix

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        if is_main_process():
            self.wandb_run.log({f"{self.prefix}{k}": v for k, v in logs.items()})


# -------------------------------------------------------------------------------------- the loop
def _forward(model: nn.Module, batch: Any, loss_fn: Callable | None):
    """Apply the batch contract: returns ``(loss or None, output tensor, target or None)``."""
    if isinstance(batch, dict):
        output = model(**batch)
        target = batch.get("labels")
        if loss_fn is not None:
            loss = loss_fn(_logits(output), target)
        else:
            loss = output.get("loss") if isinstance(output, dict) else getattr(output, "loss", None)
        return loss, _logits(output), target
    *inputs, target = batch
    output = model(*inputs)
    loss = loss_fn(output, target) if loss_fn is not None else None
    return loss, _logits(output), target


def _logits(output: Any) -> torch.Tensor:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, dict) and "logits" in output:
        return output["logits"]
    return getattr(output, "logits", output)


def evaluate(
    model: nn.Module,
    loader: Iterable,
    *,
    loss_fn: Callable | None = None,
    device: str | torch.device = "auto",
    amp: bool = True,
) -> tuple[np.ndarray | None, np.ndarray, float | None]:
    """Run ``model`` over ``loader`` without gradients; return ``(targets, outputs, mean loss)``.

    ``targets``/``loss`` are None when batches carry no target. Outputs are float32 NumPy arrays.
    """
    dev = resolve_device(device)
    model.eval()
    outputs, targets, loss_sum, n = [], [], 0.0, 0
    with torch.inference_mode(), autocast(dev, amp):
        for batch in loader:
            batch = to_device(batch, dev, non_blocking=True)
            loss, out, target = _forward(model, batch, loss_fn)
            size = len(out)
            if loss is not None:
                loss_sum += float(loss) * size
            n += size
            outputs.append(out.float().cpu())
            if target is not None:
                targets.append(target.cpu())
    out_arr = torch.cat(outputs).numpy() if outputs else np.empty((0,))
    tgt_arr = torch.cat(targets).numpy() if targets else None
    return tgt_arr, out_arr, (loss_sum / n if n and loss_sum else None)


def predict(
    model: nn.Module,
    data: Iterable | np.ndarray,
    *,
    batch_size: int = 256,
    device: str | torch.device = "auto",
    amp: bool = True,
) -> np.ndarray:
    """Outputs (logits) of ``model`` for a DataLoader or a single input array, as a float32 array."""
    if isinstance(data, (np.ndarray, torch.Tensor)):
        x = torch.as_tensor(np.asarray(data))
        data = DataLoader(TensorDataset(x.float() if x.is_floating_point() else x, torch.zeros(len(x))),
                          batch_size=batch_size)
    dev = resolve_device(device)
    model.to(dev)
    return evaluate(model, data, device=dev, amp=amp)[1]


def fit(
    model: nn.Module,
    train: Iterable,
    *,
    val: Iterable | None = None,
    loss_fn: Callable | None = None,
    metric: Callable[[np.ndarray, np.ndarray], float] | None = None,
    metric_name: str = "score",
    evaluate_fn: Callable[[nn.Module], dict[str, float]] | None = None,
    monitor: str | None = None,
    mode: str | None = None,
    epochs: int = 10,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    optimizer: str | torch.optim.Optimizer = "adamw",
    schedule: str = "cosine",
    warmup: float = 0.0,
    accumulate: int = 1,
    max_grad_norm: float | None = None,
    patience: int | None = None,
    device: str = "auto",
    amp: bool = True,
    callbacks: Sequence[Callback] = (),
    progress: bool = True,
    seed: int | None = None,
    desc: str = "train",
) -> FitResult:
    """Train ``model`` on ``train`` for ``epochs``; validate on ``val`` after each epoch.

    Per epoch the logs hold ``epoch``, ``train_loss``, ``lr``, ``seconds`` and, with ``val``, ``val_loss``
    and ``val_<metric_name>`` = ``metric(targets, outputs)``; ``evaluate_fn(model)`` may add more
    (e.g. word-level F1 that needs decoding). ``monitor`` (default ``val_<metric_name>`` when a metric is
    given, else ``val_loss``) picks the epoch whose weights are kept (:class:`BestWeights`); ``mode`` is
    ``"max"``/``"min"`` (default: :func:`kitlib.fitting.monitor_mode`, ``"min"`` for names ending in
    ``loss`` or ``error``). ``patience`` stops after that many epochs without improvement
    (:class:`EarlyStopping`). The best weights are restored into ``model`` before returning.

    ``accumulate`` batches make one optimiser step; ``warmup`` is a fraction of the optimiser steps.
    AMP (bf16/fp16 autocast, with a grad scaler for fp16) is used on CUDA when ``amp`` is true.
    Raises ``ParameterError`` for unknown optimiser/schedule names or a monitor that never appears.
    """
    if seed is not None:
        seed_everything(seed)
    if accumulate < 1:
        raise ParameterError(f"accumulate must be >= 1; got {accumulate}")
    dev = resolve_device(device)
    model.to(dev)
    opt = make_optimizer(model, optimizer, lr, weight_decay) if isinstance(optimizer, str) else optimizer
    steps_per_epoch = math.ceil(len(train) / accumulate)
    scheduler = make_scheduler(opt, schedule, steps_per_epoch * epochs, warmup)
    use_amp = amp and dev.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and not torch.cuda.is_bf16_supported())

    monitor = monitor or (f"val_{metric_name}" if metric is not None and val is not None else
                          "val_loss" if val is not None else "train_loss")
    mode = monitor_mode(monitor, mode)
    keeper = BestWeights(monitor, mode)
    hooks: list[Callback] = [keeper, *([EarlyStopping(monitor, mode, patience)] if patience is not None else []),
                             *callbacks]
    state = FitState(model=model, optimizer=opt, epochs=epochs, monitor=monitor)
    for cb in hooks:
        cb.on_fit_start(state)
    bar = progress_bar(epochs * len(train), desc, progress)
    started = time.perf_counter()
    try:
        for epoch in range(1, epochs + 1):
            state.epoch = epoch
            start = time.perf_counter()
            model.train()
            running = torch.zeros((), device=dev)
            seen = 0
            opt.zero_grad(set_to_none=True)
            for i, batch in enumerate(train):
                batch = to_device(batch, dev, non_blocking=True)
                with autocast(dev, use_amp):
                    loss, _, _ = _forward(model, batch, loss_fn)
                if loss is None:
                    raise ParameterError("no loss: give loss_fn, or a model whose output carries .loss")
                scaler.scale(loss / accumulate).backward()
                running += loss.detach()
                seen += 1
                if (i + 1) % accumulate == 0 or i + 1 == len(train):
                    if max_grad_norm:
                        scaler.unscale_(opt)
                        nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
                    scaler.step(opt)
                    scaler.update()
                    opt.zero_grad(set_to_none=True)
                    scheduler.step()
                bar.update(1)
            logs: dict[str, float] = {"epoch": epoch, "train_loss": float(running) / max(seen, 1),
                                      "lr": scheduler.get_last_lr()[0]}
            if val is not None:
                targets, outputs, val_loss = evaluate(model, val, loss_fn=loss_fn, device=dev, amp=use_amp)
                if val_loss is not None:
                    logs["val_loss"] = val_loss
                if metric is not None:
                    logs[f"val_{metric_name}"] = float(metric(targets, outputs))
            if evaluate_fn is not None:
                logs.update({k: float(v) for k, v in evaluate_fn(model).items()})
            logs["seconds"] = time.perf_counter() - start
            check_monitor(monitor, logs)
            state.history.append(logs)
            bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items() if k.startswith("val_") or k == "train_loss"},
                            refresh=False)
            for cb in hooks:
                cb.on_epoch_end(state, logs)
            if state.stop_training:
                break
    finally:
        bar.close()
        for cb in hooks:
            cb.on_fit_end(state)
    return FitResult(model=model, history=state.history, best_epoch=keeper.best.best_epoch,
                     best_score=float(keeper.best.best_score), monitor=monitor,
                     seconds=time.perf_counter() - started)


def clone_model(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` (e.g. to keep one model per fold)."""
    return copy.deepcopy(model)
