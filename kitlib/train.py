"""The torch training loop: CPU or CUDA (AMP on CUDA), LR schedule with warmup, gradient accumulation,
early stopping on a validation metric with the best weights restored, a progress bar, callbacks.

The pieces a launcher (``torchrun``/``accelerate``) wraps stay separate from the loop:
``make_optimizer``, ``make_scheduler`` and ``tensor_loader`` build things; ``fit`` only runs them, and
only the main process (rank 0) draws progress bars.

Batch contract (what ``fit``/``predict``/``evaluate`` accept from a DataLoader):

- a tuple/list ``(x1, ..., xn, target)``: ``output = model(x1, ..., xn)``, ``loss = loss_fn(output, target)``;
- a dict (Hugging Face style): ``output = model(**batch)``; the loss is ``loss_fn(output, batch["labels"])``
  when ``loss_fn`` is given, else the model's own ``output.loss``; the target is ``batch["labels"]``.

The "output" handed to metrics is ``output.logits`` / ``output["logits"]`` when present, else the output.
"""
from __future__ import annotations

import copy
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from .errors import ParameterError

OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULES = ("constant", "linear", "cosine")


# ----------------------------------------------------------------------------------------- devices
def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; any other string is passed to ``torch.device``."""
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) from one number."""
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():  # pragma: no cover - no GPU in CI
        torch.cuda.manual_seed_all(seed)


def is_main_process() -> bool:
    """True unless this is a non-zero rank of an initialised ``torch.distributed`` group."""
    return not (torch.distributed.is_available() and torch.distributed.is_initialized()) or (
        torch.distributed.get_rank() == 0
    )


def to_device(batch: Any, device: torch.device, non_blocking: bool = False) -> Any:
    """Move every tensor inside a (nested) tuple/list/dict to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=non_blocking)
    if isinstance(batch, dict):
        return {k: to_device(v, device, non_blocking) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device, non_blocking) for v in batch)
    return batch


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
    """An optimiser over the trainable parameters; biases and norm weights get no weight decay."""
    if name not in OPTIMIZERS:
        raise ParameterError(f"Unknown optimizer {name!r}; expected one of {list(OPTIMIZERS)}")
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (no_decay if param.ndim < 2 else decay).append(param)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=0.9)
    return (torch.optim.AdamW if name == "adamw" else torch.optim.Adam)(groups, lr=lr)


def make_scheduler(optimizer, schedule: str = "cosine", total_steps: int = 1, warmup: float = 0.0):
    """Per-step LR multiplier: linear warmup over ``warmup`` (a fraction of ``total_steps``), then
    ``constant``, ``linear`` decay to 0 or ``cosine`` decay to 0."""
    if schedule not in SCHEDULES:
        raise ParameterError(f"Unknown schedule {schedule!r}; expected one of {list(SCHEDULES)}")
    if not 0.0 <= warmup < 1.0:
        raise ParameterError(f"warmup must be a fraction in [0, 1); got {warmup}")
    total = max(1, int(total_steps))
    warm = int(round(warmup * total))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        if schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warm) / max(1, total - warm))
        return 1.0 - progress if schedule == "linear" else 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


# --------------------------------------------------------------------------------------- callbacks
@dataclass
class FitState:
    """What callbacks see: the model, its optimiser, the epoch (1-based) and the history so far."""

    model: nn.Module
    optimizer: Any
    epoch: int = 0
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


class PrintLogger(Callback):
    """Print one line of metrics per epoch (readable in a notebook and in a log file)."""

    def __init__(self, every: int = 1):
        self.every = every

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        if state.epoch % self.every == 0 and is_main_process():
            print("  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in logs.items()))


class OptunaPruning(Callback):
    """Report the monitored metric to an Optuna trial each epoch and prune when Optuna says so.

    Exactly Optuna's documented loop: ``trial.report(score, epoch)``, then
    ``if trial.should_prune(): raise optuna.TrialPruned()``.
    """

    def __init__(self, trial, monitor: str | None = None):
        self.trial = trial
        self.monitor = monitor

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        import optuna

        key = self.monitor or state.monitor
        if key not in logs:
            raise ParameterError(f"OptunaPruning monitors {key!r} but the epoch logs hold {sorted(logs)}")
        self.trial.report(float(logs[key]), state.epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {state.epoch} with {key}={logs[key]:.4g}")


class WandbLogger(Callback):
    """Log each epoch's metrics to a wandb run (see :func:`kitlib.run.Run.wandb`), prefixed if asked."""

    def __init__(self, wandb_run, prefix: str = ""):
        self.wandb_run = wandb_run
        self.prefix = prefix

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        if is_main_process():
            self.wandb_run.log({f"{self.prefix}{k}": v for k, v in logs.items()})


# ------------------------------------------------------------------------------------------ result
@dataclass
class FitResult:
    """What :func:`fit` returns: the model (best weights restored), per-epoch history and the best epoch."""

    model: nn.Module
    history: list[dict]
    best_epoch: int
    best_score: float
    monitor: str


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


def _progress(total: int, desc: str, enabled: bool):
    """A tqdm bar that behaves under papermill: outside a terminal it redraws at most every 30 s, and
    ``kit run`` folds the carriage returns so the executed notebook keeps one line per bar."""
    from tqdm import tqdm

    interactive = sys.stderr.isatty() or "ipykernel" in sys.modules and not os.environ.get("KIT_RUN_DIR")
    return tqdm(
        total=total,
        desc=desc,
        disable=not (enabled and is_main_process()),
        mininterval=0.2 if interactive else 30.0,
        leave=True,
        dynamic_ncols=interactive,
        ncols=None if interactive else 100,
        file=sys.stderr,
    )


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
    dev = resolve_device(device) if not isinstance(device, torch.device) else device
    model.eval()
    outputs, targets, loss_sum, n = [], [], 0.0, 0
    with torch.inference_mode(), _autocast(dev, amp):
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
    dev = resolve_device(device) if not isinstance(device, torch.device) else device
    model.to(dev)
    return evaluate(model, data, device=dev, amp=amp)[1]


def _autocast(device: torch.device, amp: bool):
    import contextlib

    if amp and device.type == "cuda":  # pragma: no cover - exercised on the GPU machine
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return contextlib.nullcontext()


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
    given, else ``val_loss``) picks the epoch whose weights are kept; ``mode`` is ``"max"``/``"min"``
    (default: ``"min"`` for names ending in ``loss``). ``patience`` stops after that many epochs without
    improvement. The best weights are restored into ``model`` before returning.

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
    mode = mode or ("min" if monitor.endswith("loss") else "max")
    if mode not in ("min", "max"):
        raise ParameterError(f"Unknown mode {mode!r}; expected one of ['max', 'min']")
    better = (lambda a, b: a < b) if mode == "min" else (lambda a, b: a > b)

    state = FitState(model=model, optimizer=opt, monitor=monitor)
    best_score, best_epoch, best_state, stale = (math.inf if mode == "min" else -math.inf), 0, None, 0
    for cb in callbacks:
        cb.on_fit_start(state)
    bar = _progress(epochs * len(train), desc, progress)
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
                with _autocast(dev, use_amp):
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
            if monitor not in logs:
                raise ParameterError(f"monitor {monitor!r} is not among the epoch logs {sorted(logs)}")
            state.history.append(logs)
            bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items() if k.startswith("val_") or k == "train_loss"},
                            refresh=False)
            score = logs[monitor]
            if better(score, best_score):
                best_score, best_epoch, stale = score, epoch, 0
                best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            else:
                stale += 1
            for cb in callbacks:
                cb.on_epoch_end(state, logs)
            if state.stop_training or (patience is not None and stale >= patience):
                break
    finally:
        bar.close()
        for cb in callbacks:
            cb.on_fit_end(state)
    if best_state is not None:
        model.load_state_dict(best_state)
    return FitResult(model=model, history=state.history, best_epoch=best_epoch, best_score=float(best_score),
                     monitor=monitor)


def clone_model(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` (e.g. to keep one model per fold)."""
    return copy.deepcopy(model)
