"""The clock images of a data folder: reading and checking ``images.npy``, ``labels.npy`` and ``test_images.npy``
(:func:`load_clocks`), and adding synthetic clocks (:func:`~.render.make_clocks`) to a real training set
(:func:`add_synthetic`)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ...errors import DataError, ParameterError
from .render import make_clocks

__all__ = ["load_clocks", "add_synthetic"]


def load_clocks(data_dir: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Read ``images.npy``, ``labels.npy`` and, when present, ``test_images.npy`` from ``data_dir``.

    Out: ``(images (n,h,w) uint8, labels (n,2) int64, test_images or None)``. Raises ``DataError``
    naming the file for a missing file, a wrong shape, a count mismatch or a label out of range
    (with its row).
    """
    data_dir = Path(data_dir)
    paths = {name: data_dir / name for name in ("images.npy", "labels.npy", "test_images.npy")}
    for name in ("images.npy", "labels.npy"):
        if not paths[name].is_file():
            present = sorted(p.name for p in data_dir.iterdir()) if data_dir.is_dir() else []
            raise DataError(f"{data_dir}: missing {name}; the folder holds {present}")
    images, labels = np.load(paths["images.npy"]), np.load(paths["labels.npy"])
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3:
        raise DataError(f"{paths['images.npy']}: expected (n, height, width) grey images; got shape {images.shape}")
    if labels.ndim != 2 or labels.shape[1] != 2 or len(labels) != len(images):
        raise DataError(f"{paths['labels.npy']}: expected shape ({len(images)}, 2) (hour, minute); got {labels.shape}")
    labels = labels.astype(np.int64)
    bad = (labels[:, 0] < 0) | (labels[:, 0] > 12) | (labels[:, 1] < 0) | (labels[:, 1] > 59)
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(f"{paths['labels.npy']} row {row}: {labels[row].tolist()}; expected hour 0..12, minute 0..59")
    labels[:, 0] %= 12
    test = None
    if paths["test_images.npy"].is_file():
        test = np.load(paths["test_images.npy"])
        if test.ndim == 4 and test.shape[-1] == 1:
            test = test[..., 0]
        if test.shape[1:] != images.shape[1:]:
            raise DataError(f"{paths['test_images.npy']}: images of shape {test.shape[1:]}; "
                            f"expected {images.shape[1:]} like images.npy")
    return images.astype(np.uint8, copy=False), labels, test


def add_synthetic(
    images: np.ndarray, labels: np.ndarray, n: int, seed: int = 0, max_rotation: float = 180.0
) -> tuple[np.ndarray, np.ndarray]:
    """Append ``n`` synthetic clocks, rendered at the real images' size, to a real training set.

    In: ``images (m,s,s) uint8``, ``labels (m,2)``. Out: ``(m+n, s, s)`` images and ``(m+n, 2)`` labels.
    Raises ``ParameterError`` for non-square images.
    """
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1] != images.shape[2]:
        raise ParameterError(f"add_synthetic expects square (n, s, s) images; got shape {images.shape}")
    extra, extra_labels = make_clocks(n, seed, size=images.shape[1], max_rotation=max_rotation)
    return (np.concatenate([images.astype(np.uint8), extra]),
            np.concatenate([np.asarray(labels, dtype=np.int64), extra_labels]))
