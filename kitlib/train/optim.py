"""Optimisers and schedules for :func:`kitlib.train.fit`, with layer-wise learning-rate decay.

Layer-wise decay (``lr_decay`` < 1) gives each encoder layer its own learning rate: the head (and
whatever sits outside the embeddings and the layers) trains at ``lr``, the last encoder layer at
``lr * lr_decay``, the one below at ``lr * lr_decay**2``, ... and the embeddings at
``lr * lr_decay**(n_layers + 1)``. The layers are found in the layouts of the usual encoders
(:func:`encoder_parts`): ``base_model.encoder.layer`` (BERT, RoBERTa, DeBERTa-v2/v3, ELECTRA, MiniLM),
``base_model.transformer.layer`` (DistilBERT) and ``base_model.layers`` (ModernBERT).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ParameterError
from ..fitting import check_optimizer, lr_factor, schedule_steps

__all__ = ["encoder_parts", "parameter_groups", "make_optimizer", "make_scheduler"]


def encoder_parts(model: nn.Module) -> tuple[Any, list[nn.Module]]:
    """``(embeddings module or None, [encoder layers])`` of a transformer encoder (or a model with one
    inside: a token-classification or multiple-choice model).

    Raises ``ParameterError`` naming the layouts looked for when none is found.
    """
    base = getattr(model, "base_model", model)
    embeddings = getattr(base, "embeddings", None)
    for owner, attr in ((getattr(base, "encoder", None), "layer"), (getattr(base, "transformer", None), "layer"),
                        (base, "layers"), (getattr(base, "encoder", None), "layers")):
        layers = getattr(owner, attr, None) if owner is not None else None
        if layers is not None:
            return embeddings, list(layers)
    raise ParameterError(f"cannot find the encoder layers of {type(model).__name__}; expected "
                         "base_model.encoder.layer, base_model.transformer.layer or base_model.layers")


def _depths(model: nn.Module) -> tuple[dict[int, int], int]:
    """Each parameter's depth (id -> 0 for the embeddings, i + 1 for layer i) and the number of layers."""
    embeddings, layers = encoder_parts(model)
    depth: dict[int, int] = {}
    if embeddings is not None:
        depth.update({id(p): 0 for p in embeddings.parameters()})
    for i, layer in enumerate(layers):
        depth.update({id(p): i + 1 for p in layer.parameters()})
    return depth, len(layers)


def parameter_groups(model: nn.Module, lr: float, weight_decay: float = 0.0,
                     lr_decay: float | None = None) -> list[dict]:
    """Optimiser parameter groups over the trainable parameters of ``model``.

    Biases and norm weights (parameters of fewer than two dimensions) get no weight decay. With
    ``lr_decay`` (in (0, 1]) the groups are split by depth as the module docstring says, each with its own
    ``lr``; without it there are two groups at ``lr``. Empty groups are left out. Raises
    ``ParameterError`` for an ``lr_decay`` outside (0, 1] or a model whose layers cannot be found.
    """
    if lr_decay is not None and not 0.0 < lr_decay <= 1.0:
        raise ParameterError(f"lr_decay must be in (0, 1] (1 for no decay); got {lr_decay}")
    depth, n_layers = _depths(model) if lr_decay is not None and lr_decay != 1.0 else ({}, 0)
    groups: dict[tuple[int, bool], dict] = {}
    for param in model.parameters():
        if not param.requires_grad:
            continue
        d = depth.get(id(param), n_layers + 1)
        decays = param.ndim >= 2
        scale = float(lr_decay) ** (n_layers + 1 - d) if depth else 1.0
        group = groups.setdefault((d, decays), {"params": [], "weight_decay": weight_decay if decays else 0.0,
                                                "lr": lr * scale})
        group["params"].append(param)
    return [groups[k] for k in sorted(groups, key=lambda k: (k[0], not k[1]))]


def make_optimizer(model: nn.Module, name: str = "adamw", lr: float = 1e-3, weight_decay: float = 0.0,
                   lr_decay: float | None = None):
    """An optimiser over :func:`parameter_groups` of ``model`` (no weight decay on biases and norm weights;
    layer-wise learning rates with ``lr_decay``).

    ``name`` is one of :data:`kitlib.fitting.OPTIMIZERS` (``sgd`` with momentum 0.9). Raises
    ``ParameterError`` for an unknown name or a bad ``lr_decay``.
    """
    check_optimizer(name)
    groups = parameter_groups(model, lr, weight_decay, lr_decay)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=0.9)
    if name == "rmsprop":
        return torch.optim.RMSprop(groups, lr=lr)
    return (torch.optim.AdamW if name == "adamw" else torch.optim.Adam)(groups, lr=lr)


def make_scheduler(optimizer, schedule: str = "cosine", total_steps: int = 1, warmup: float = 0.0):
    """Per-step LR multiplier :func:`kitlib.fitting.lr_factor` (of every group's own ``lr``): linear warmup
    over ``warmup`` (a fraction of ``total_steps``), then ``constant``, ``linear`` decay to 0 or ``cosine``
    decay to 0."""
    total, warm = schedule_steps(schedule, total_steps, warmup)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: float(lr_factor(np.float64(step), total, warm, schedule)))
