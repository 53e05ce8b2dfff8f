"""The batch contract of :mod:`kitlib.train`, in-memory loaders, and evaluation/prediction without gradients.

Outputs (and targets) whose trailing sizes differ from batch to batch, such as token-level logits of
batches padded to their own longest sequence, are right-padded to the widest batch when concatenated:
float outputs and targets with NaN, integer targets with -100 (the ignore index of the collators).
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ..runtime import autocast, resolve_device, to_device

__all__ = ["IGNORE_INDEX", "tensor_loader", "evaluate", "predict", "clone_model", "concat_ragged"]

IGNORE_INDEX = -100  # integer targets beyond a row's width (the loss ignores them too)


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


def forward(model: nn.Module, batch: Any, loss_fn: Callable | None):
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


def concat_ragged(parts: list[torch.Tensor]) -> np.ndarray:
    """Concatenate batches along the first axis; trailing sizes that differ are right-padded to the
    largest (NaN for floating point, -100 for integers, False for booleans)."""
    shapes = {tuple(p.shape[1:]) for p in parts}
    if len(shapes) == 1:
        return torch.cat(parts).numpy()
    if len({p.ndim for p in parts}) != 1:
        raise ValueError(f"batches of different ranks cannot be concatenated: {sorted(shapes)}")
    widest = tuple(max(sizes) for sizes in zip(*shapes))
    dtype = parts[0].dtype
    fill = float("nan") if dtype.is_floating_point else False if dtype == torch.bool else IGNORE_INDEX
    out = torch.full((sum(len(p) for p in parts), *widest), fill, dtype=dtype)
    row = 0
    for p in parts:
        out[(slice(row, row + len(p)), *(slice(0, s) for s in p.shape[1:]))] = p
        row += len(p)
    return out.numpy()


def evaluate(
    model: nn.Module,
    loader: Iterable,
    *,
    loss_fn: Callable | None = None,
    device: str | torch.device = "auto",
    amp_dtype: str | bool = "auto",
) -> tuple[np.ndarray | None, np.ndarray, float | None]:
    """Run ``model`` over ``loader`` without gradients; return ``(targets, outputs, mean loss)``.

    ``targets``/``loss`` are None when batches carry no target. Outputs are float32 NumPy arrays; ragged
    batches are padded (module docstring). ``amp_dtype``: ``"auto"``, ``"bf16"``, ``"fp16"`` or ``"off"``
    (see :func:`kitlib.runtime.amp_dtype_name`; fp32 on the CPU).
    """
    dev = resolve_device(device)
    model.eval()
    outputs, targets, loss_sum, n, has_loss = [], [], 0.0, 0, False
    with torch.inference_mode(), autocast(dev, amp_dtype):
        for batch in loader:
            batch = to_device(batch, dev, non_blocking=True)
            loss, out, target = forward(model, batch, loss_fn)
            size = len(out)
            if loss is not None:
                loss_sum += float(loss) * size
                has_loss = True
            n += size
            outputs.append(out.float().cpu())
            if target is not None:
                targets.append(target.cpu())
    out_arr = concat_ragged(outputs) if outputs else np.empty((0,))
    tgt_arr = concat_ragged(targets) if targets else None
    return tgt_arr, out_arr, (loss_sum / n if n and has_loss else None)


def predict(
    model: nn.Module,
    data: Iterable | np.ndarray,
    *,
    batch_size: int = 256,
    device: str | torch.device = "auto",
    amp_dtype: str | bool = "auto",
) -> np.ndarray:
    """Outputs (logits) of ``model`` for a DataLoader or a single input array, as a float32 array (ragged
    batches padded with NaN, see the module docstring)."""
    if isinstance(data, (np.ndarray, torch.Tensor)):
        x = torch.as_tensor(np.asarray(data))
        data = DataLoader(TensorDataset(x.float() if x.is_floating_point() else x, torch.zeros(len(x))),
                          batch_size=batch_size)
    dev = resolve_device(device)
    model.to(dev)
    return evaluate(model, data, device=dev, amp_dtype=amp_dtype)[1]


def clone_model(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` (e.g. to keep one model per fold)."""
    return copy.deepcopy(model)
