"""Tell the time: what a model reads, from the clock images: contrast, resizing, the unwrapped dial.

:func:`model_inputs` gives a head's input: :func:`preprocess` (contrast stretch and resize) for the
image heads, :func:`unwrap_polar` (the dial unwrapped into rings x angles) for ``polar``.
SciPy and PIL are imported inside the functions that use them.
"""
from __future__ import annotations

import functools

import numpy as np

from ...errors import ParameterError
from .heads import _check_head

__all__ = ["preprocess", "unwrap_polar", "model_inputs"]


CONTRASTS = ("none", "stretch")


def _check_contrast(contrast: str) -> None:
    if contrast not in CONTRASTS:
        raise ParameterError(f"Unknown contrast {contrast!r}; expected one of {list(CONTRASTS)}")


def _apply_contrast(x: np.ndarray, contrast: str) -> np.ndarray:
    """``stretch``: each image's 1st..99th percentile -> 0..1, clipped; ``none``: divide by 255."""
    if contrast == "stretch" and len(x):
        flat = x.reshape(len(x), -1)
        lo, hi = np.percentile(flat, [1, 99], axis=1)
        shape = (len(x),) + (1,) * (x.ndim - 1)
        return np.clip((x - lo.reshape(shape)) / np.maximum(hi - lo, 1.0).reshape(shape), 0.0, 1.0).astype(np.float32)
    return (x / 255.0).astype(np.float32)


def preprocess(images: np.ndarray, size: int = 64, contrast: str = "stretch") -> np.ndarray:
    """Model input for the image heads: ``(n, size, size, 1) float32`` in [0, 1].

    ``contrast="stretch"`` maps each image's 1st..99th percentile to 0..1 (undoing lighting and
    low-contrast dials); ``"none"`` divides by 255. Resizing averages pixels (PIL's box filter).
    Raises ``ParameterError`` for another contrast or a size below 8.
    """
    _check_contrast(contrast)
    if size < 8:
        raise ParameterError(f"size must be >= 8 pixels; got {size}")
    images = np.asarray(images)
    if images.shape[1:] != (size, size):
        from PIL import Image

        images = np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.Resampling.BOX))
                           for im in images.astype(np.uint8)]) if len(images) else np.empty((0, size, size))
    return _apply_contrast(images.astype(np.float32), contrast)[..., None]


@functools.lru_cache(maxsize=8)
def _polar_matrix(size: int, n_radii: int, n_angles: int, sub_r: int = 2, sub_t: int = 4):
    """Sparse ``(size*size, n_radii*n_angles)`` matrix: image pixels -> polar cells.

    Each cell averages ``sub_r x sub_t`` bilinear samples, so thin hands are not missed between
    samples. Radii run from 4% to 100% of half the image; column ``j`` is centred on clock angle
    ``j * 360 / n_angles``.
    """
    import scipy.sparse

    half, c = size / 2, size / 2 - 0.5
    radii = (0.04 + 0.96 * (np.arange(n_radii * sub_r) + 0.5) / (n_radii * sub_r)) * half
    angles = 2 * np.pi * ((np.arange(n_angles * sub_t) + 0.5) / (n_angles * sub_t) - 0.5 / n_angles)
    r, t = np.meshgrid(radii, angles, indexing="ij")
    x, y = c + r * np.sin(t), c - r * np.cos(t)
    x0 = np.clip(np.floor(x).astype(np.int64), 0, size - 2)
    y0 = np.clip(np.floor(y).astype(np.int64), 0, size - 2)
    fx, fy = np.clip(x - x0, 0, 1), np.clip(y - y0, 0, 1)
    cell = ((np.arange(n_radii * sub_r) // sub_r)[:, None] * n_angles + (np.arange(n_angles * sub_t) // sub_t)[None, :])
    rows, cols, vals = [], [], []
    for oy, ox, w in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        rows.append(((y0 + oy) * size + x0 + ox).ravel())
        cols.append(np.broadcast_to(cell, r.shape).ravel())
        vals.append(w.ravel() / (sub_r * sub_t))
    return scipy.sparse.csr_matrix(
        (np.concatenate(vals).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
        shape=(size * size, n_radii * n_angles),
    )


def unwrap_polar(
    images: np.ndarray, n_radii: int = 24, n_angles: int = 96, contrast: str = "stretch", chunk: int = 1000
) -> np.ndarray:
    """Unwrap each dial around the image centre: ``(n, n_radii, n_angles, 1) float32`` in [0, 1].

    Row ``i`` is a ring (centre outwards), column ``j`` the clock angle ``j * 360 / n_angles``; turning
    a clock becomes a circular shift of the columns and each hand becomes a dark column, which is
    what the ``polar`` head reads. Raises ``ParameterError`` for non-square images, too few cells or an
    unknown contrast.
    """
    _check_contrast(contrast)
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1] != images.shape[2]:
        raise ParameterError(f"unwrap_polar expects square (n, s, s) images; got shape {images.shape}")
    if n_radii < 4 or n_angles < 12:
        raise ParameterError(f"need n_radii >= 4 and n_angles >= 12; got {n_radii} and {n_angles}")
    size = images.shape[1]
    matrix = _polar_matrix(size, n_radii, n_angles)
    out = np.empty((len(images), n_radii, n_angles), dtype=np.float32)
    for start in range(0, len(images), chunk):
        block = images[start:start + chunk].reshape(-1, size * size).astype(np.float32)
        out[start:start + chunk] = np.asarray(block @ matrix).reshape(-1, n_radii, n_angles)
    return _apply_contrast(out, contrast)[..., None]


def model_inputs(
    images: np.ndarray, head: str, *, size: int = 64, n_radii: int = 24, n_angles: int = 96,
    contrast: str = "stretch",
) -> np.ndarray:
    """What the model for ``head`` reads: :func:`unwrap_polar` for ``polar``, :func:`preprocess`
    (resized to ``size``) for the others."""
    _check_head(head)
    if head == "polar":
        return unwrap_polar(images, n_radii, n_angles, contrast)
    return preprocess(images, size, contrast)
