"""Augmentation of training batches and test-time augmentation, in torch on whole batches.

``augment`` is a comma-separated set of :data:`AUGMENTATIONS` (``"flip,crop,color"``; ``"none"`` or ``""`` for
none): ``flip`` mirrors half the pictures left-right, ``vflip`` also up-down (pictures without an up: cells, leaves
from above, satellites), ``crop`` takes a random crop of 70-100% of the side at a random place and scales it back
(a zoom and a shift), ``color`` jitters brightness, contrast and saturation by up to 25%. :func:`batch_augmenter`
turns the set into a callable ``(x, generator) -> x`` on float batches ``(b, c, h, w)`` in [0, 1], drawing from the
loader's generator (so a resumed fit draws the same). :func:`tta_views` gives the test-time views (the picture,
and its mirror images when flips were trained on) whose predictions are averaged.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

from ...errors import ParameterError

__all__ = ["AUGMENTATIONS", "parse_augment", "batch_augmenter", "tta_views"]

AUGMENTATIONS = ("flip", "vflip", "crop", "color")
CROP_SCALE = (0.7, 1.0)
COLOR_JITTER = 0.25


def parse_augment(augment: str) -> tuple[str, ...]:
    """The augmentations a parameter names, in :data:`AUGMENTATIONS` order. Raises ``ParameterError`` naming an
    unknown one and the choices."""
    names = [a.strip() for a in str(augment).split(",") if a.strip() and a.strip() != "none"]
    unknown = [a for a in names if a not in AUGMENTATIONS]
    if unknown:
        raise ParameterError(f"augment {augment!r}: unknown {unknown}; expected a comma-separated set of "
                             f"{list(AUGMENTATIONS)} (or 'none')")
    return tuple(a for a in AUGMENTATIONS if a in names)


def _flip(x: torch.Tensor, generator: torch.Generator, dim: int) -> torch.Tensor:
    mask = torch.rand(len(x), generator=generator) < 0.5
    if mask.any():
        x[mask] = x[mask].flip(dim)
    return x


def _crop(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A random square crop of each picture, resized back (an affine grid: one call for the batch)."""
    b = len(x)
    scale = torch.empty(b).uniform_(*CROP_SCALE, generator=generator)
    shift = (torch.rand(b, 2, generator=generator) * 2 - 1) * (1 - scale).unsqueeze(1)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1], theta[:, :, 2] = scale, scale, shift
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _color(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    b = len(x)
    draw = (torch.rand(b, 3, generator=generator) * 2 - 1) * COLOR_JITTER + 1  # brightness, contrast, saturation
    x = x * draw[:, 0].view(b, 1, 1, 1)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * draw[:, 1].view(b, 1, 1, 1) + mean
    if x.shape[1] == 3:
        gray = x.mean(dim=1, keepdim=True)
        x = (x - gray) * draw[:, 2].view(b, 1, 1, 1) + gray
    return x.clamp_(0.0, 1.0)


def batch_augmenter(augment: str | tuple[str, ...]) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None:
    """A callable applying the named augmentations to a float batch in [0, 1]; ``None`` for none."""
    names = parse_augment(augment) if isinstance(augment, str) else tuple(augment)
    if not names:
        return None

    def apply(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if "crop" in names:
            x = _crop(x, generator)
        if "flip" in names or "vflip" in names:
            x = _flip(x, generator, 3)
        if "vflip" in names:
            x = _flip(x, generator, 2)
        if "color" in names:
            x = _color(x, generator)
        return x

    return apply


def tta_views(augment: str | tuple[str, ...], tta: bool) -> list[Callable[[torch.Tensor], torch.Tensor] | None]:
    """The views whose predictions are averaged: the picture itself, plus (with ``tta``) its left-right mirror when
    ``flip`` or ``vflip`` was trained on, and its up-down mirror with ``vflip``."""
    names = parse_augment(augment) if isinstance(augment, str) else tuple(augment)
    views: list[Callable[[torch.Tensor], torch.Tensor] | None] = [None]
    if tta and ("flip" in names or "vflip" in names):
        views.append(lambda x: x.flip(3))
    if tta and "vflip" in names:
        views.append(lambda x: x.flip(2))
    return views
