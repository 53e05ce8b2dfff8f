"""The torch training loop, :func:`fit`: one epoch after another, evaluations, checkpoints and resumption."""
from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ParameterError
from ..fitting import FitResult, Recipe, check_monitor, monitor_mode
from ..runtime import (
    amp_dtype_name,
    autocast,
    is_main_process,
    progress_bar,
    resolve_device,
    seed_everything,
    to_device,
)
from .callbacks import BestWeights, Callback, EarlyStopping, FitState
from .checkpoint import (
    load_best_weights,
    load_train_state,
    rng_state,
    save_best_weights,
    save_train_state,
    set_rng_state,
)
from .ema import ModelEMA
from .inference import evaluate, forward
from .optim import make_optimizer, make_scheduler

__all__ = ["fit", "enable_grad_checkpointing"]


def enable_grad_checkpointing(model: nn.Module) -> None:
    """Recompute activations in the backward pass instead of keeping them (transformers models; the
    non-reentrant variant, which works with frozen embeddings). Raises ``ParameterError`` for a model
    that does not support it."""
    if not getattr(model, "supports_gradient_checkpointing", False):
        raise ParameterError(f"grad_checkpointing needs a transformers model that supports it; "
                             f"{type(model).__name__} does not")
    enable = getattr(model, "activation_checkpointing_enable", None)
    if enable is not None:
        enable({"use_reentrant": False})
    else:  # pragma: no cover - transformers before 5
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def _data_parallel(model: nn.Module, dev: torch.device) -> nn.Module:
    """``model`` wrapped in DistributedDataParallel inside an initialised group of more than one process
    (``static_graph``: parameters the forward never uses, such as an unused pooler, are allowed, with no
    per-step graph search); else ``model`` itself."""
    from .distributed import distributed_world

    if distributed_world() == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None,
                                   static_graph=True)


def _positive(name: str, value: int | None) -> None:
    if value is not None and int(value) < 1:
        raise ParameterError(f"{name} must be >= 1 (or None); got {value}")


@dataclass
class _Parts:
    """What :func:`fit` builds before the first step: the device and the precision (None: full), the network the
    training forward runs (DDP(model), or the model), the optimiser with its schedule and gradient scaler, the
    weight average (None without ``ema``) and the callbacks (best weights first)."""

    dev: torch.device
    amp_name: str | None
    net: nn.Module
    opt: Any
    scheduler: Any
    scaler: Any
    averager: ModelEMA | None
    hooks: list[Callback]


class _Trainer:
    """The state of one :func:`fit` call and the steps it takes (kept out of ``fit`` to keep it readable)."""

    def __init__(self, model, train, recipe: Recipe, parts: _Parts, state: FitState, *, loss_fn, validate, folder,
                 signature, bar):
        self.model, self.train, self.opt, self.scheduler = model, train, parts.opt, parts.scheduler
        self.scaler, self.net = parts.scaler, parts.net  # net: what the training forward runs, DDP(model) or model
        self.averager, self.hooks, self.state, self.dev = parts.averager, parts.hooks, state, parts.dev
        self.amp = parts.amp_name or "off"
        self.loss_fn, self.accumulate, self.max_grad_norm = loss_fn, recipe.accumulate, recipe.max_grad_norm
        self.eval_every, self.folder = recipe.eval_every or None, folder  # 0 means off, as None
        self.checkpoint_every = recipe.checkpoint_every or None
        self.signature, self.validate, self.bar = signature, validate, bar
        self.running = torch.zeros((), device=parts.dev)
        self.seen = 0
        self.epoch_rng: dict | None = None
        self.clock = time.perf_counter()

    # ------------------------------------------------------------------------------------ training
    def epoch(self, epoch: int, batches: Any = None, start: int = 0) -> None:
        """Train one epoch (from batch ``start`` of the iterator ``batches`` when resuming mid-epoch)."""
        st, n = self.state, len(self.train)
        st.epoch = epoch
        if batches is None:
            if self.folder is not None and self.checkpoint_every:
                self.epoch_rng = rng_state(self.train)
            batches = iter(self.train)
        self.model.train()
        self.opt.zero_grad(set_to_none=True)
        for i, batch in enumerate(batches, start=start):
            batch = to_device(batch, self.dev, non_blocking=True)
            # DDP exchanges gradients on a step's last batch (on every batch of the first step: a static graph
            # records its hooks there)
            syncs = not (i + 1) % self.accumulate or i + 1 == n or st.step == 0
            with autocast(self.dev, self.amp), (contextlib.nullcontext() if syncs or self.net is self.model
                                                 else self.net.no_sync()):
                loss, _, _ = forward(self.net, batch, self.loss_fn)
                if loss is None:
                    raise ParameterError("no loss: give loss_fn, or a model whose output carries .loss")
                loss = loss * getattr(self.train, "loss_weight", 1.0)  # a rank's share of the batch (processes > 1)
                self.scaler.scale(loss / self.accumulate).backward()
            self.running += loss.detach()
            self.seen += 1
            self.bar.update(1)
            if (i + 1) % self.accumulate and i + 1 != n:
                continue
            self.step()
            if i + 1 == n:
                break
            if self.eval_every and st.step % self.eval_every == 0:
                self.evaluation()
            if st.stop_training or (self.checkpoint_every and st.step % self.checkpoint_every == 0):
                self.save(i + 1)
            if st.stop_training:
                return
        self.evaluation()
        self.save(0)

    def step(self) -> None:
        """One optimiser step: unscale and clip, step, update the scaler, the schedule and the average."""
        if self.max_grad_norm:
            self.scaler.unscale_(self.opt)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.max_grad_norm)
        self.scaler.step(self.opt)
        self.scaler.update()
        self.opt.zero_grad(set_to_none=True)
        self.scheduler.step()
        if self.averager is not None:
            self.averager.update(self.model)
        self.state.step += 1

    def evaluation(self) -> None:
        """Log the training loss since the last evaluation, validate (with the averaged weights when
        ``ema``), and run the callbacks."""
        st = self.state
        st.evaluations += 1
        if self.net is not self.model:  # the mean over every rank's share (processes > 1)
            torch.distributed.all_reduce(self.running)
            self.running /= torch.distributed.get_world_size()
        logs: dict[str, float] = {"epoch": st.epoch, **({"step": st.step} if self.eval_every else {}),
                                  "train_loss": float(self.running) / max(self.seen, 1),
                                  "lr": max(self.scheduler.get_last_lr())}
        self.running.zero_()
        self.seen = 0
        if self.averager is not None:
            self.averager.swap(self.model)
        try:
            logs.update(self.validate(self.model))
            logs["seconds"] = time.perf_counter() - self.clock
            check_monitor(st.monitor, logs)
            st.history.append(logs)
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items() if k.startswith("val_") or k == "train_loss"},
                                 refresh=False)
            for cb in self.hooks:
                cb.on_epoch_end(st, logs)
        finally:
            if self.averager is not None:
                self.averager.swap(self.model)
            self.model.train()
            self.clock = time.perf_counter()

    # ----------------------------------------------------------------------------------- checkpoints
    def save(self, batch: int) -> None:
        """Write the full training state (``batch`` batches into the current epoch; 0 = the epoch is done)."""
        if self.folder is None or not is_main_process():
            return
        st = self.state
        save_train_state(self.folder, {
            "signature": self.signature, "epoch": st.epoch, "batch": batch, "step": st.step,
            "evaluations": st.evaluations, "stop_training": st.stop_training, "history": st.history,
            "model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
            "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
            "ema": self.averager.state_dict() if self.averager is not None else None,
            "callbacks": [(type(cb).__name__, cb.state_dict()) for cb in self.hooks],
            "running": (float(self.running), self.seen), "rng": rng_state(self.train),
            "epoch_rng": self.epoch_rng if batch else None})

    def finish(self) -> None:
        """Shrink the saved state to the record of a finished fit (no weights, no optimiser): a finished fold
        costs only its best weights on disk, and resuming it just restores them."""
        if self.folder is None or not is_main_process():
            return
        st = self.state
        save_train_state(self.folder, {
            "signature": self.signature, "finished": True, "epoch": st.epoch, "step": st.step,
            "evaluations": st.evaluations, "history": st.history,
            "callbacks": [(type(cb).__name__, cb.state_dict()) for cb in self.hooks]})

    def restore(self, keeper: BestWeights) -> tuple[int, Any, int]:
        """Load the saved state when there is one; return ``(first epoch, batch iterator or None, first batch)``."""
        saved = load_train_state(self.folder, self.signature)
        if saved is None:
            return 1, None, 0
        st = self.state
        for cb, (name, cb_state) in zip(self.hooks, saved["callbacks"]):
            if type(cb).__name__ == name:
                cb.load_state_dict(cb_state)
        if keeper.best_row is not None:
            keeper.state_ = load_best_weights(self.folder, self.model)
        st.history, st.step, st.evaluations = list(saved["history"]), saved["step"], saved["evaluations"]
        st.epoch = saved["epoch"]
        if saved.get("finished"):
            st.stop_training = True
            return st.epochs + 1, None, 0
        st.stop_training = saved["stop_training"]
        self.model.load_state_dict(saved["model"])
        self.opt.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        self.scaler.load_state_dict(saved["scaler"])
        if self.averager is not None:
            self.averager.load_state_dict(saved["ema"])
        self.running.fill_(saved["running"][0])
        self.seen = saved["running"][1]
        done = (saved["epoch"] - (1 if saved["batch"] else 0)) * len(self.train) + saved["batch"]
        self.bar.update(done)
        if not saved["batch"]:
            set_rng_state(saved["rng"], self.train)
            return saved["epoch"] + 1, None, 0
        set_rng_state(saved["epoch_rng"], self.train)  # replay the epoch's order up to where it stopped
        self.epoch_rng = saved["epoch_rng"]
        batches = iter(self.train)
        for _ in range(saved["batch"]):
            next(batches)
        set_rng_state(saved["rng"], self.train)
        return saved["epoch"], batches, saved["batch"]


def fit(
    model: nn.Module,
    train: Iterable,
    *,
    recipe: Recipe | None = None,
    val: Iterable | None = None,
    loss_fn: Callable | None = None,
    metric: Callable[[np.ndarray, np.ndarray], float] | None = None,
    metric_name: str = "score",
    evaluate_fn: Callable[[nn.Module], dict[str, float]] | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    callbacks: Sequence[Callback] = (),
    desc: str = "train",
) -> FitResult:
    """Train ``model`` on the batches of ``train`` as ``recipe`` says (a :class:`kitlib.fitting.Recipe`, read
    here and nowhere above; None for ``Recipe()``, every field's default): ``recipe.epochs`` epochs, evaluating
    after each (and every ``recipe.eval_every`` optimiser steps).

    Each evaluation adds a row to the history: ``epoch`` (``step`` too with ``eval_every``), ``train_loss``
    (mean since the last evaluation), ``lr`` (the largest group's), ``seconds`` and, with ``val``,
    ``val_loss`` and ``val_<metric_name>`` = ``metric(targets, outputs)``; ``evaluate_fn(model)`` may add
    more (e.g. word-level F1 that needs decoding). ``recipe.monitor`` (default ``val_<metric_name>`` when a
    metric is given, else ``val_loss``, else ``train_loss``) picks the evaluation whose weights are kept
    (:class:`BestWeights`) and restored into ``model`` before returning; ``recipe.mode`` is ``"max"``/``"min"``
    (default :func:`kitlib.fitting.monitor_mode`). ``recipe.patience`` stops after that many evaluations
    without improvement (:class:`EarlyStopping`). ``train``'s batch size is the loader's own
    (``recipe.batch_size`` is for the callers that build the loader).

    The recipe's other knobs: ``optimizer`` (a name, or an optimiser built over your own parameter groups),
    ``lr``, ``weight_decay``, ``schedule``; ``accumulate`` batches make one optimiser step; ``warmup`` is a
    fraction of the steps; ``max_grad_norm`` clips the global gradient norm; ``lr_decay`` gives layer-wise
    learning rates (:func:`kitlib.train.parameter_groups`; only with an optimiser given by name); ``ema`` (a
    decay such as 0.999) keeps a moving average of the weights (:class:`kitlib.train.ModelEMA`) that
    evaluation, the best weights and the returned model use; ``grad_checkpointing`` trades compute for memory
    (transformers models). ``amp_dtype`` is ``"auto"`` (bf16 where the GPU has it natively, else fp16 with a
    gradient scaler), ``"bf16"``, ``"fp16"`` or ``"off"``; the CPU always runs fp32, and the GPU is queried
    here, in the training process (:func:`kitlib.runtime.amp_dtype_name`). ``device``, ``seed`` (seeds
    everything first) and ``progress`` (with ``desc`` on the bar) as their help says.

    Checkpoints (:mod:`kitlib.train.checkpoint`): with ``checkpoint_dir`` the best weights are written
    there at each new best and the full training state (``train_state.pt``) after every epoch, or every
    ``recipe.checkpoint_every`` optimiser steps as well (0 or None for ``eval_every``/``checkpoint_every``: at
    epoch ends only); ``resume`` continues from that state when it exists (a fresh start otherwise): same
    weights, history and random draws as a fit that was never interrupted. Once a fit ends the state
    shrinks to the record of a finished fit, so resuming it only restores its best weights and history.
    ``recipe.processes`` > 1 trains with DistributedDataParallel in that many processes on this machine
    (gloo on the CPU, one GPU each with nccl; :mod:`kitlib.train.distributed`): each takes its share of
    every batch, so ``train``'s batch size stays the global batch and the result matches one process;
    ``model`` ends with the trained weights as in one process. Inside a group a launcher such as
    ``torchrun`` made, ``fit`` wraps the model in DDP and leaves sharding ``train`` to the caller.

    Raises ``ParameterError`` for unknown names, bad counts, a monitor that never appears, ``lr_decay``
    with an optimiser instance, ``resume`` without ``checkpoint_dir``, or a saved state of other settings.
    """
    recipe = recipe if recipe is not None else Recipe()
    processes = recipe.processes
    if processes is None or int(processes) < 1:
        raise ParameterError(f"processes must be >= 1; got {processes}")
    if int(processes) > 1:
        from .distributed import fit_in_processes

        arguments = dict(model=model, train=train, recipe=replace(recipe, processes=1), val=val, loss_fn=loss_fn,
                         metric=metric, metric_name=metric_name, evaluate_fn=evaluate_fn,
                         checkpoint_dir=checkpoint_dir, resume=resume, callbacks=callbacks, desc=desc)
        return fit_in_processes(fit, int(processes), arguments)
    if recipe.seed is not None:
        seed_everything(recipe.seed)
    epochs, accumulate, optimizer, lr_decay = recipe.epochs, recipe.accumulate, recipe.optimizer, recipe.lr_decay
    eval_every, checkpoint_every = recipe.eval_every or None, recipe.checkpoint_every or None  # 0 means off
    for name, value in (("accumulate", accumulate), ("eval_every", eval_every), ("checkpoint_every", checkpoint_every)):
        _positive(name, value)
    if resume and checkpoint_dir is None:
        raise ParameterError("resume=True needs checkpoint_dir (the folder an earlier fit saved its state in)")
    if lr_decay is not None and not isinstance(optimizer, str):
        raise ParameterError("lr_decay builds the optimiser's parameter groups: give optimizer by name "
                             "(e.g. 'adamw'), or build the groups yourself with kitlib.train.parameter_groups")
    dev = resolve_device(recipe.device)
    model.to(dev)
    if recipe.grad_checkpointing:
        enable_grad_checkpointing(model)
    net = _data_parallel(model, dev)
    opt = (make_optimizer(model, optimizer, recipe.lr, recipe.weight_decay, lr_decay) if isinstance(optimizer, str)
           else optimizer)
    steps_per_epoch = math.ceil(len(train) / accumulate)
    scheduler = make_scheduler(opt, recipe.schedule, steps_per_epoch * epochs, recipe.warmup)
    amp_name = amp_dtype_name(dev, recipe.amp_dtype)  # the capability query, lazily, in the process that trains
    scaler = torch.amp.GradScaler("cuda", enabled=amp_name == "fp16")
    averager = ModelEMA(model, recipe.ema) if recipe.ema else None

    monitor = recipe.monitor or (f"val_{metric_name}" if metric is not None and val is not None else
                                 "val_loss" if val is not None else "train_loss")
    mode = monitor_mode(monitor, recipe.mode)
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    keeper = BestWeights(monitor, mode, on_best=functools.partial(save_best_weights, folder)
                         if folder is not None and is_main_process() else None)
    patience = recipe.patience
    hooks: list[Callback] = [keeper, *([EarlyStopping(monitor, mode, patience)] if patience is not None else []),
                             *callbacks]
    state = FitState(model=model, optimizer=opt, epochs=epochs, monitor=monitor)

    def validate(net: nn.Module) -> dict[str, float]:
        logs: dict[str, float] = {}
        if val is not None:
            targets, outputs, val_loss = evaluate(net, val, loss_fn=loss_fn, device=dev, amp_dtype=amp_name or "off")
            if val_loss is not None:
                logs["val_loss"] = val_loss
            if metric is not None:
                logs[f"val_{metric_name}"] = float(metric(targets, outputs))
        if evaluate_fn is not None:
            logs.update({k: float(v) for k, v in evaluate_fn(net).items()})
        return logs

    signature = {"epochs": epochs, "batches_per_epoch": len(train), "accumulate": accumulate, "lr": recipe.lr,
                 "schedule": recipe.schedule, "warmup": recipe.warmup, "lr_decay": lr_decay, "ema": recipe.ema,
                 "eval_every": eval_every, "monitor": monitor}
    bar = progress_bar(epochs * len(train), desc, recipe.progress)
    parts = _Parts(dev=dev, amp_name=amp_name, net=net, opt=opt, scheduler=scheduler, scaler=scaler,
                   averager=averager, hooks=hooks)
    trainer = _Trainer(model, train, recipe, parts, state, loss_fn=loss_fn, validate=validate, folder=folder,
                       signature=signature, bar=bar)
    started = time.perf_counter()
    try:
        first, batches, start = trainer.restore(keeper) if resume else (1, None, 0)
        for cb in hooks:
            cb.on_fit_start(state)
        for epoch in range(first, epochs + 1):
            if state.stop_training:
                break
            trainer.epoch(epoch, batches, start)
            batches, start = None, 0
        trainer.finish()
    finally:
        bar.close()
        for cb in hooks:
            cb.on_fit_end(state)
    best = keeper.best_row or {}
    return FitResult(model=model, history=state.history, best_epoch=int(best.get("epoch", 0)),
                     best_score=float(keeper.best.best_score), monitor=monitor,
                     seconds=time.perf_counter() - started, best_step=int(best.get("step", 0)))
