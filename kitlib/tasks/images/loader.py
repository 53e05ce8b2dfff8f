"""The loaders: image files decoded lazily by worker processes, and training batches from decoded pixels.

- :func:`file_loader`: a ``torch.utils.data.DataLoader`` over :class:`ImageFiles` (one :func:`read_image` per item,
  in ``workers`` processes), yielding ``uint8`` batches ``(b, size, size, channels)``: the one pass that decodes a
  set;
- :func:`decoded`: a whole set decoded once through :func:`file_loader` into a ``uint8`` array file read back as a
  memory map (never the whole set in memory): a :mod:`kitlib.cache` entry keyed by the files' contents and the
  decode settings (:func:`~.reading.content_key`), written atomically and checked on read;
- :class:`PixelBatches`: the batches :func:`kitlib.train.fit` trains on, read from a decoded ``uint8`` array (a
  memory map: only the batch's rows are read), shuffled from its own ``generator`` (saved and restored with a
  checkpoint), augmented (:mod:`.augment`) and normalised to float ``(b, channels, size, size)`` in channels-last
  memory, with the targets.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ...cache import read_entry, write_entry
from ...runtime import progress_bar
from .reading import PIXELS, content_key, read_image

__all__ = ["ImageFiles", "file_loader", "decoded", "PixelBatches", "to_float"]

MEAN, SCALE = 0.5, 0.25  # pixels in [0, 1] -> (x - MEAN) / SCALE


class ImageFiles(Dataset):
    """``paths[i]`` decoded and resized (:func:`read_image`) as a ``uint8`` tensor ``(size, size, channels)``;
    ``where[i]`` names the row in errors."""

    def __init__(self, paths: Sequence[str | os.PathLike], size: int, channels: int,
                 where: Sequence[str] | None = None):
        self.paths, self.size, self.channels, self.where = list(paths), size, channels, where

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        where = self.where[i] if self.where is not None else f"image {i + 1} of {len(self.paths)}"
        return torch.from_numpy(read_image(self.paths[i], self.size, self.channels, where))


def file_loader(paths: Sequence[str | os.PathLike], size: int, channels: int, *, where: Sequence[str] | None = None,
                workers: int = 2, batch_size: int = 64, progress: bool = False) -> Iterator[torch.Tensor]:
    """The images of ``paths`` in order, decoded by ``workers`` processes (0: this one), as ``uint8`` batches."""
    loader = DataLoader(ImageFiles(paths, size, channels, where), batch_size=batch_size, num_workers=workers,
                        prefetch_factor=4 if workers else None)
    bar = progress_bar(len(loader), f"decode {len(paths)} images", progress)
    try:
        for batch in loader:
            bar.update(1)
            yield batch
    finally:
        bar.close()


def decoded(paths: Sequence[str | os.PathLike], size: int, channels: int, cache: str | os.PathLike | None, *,
            where: Sequence[str] | None = None, workers: int = 2, progress: bool = False) -> np.ndarray:
    """Every image of ``paths`` decoded and resized (:func:`read_image`): ``(n, size, size, channels)`` ``uint8``.

    With ``cache`` (a folder) the array lives in an entry ``<cache>/<content key>/`` and comes back as a read-only
    memory map (decoded once; a later call with the same files and settings reads it); without, decoding fills an
    array in memory. ``workers`` decoding processes (0: this one); ``where`` names each row for errors. Raises
    ``DataError`` naming the file and its row for an image that does not decode."""
    shape = (len(paths), size, size, channels)

    def fill(out: np.ndarray) -> None:
        row = 0
        for batch in file_loader(paths, size, channels, where=where, workers=workers, progress=progress):
            out[row:row + len(batch)] = batch.numpy()
            row += len(batch)

    if cache is None or not len(paths):
        out = np.empty(shape, dtype=np.uint8)
        fill(out)
        return out
    entry = Path(cache) / content_key(paths, size, channels)
    if read_entry(entry) is None:
        def write(tmp: Path) -> None:
            out = np.lib.format.open_memmap(tmp / PIXELS, mode="w+", dtype=np.uint8, shape=shape)
            fill(out)
            out.flush()
            del out

        if not write_entry(entry, write):  # a cache that cannot be written only costs memory
            out = np.empty(shape, dtype=np.uint8)
            fill(out)
            return out
    return np.load(entry / PIXELS, mmap_mode="r", allow_pickle=False)


def to_float(pixels: torch.Tensor) -> torch.Tensor:
    """``uint8`` ``(b, h, w, c)`` -> normalised float ``(b, c, h, w)`` in channels-last memory."""
    x = pixels.permute(0, 3, 1, 2).float().div_(255.0)
    return x.sub_(MEAN).div_(SCALE).contiguous(memory_format=torch.channels_last)


class PixelBatches:
    """Batches ``(x, y)`` of the rows ``rows`` of ``pixels`` (``uint8`` ``(n, size, size, channels)``) and
    ``targets`` (``(n, ...)``; None for predictions, when a zero target is given), for :func:`kitlib.train.fit`.

    ``shuffle`` draws each epoch's order from ``generator`` (seeded by ``seed``); ``augment`` (a callable ``(x in
    [0, 1], generator) -> x``, see :mod:`.augment`) is applied before normalisation; ``transform`` (e.g. a flip for
    test-time augmentation) after it. ``len()`` is the number of batches."""

    def __init__(self, pixels: np.ndarray, targets: np.ndarray | None, rows: np.ndarray, *, batch_size: int = 64,
                 shuffle: bool = False, seed: int = 0, augment: Callable | None = None,
                 transform: Callable[[torch.Tensor], torch.Tensor] | None = None):
        self.pixels, self.rows, self.batch_size = pixels, np.asarray(rows, dtype=np.int64), int(batch_size)
        self.targets = targets
        self.shuffle, self.augment, self.transform = shuffle, augment, transform
        self.generator = torch.Generator().manual_seed(int(seed))

    def __len__(self) -> int:
        return max(1, -(-len(self.rows) // self.batch_size))

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = (self.rows[torch.randperm(len(self.rows), generator=self.generator).numpy()] if self.shuffle
                 else self.rows)
        for start in range(0, len(order), self.batch_size):
            take = order[start:start + self.batch_size]
            sorted_take = np.sort(take)  # a memory map reads rows in file order fastest
            back = np.argsort(np.argsort(take))
            pixels = torch.from_numpy(np.array(self.pixels[sorted_take]))[back]
            x = pixels.permute(0, 3, 1, 2).float().div_(255.0)
            if self.augment is not None:
                x = self.augment(x, self.generator)
            x = x.sub_(MEAN).div_(SCALE).contiguous(memory_format=torch.channels_last)
            if self.transform is not None:
                x = self.transform(x)
            y = (torch.from_numpy(np.asarray(self.targets[take])) if self.targets is not None
                 else torch.zeros(len(take)))
            yield x, y
