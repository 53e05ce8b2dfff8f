"""An image competition's rows: the image files, the encoded targets, the keys; what the data summary shows.

:func:`load` reads the training rows through the :class:`~kitlib.tasks.images.layout.ImageLayout` (``train.csv`` or
the class folders), encodes the targets with the problem (:meth:`kitlib.tasks.tabular.Problem.encode`), finds every
image file (a missing one is a ``DataError`` naming the row) and the test ids. :func:`image_summary` tabulates sizes,
colour modes and formats from the files' headers; :func:`plot_samples` draws a grid of sample pictures per class.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataError
from ..tabular.problem import Problem
from .layout import ImageLayout
from .reading import choose_channels, read_image

__all__ = ["ImageData", "load", "image_summary", "plot_samples"]


@dataclass
class ImageData:
    """``paths``/``test_paths``: each row's image file; ``y``: ``(n, targets)`` codes or values; ``keys``/
    ``test_keys``: the id column of each row (what the prediction tables and the submission key on); ``targets``:
    the target columns as text; ``where``/``test_where``: each row named for errors (``train.csv row 3``);
    ``channels``: 1 for a grayscale set, 3 for colour."""

    paths: list[Path]
    y: np.ndarray
    test_paths: list[Path]
    keys: pd.DataFrame
    test_keys: pd.DataFrame
    targets: pd.DataFrame
    where: list[str]
    test_where: list[str]
    channels: int

    def head(self, n: int) -> ImageData:
        """The first ``n`` training rows (the test rows stay whole, so the submission is complete)."""
        return replace(self, paths=self.paths[:n], y=self.y[:n], keys=self.keys.iloc[:n], targets=self.targets.iloc[:n],
                       where=self.where[:n])


def load(problem: Problem, layout: ImageLayout, data_dir: str | Path) -> ImageData:
    """Read the rows of the competition in ``data_dir``. Raises ``DataError`` naming the file, row and column for
    a missing target column or an unknown label, an id without its image, a repeated test id, or a sample id that
    is not a test id."""
    root = Path(data_dir)
    table = layout.train_table(root)
    source = layout.train_file if layout.layout == "table" else f"{layout.image_dir}/<class>/"
    y = problem.encode(table, source)
    paths = layout.train_paths(root, table)
    test = layout.test_table(root)
    test_paths = layout.test_paths(root, test)
    key = problem.id if problem.id in table.columns else layout.image_column
    test_key = problem.id if problem.id in test.columns else layout.test_image_column
    test_ids = test[test_key].astype(str)
    repeated = test_ids.duplicated().to_numpy()
    if repeated.any():
        row = int(np.argmax(repeated))
        raise DataError(f"{layout.test_ids_file} row {row + 1}: column {test_key!r}: id {test_ids.iloc[row]!r} "
                        f"appears twice")
    sample_name = problem.files.get("sample", "sample_submission.csv")
    if layout.test_ids_file != sample_name and (root / sample_name).is_file():
        from ...data import read_csv

        sample = read_csv(root / sample_name, dtype=str, keep_default_na=False)
        unknown = ~sample[problem.id].isin(set(test_ids)).to_numpy() if problem.id in sample.columns else []
        if len(unknown) and unknown.any():
            row = int(np.argmax(unknown))
            raise DataError(f"{sample_name} row {row + 1}: column {problem.id!r}: id {sample[problem.id].iloc[row]!r}"
                            f" is not an id of {layout.test_ids_file}")
    where = ([f"{source} row {i + 1}" for i in range(len(table))] if layout.layout == "table"
             else [f"{source} {v}" for v in table[layout.image_column]])
    return ImageData(paths=paths, y=y, test_paths=test_paths,
                     keys=pd.DataFrame({problem.id: table[key].astype(str).to_numpy()}),
                     test_keys=pd.DataFrame({problem.id: test_ids.to_numpy()}),
                     targets=table[list(problem.targets)].reset_index(drop=True), where=where,
                     test_where=[f"{layout.test_ids_file} row {i + 1}" for i in range(len(test))],
                     channels=choose_channels(paths + test_paths))


def image_summary(data: ImageData, probe: int = 400) -> pd.DataFrame:
    """Sizes, colour modes and formats of up to ``probe`` files per set (headers only): one row per set."""
    from PIL import Image

    rows = {}
    for name, paths in (("train", data.paths), ("test", data.test_paths)):
        picks = np.unique(np.linspace(0, len(paths) - 1, min(probe, len(paths))).astype(int)) if paths else []
        sizes, modes, formats = [], Counter(), Counter()
        for i in picks:
            with Image.open(paths[i]) as image:
                sizes.append(image.size)
                modes[image.mode] += 1
                formats[image.format] += 1
        w, h = np.array(sizes).T if sizes else (np.zeros(1), np.zeros(1))
        rows[name] = {"images": len(paths), "width min-median-max": f"{w.min()}-{int(np.median(w))}-{w.max()}",
                      "height min-median-max": f"{h.min()}-{int(np.median(h))}-{h.max()}",
                      "modes": dict(modes.most_common(4)), "formats": dict(formats.most_common(4))}
    return pd.DataFrame(rows).T


def plot_samples(data: ImageData, problem: Problem, per_class: int = 6, size: int = 96, seed: int = 0):
    """A grid of ``per_class`` pictures of each class of the first target (rows of pictures for a regression),
    resized to ``size`` for display. Returns the figure."""
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    target, _, labels = problem.blocks()[0]
    groups = ([(str(label), np.flatnonzero(data.y[:, 0] == k)) for k, label in enumerate(labels)] if labels
              else [(f"{target} quantile {q + 1}", part) for q, part in
                    enumerate(np.array_split(np.argsort(data.y[:, 0]), 4))])[:12]
    fig, axes = plt.subplots(len(groups), per_class, figsize=(1.6 * per_class, 1.7 * len(groups)), squeeze=False)
    for r, (name, rows) in enumerate(groups):
        picks = rng.choice(rows, min(per_class, len(rows)), replace=False) if len(rows) else []
        for c in range(per_class):
            ax = axes[r, c]
            ax.axis("off")
            if c < len(picks):
                pixels = read_image(data.paths[picks[c]], size, data.channels, data.where[picks[c]])
                ax.imshow(pixels[..., 0] if data.channels == 1 else pixels, cmap="gray" if data.channels == 1 else None)
            if c == 0:
                ax.set_title(f"{name} ({len(rows)})", fontsize=9, loc="left")
    fig.tight_layout()
    return fig
