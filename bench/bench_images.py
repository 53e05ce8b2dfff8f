"""The image template's loader and network: speed against a bare loop, and memory (issue 27 item 5).

1. ``--images`` (default 100,000) generated 256x256 JPEGs (shapes on textured backgrounds, as tests/image_sets.py
   draws them, each file its own colours and noise) go through the kit's file loader alone
   (``kitlib.tasks.images.file_loader``: a DataLoader whose ``workers`` processes decode and resize each file to
   ``--size`` pixels, batched) and through a bare loop with the same decoding (``multiprocessing.Pool(workers)
   .imap(read_image, paths, chunksize=64)``, the same function, the same worker count). After one untimed pass that
   warms the page cache, each is timed once, alternately. Printed: images/s of each and the ratio kit / bare
   (target >= 0.9).
2. One epoch of the small CNN (``SmallCNN``, width 32, at ``--size`` pixels, batch 64, augmentation on) through
   ``kitlib.train.fit`` on ``--cnn-images`` (default 20,000) of them, decoded first into the content-keyed cache
   (a memory map) by the same loader. Printed: the decode and training images/s, and the peak memory of the process
   tree (the PSS of this process and its workers, sampled every 0.2 s with psutil; target below 2 GB).

    python bench/bench_images.py                       # the issue's sizes (about 15 minutes on 2 cores)
    python bench/bench_images.py --images 5000 --cnn-images 2000
"""
from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from image_sets import shape_image  # noqa: E402

SIDE = 256


def _write(args: tuple[int, str]) -> None:
    i, folder = args
    from PIL import Image

    path = Path(folder) / f"{i // 1000:03d}" / f"img{i:06d}.jpg"
    if path.is_file():
        return
    rng = np.random.default_rng(i)
    image = shape_image(rng, int(rng.integers(0, 6)), gray=False).resize((SIDE, SIDE), Image.BILINEAR)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    image.save(tmp, format="JPEG", quality=90)
    tmp.replace(path)


def generate(folder: Path, n: int, workers: int) -> list[Path]:
    """``n`` JPEGs under ``folder`` (kept between runs: only missing files are written)."""
    with multiprocessing.Pool(workers) as pool:
        for _ in pool.imap_unordered(_write, [(i, str(folder)) for i in range(n)], chunksize=256):
            pass
    return [folder / f"{i // 1000:03d}" / f"img{i:06d}.jpg" for i in range(n)]


class PeakPSS:
    """The largest PSS (bytes) of this process and its children, sampled every ``every`` seconds in a thread."""

    def __init__(self, every: float = 0.2):
        import psutil

        self.me, self.every, self.peak = psutil.Process(), every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        total = 0
        for proc in [self.me, *self.me.children(recursive=True)]:
            with contextlib.suppress(Exception):  # a worker that ended between listing and reading
                total += proc.memory_full_info().pss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            time.sleep(self.every)

    def __enter__(self) -> PeakPSS:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._sample())


def kit_pass(paths: list[Path], size: int, workers: int) -> float:
    from kitlib.tasks.images import file_loader

    start, n = time.perf_counter(), 0
    for batch in file_loader(paths, size, 3, workers=workers, batch_size=64):
        n += len(batch)
    assert n == len(paths)
    return n / (time.perf_counter() - start)


def bare_pass(paths: list[Path], size: int, workers: int) -> float:
    from kitlib.tasks.images import read_image

    start, n = time.perf_counter(), 0
    with multiprocessing.Pool(workers) as pool:
        for _ in pool.imap(partial(read_image, size=size, channels=3), paths, chunksize=64):
            n += 1
    return n / (time.perf_counter() - start)


def cnn_epoch(paths: list[Path], size: int, workers: int, cache: Path) -> tuple[float, float, int]:
    """``(decode images/s, training images/s, peak PSS bytes)`` of decoding ``paths`` into the cache, then one
    epoch of the CNN on them."""
    import torch

    from kitlib.fitting import Recipe
    from kitlib.tasks import images
    from kitlib.train import fit

    y = (np.arange(len(paths)) % 6).reshape(-1, 1).astype(float)
    heads = images.Heads([("class", 6)])
    with PeakPSS() as peak:
        start = time.perf_counter()
        pixels = images.decoded(paths, size, 3, cache, workers=workers)
        decode_ips = len(paths) / (time.perf_counter() - start)
        torch.manual_seed(0)
        model = images.SmallCNN(images.CNNConfig(3, 6, 32)).to(memory_format=torch.channels_last)
        batches = images.PixelBatches(pixels, y, np.arange(len(paths)), batch_size=64, shuffle=True,
                                      augment=images.batch_augmenter("flip,crop,color"))
        start = time.perf_counter()
        fit(model, batches, recipe=Recipe(epochs=1, lr=2e-3, progress=False), loss_fn=heads.loss)
        train_ips = len(paths) / (time.perf_counter() - start)
    return decode_ips, train_ips, peak.peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000, help="JPEGs through the loader (default 100,000)")
    parser.add_argument("--cnn-images", type=int, default=20_000, help="images of the CNN epoch (default 20,000)")
    parser.add_argument("--workers", type=int, default=2, help="decoding processes, for both loops (default 2)")
    parser.add_argument("--size", type=int, default=64, help="side the pictures are resized to (default 64)")
    parser.add_argument("--dir", default="", help="folder for the JPEGs, kept between runs (default: a temp one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.dir) if args.dir else Path(tmp) / "jpegs"
        start = time.perf_counter()
        paths = generate(folder, max(args.images, args.cnn_images), args.workers)
        print(f"{len(paths)} JPEGs of {SIDE}x{SIDE} in {folder} ({time.perf_counter() - start:.0f} s to write what "
              f"was missing); {os.cpu_count()} cores, {args.workers} workers, resized to {args.size}", flush=True)
        loader_paths = paths[:args.images]
        bare_pass(loader_paths, args.size, args.workers)  # warms the page cache
        kit = kit_pass(loader_paths, args.size, args.workers)
        bare = bare_pass(loader_paths, args.size, args.workers)
        print(f"loader: kit {kit:.0f} images/s, bare loop {bare:.0f} images/s, ratio kit/bare {kit / bare:.3f} "
              f"(target >= 0.9)", flush=True)
        decode_ips, train_ips, peak = cnn_epoch(paths[:args.cnn_images], args.size, args.workers, Path(tmp) / "cache")
        print(f"cnn epoch on {args.cnn_images} images: decode {decode_ips:.0f} images/s into the cache, train "
              f"{train_ips:.0f} images/s; peak PSS of the process tree {peak / 2**30:.2f} GB (target < 2 GB)")
        ok = kit / bare >= 0.9 and peak < 2 * 2**30
    print("targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
