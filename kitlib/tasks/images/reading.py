"""Images -> pixels: one decode-and-resize function, the colour decision, and a decoded cache on disk.

:func:`read_image` decodes one file (JPEG through Pillow's draft mode, which decodes at a reduced scale when the
target is smaller) and resizes it to ``size`` x ``size`` (squashed, not cropped), as ``uint8`` ``(size, size,
channels)``; a damaged or missing file is a ``DataError`` naming the file and the row it belongs to.
:func:`choose_channels` says whether a set is grayscale (1) or colour (3) from a probe of its files.

:func:`content_key` keys the decoded cache (:func:`kitlib.tasks.images.loader.decoded`) by the files' contents
(sha256) and the decode settings. Imports Pillow and NumPy.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ...errors import DataError, ParameterError

__all__ = ["read_image", "choose_channels", "content_key", "CACHE_VERSION", "PIXELS"]

CACHE_VERSION = "1"  # bump when read_image's output changes
PIXELS = "pixels.npy"
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")


def read_image(path: str | os.PathLike, size: int, channels: int = 3, where: str = "") -> np.ndarray:
    """The image at ``path`` resized to ``size`` x ``size``: ``uint8`` ``(size, size, channels)`` (``channels`` 1:
    grayscale, 3: RGB; transparency dropped, palettes expanded).

    Raises ``DataError`` naming the file (and ``where``, e.g. ``train.csv row 12``) when it is missing or does not
    decode as an image; ``ParameterError`` for a size below 1 or channels other than 1 and 3."""
    from PIL import Image

    if size < 1 or channels not in (1, 3):
        raise ParameterError(f"image size {size} and channels {channels}: expected a size >= 1 and 1 or 3 channels")
    mode = "L" if channels == 1 else "RGB"
    try:
        with Image.open(path) as image:
            if image.format == "JPEG":
                image.draft(mode, (size, size))  # DCT scaling: decodes at >= size, much faster for large pictures
            if image.mode not in (mode, "RGB", "L"):
                image = image.convert("RGBA" if "A" in image.mode or "transparency" in image.info else "RGB")
            image = image.convert(mode)
            if image.size != (size, size):
                image = image.resize((size, size), Image.BILINEAR, reducing_gap=2.0)
            pixels = np.array(image, dtype=np.uint8)  # a writable copy
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for a damaged file
        reason = "file not found" if isinstance(exc, FileNotFoundError) else f"{type(exc).__name__}: {exc}"
        raise DataError(f"{path}{f' ({where})' if where else ''}: not a readable image ({reason})") from None
    return pixels.reshape(size, size, channels)


def choose_channels(paths: Sequence[str | os.PathLike], probe: int = 64) -> int:
    """1 when every probed image (up to ``probe``, spread over ``paths``) is grayscale (a gray mode, or RGB whose
    channels agree), else 3."""
    from PIL import Image

    if not len(paths):
        return 3
    picks = np.unique(np.linspace(0, len(paths) - 1, min(probe, len(paths))).astype(int))
    for i in picks:
        try:
            with Image.open(paths[i]) as image:
                if image.mode in GRAY_MODES:
                    continue
                small = np.asarray(image.convert("RGB").resize((16, 16)), dtype=np.int16)
        except Exception:  # noqa: BLE001 - unreadable files are named when they are decoded
            continue
        if np.abs(small - small.mean(axis=2, keepdims=True)).max() > 2:
            return 3
    return 1


def _file_sha256(path: str | os.PathLike) -> str:
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return "missing"  # named by read_image when it is decoded


def content_key(paths: Sequence[str | os.PathLike], size: int, channels: int) -> str:
    """A sha256 over the files' contents (in order), the size, the channels and :data:`CACHE_VERSION`."""
    digest = hashlib.sha256(f"images v{CACHE_VERSION} {size} {channels} {len(paths)}\n".encode())
    with ThreadPoolExecutor(4) as pool:
        for sha in pool.map(_file_sha256, paths):
            digest.update(sha.encode())
    return digest.hexdigest()
