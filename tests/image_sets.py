"""Generated image competitions in Kaggle's two layouts, for the tests, the benches and the quality checks.

:func:`write_image_set` writes a competition folder and returns the held-out test labels (never inside the folder):

- ``kind="shapes"``: one shape per picture (circle, square, triangle, cross, ring, bar: the class), of any colour,
  size, place and rotation, on a textured background with clutter lines and pixel noise; the pictures vary in size
  and aspect, are JPEG or PNG, colour or grayscale. Where the shape sits and how it is coloured varies freely, so a
  linear model on the pixels learns little and a convolutional network learns the shapes;
- ``kind="digits"``: scikit-learn's bundled 8x8 digits (1,797), upscaled to 24..96 pixels, shifted, with noise.

``layout="table"``: ``train.csv`` (``image_id``, ``label``), ``train_images/<id>.<ext>``, ``test_images/``,
``sample_submission.csv`` (ids without extension); ``layout="folders"``: ``train/<class>/<file>``, ``test/<file>``
and ``sample_submission.csv`` (``file,label``, file names with extension). Same arguments, same files.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle", "cross", "ring", "bar")


def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A smooth random colour field plus texture, float in [0, 255], (h, w, 3)."""
    low = rng.uniform(0, 255, size=(3, 4, 3))
    field = np.asarray(Image.fromarray(low.astype(np.uint8)).resize((w, h), Image.BILINEAR), dtype=np.float32)
    texture = rng.normal(0, rng.uniform(5, 30), size=(h // 4 + 1, w // 4 + 1, 1))
    texture = np.kron(texture, np.ones((4, 4, 1)))[:h, :w]
    return np.clip(field + texture, 0, 255)


def _shape(draw: ImageDraw.ImageDraw, kind: str, cx: float, cy: float, r: float, angle: float, fill) -> None:
    def rotated(points):
        c, s = math.cos(angle), math.sin(angle)
        return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in points]

    if kind == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif kind == "ring":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=fill, width=max(2, int(r / 3)))
    elif kind == "square":
        draw.polygon(rotated([(-r, -r), (r, -r), (r, r), (-r, r)]), fill=fill)
    elif kind == "triangle":
        draw.polygon(rotated([(0, -r), (r * 0.95, r * 0.7), (-r * 0.95, r * 0.7)]), fill=fill)
    elif kind == "cross":
        t = r / 3
        draw.polygon(rotated([(-t, -r), (t, -r), (t, -t), (r, -t), (r, t), (t, t), (t, r), (-t, r), (-t, t), (-r, t),
                              (-r, -t), (-t, -t)]), fill=fill)
    else:  # bar
        draw.polygon(rotated([(-r, -r / 4), (r, -r / 4), (r, r / 4), (-r, r / 4)]), fill=fill)


def shape_image(rng: np.random.Generator, label: int, gray: bool) -> Image.Image:
    """One picture of class ``label`` (an index into :data:`SHAPES`)."""
    w, h = int(rng.integers(40, 200)), int(rng.integers(40, 200))
    image = Image.fromarray(_background(rng, w, h).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(0, 4))):  # clutter
        xy = rng.uniform(0, 1, 4) * [w, h, w, h]
        draw.line(list(xy), fill=tuple(int(v) for v in rng.integers(0, 256, 3)), width=int(rng.integers(1, 4)))
    r = rng.uniform(0.18, 0.38) * min(w, h)
    cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
    _shape(draw, SHAPES[label], cx, cy, r, rng.uniform(0, math.pi), tuple(int(v) for v in rng.integers(0, 256, 3)))
    pixels = np.asarray(image, dtype=np.float32) + rng.normal(0, rng.uniform(3, 20), size=(h, w, 3))
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return image.convert("L") if gray else image


def digit_image(rng: np.random.Generator, digit: np.ndarray, gray: bool) -> Image.Image:
    """An 8x8 digit (values 0..16) upscaled, shifted inside a larger canvas, with noise."""
    side = int(rng.integers(24, 96))
    canvas = int(side * rng.uniform(1.0, 1.4))
    big = Image.fromarray((digit * 15).astype(np.uint8)).resize((side, side), Image.BILINEAR)
    out = np.zeros((canvas, canvas), dtype=np.float32)
    x, y = rng.integers(0, canvas - side + 1, 2)
    out[y:y + side, x:x + side] = np.asarray(big, dtype=np.float32)
    out = np.clip(out + rng.normal(0, 20, out.shape), 0, 255).astype(np.uint8)
    image = Image.fromarray(out)
    tints = rng.uniform(0.5, 1, 3)
    return image if gray else Image.merge("RGB", [image.point(lambda v, k=k: int(v * k)) for k in tints])


def write_image_set(folder: str | Path, *, layout: str = "table", kind: str = "shapes", n_train: int = 600,
                    n_test: int = 200, seed: int = 0, gray_share: float = 0.3, png_share: float = 0.3,
                    classes: int | None = None) -> pd.DataFrame:
    """Write a generated competition into ``folder``; return the test labels (``id``, ``label``), held out.

    ``classes`` limits the classes (the first ones); ``gray_share``/``png_share`` are the shares of grayscale and
    PNG pictures."""
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    if kind == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        order = rng.permutation(len(digits.target))
        names = [str(d) for d in range(10)][:classes]
        pool = [i for i in order if digits.target[i] < len(names)]
        picks = [pool[i % len(pool)] for i in range(n_train + n_test)]
        labels = [int(digits.target[i]) for i in picks]
    else:
        names = list(SHAPES[:classes])
        labels = rng.integers(0, len(names), n_train + n_test).tolist()
    rows = []
    for i, label in enumerate(labels):
        gray, png = rng.uniform() < gray_share, rng.uniform() < png_share
        image = (digit_image(rng, digits.images[picks[i]], gray) if kind == "digits"
                 else shape_image(rng, label, gray))
        stem, ext = f"img{i:05d}", ".png" if png else ".jpg"
        test = i >= n_train
        if layout == "table":
            path = folder / ("test_images" if test else "train_images") / f"{stem}{ext}"
        else:
            path = folder / "test" / f"{stem}{ext}" if test else folder / "train" / names[label] / f"{stem}{ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, quality=int(rng.integers(70, 95))) if ext == ".jpg" else image.save(path)
        rows.append({"id": stem if layout == "table" else f"{stem}{ext}", "label": names[label], "test": test})
    table = pd.DataFrame(rows)
    train, test = table[~table.test], table[table.test]
    if layout == "table":
        train[["id", "label"]].rename(columns={"id": "image_id"}).to_csv(folder / "train.csv", index=False)
        test[["id"]].rename(columns={"id": "image_id"}).assign(label=names[0]).to_csv(
            folder / "sample_submission.csv", index=False)
    else:
        test[["id"]].rename(columns={"id": "file"}).assign(label=names[0]).to_csv(
            folder / "sample_submission.csv", index=False)
    return test[["id", "label"]].reset_index(drop=True)
