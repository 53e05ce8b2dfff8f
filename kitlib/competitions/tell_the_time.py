"""Tell the time: synthetic analog clocks, pre-processing, the model heads and their decoding.

The competition ships grey 150x150 clock images as ``images.npy`` (N,150,150 uint8) and their times as
``labels.npy`` (N,2 int: hour 0..11, minute 0..59). This module

- renders such clocks deterministically from a seed (:func:`make_clocks`): the whole dial rotated, hands
  of random widths and lengths (the hour hand always shorter and wider), a marked 12 o'clock (the
  widest, longest tick), lighting gradients and spots, blur and noise; image ``i`` of a seed is the same
  whatever ``n`` is;
- writes the demo set ``data/demo/tell-the-time/`` on first use (:func:`write_demo`) and adds synthetic
  clocks to a real set (:func:`add_synthetic`);
- pre-processes images for a model (:func:`model_inputs`): contrast stretch and resize
  (:func:`preprocess`), or unwrapping the dial into rings x angles (:func:`unwrap_polar`);
- encodes targets and decodes predictions for four heads (``HEADS``): ``"two-head"`` (12 hour classes
  + 60 minute classes), ``"periodic"`` (sin/cos of both hand angles), ``"single-720"`` (one class per
  minute of the dial) and ``"polar"`` (each hand's angle from the 12 o'clock marker, read off the
  unwrapped dial), and builds a Keras CNN with that head (:func:`build_clock_model`).

Angles are "clock angles": degrees clockwise from 12 o'clock. The hour hand of h:m points at
``30*h + m/2``, the minute hand at ``6*m``; both are turned by the dial's rotation.
Imports Keras only inside :func:`build_clock_model`.
"""
from __future__ import annotations

import functools
import json
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import DataError, ParameterError
from .spec import Competition, SubmissionSpec

__all__ = [
    "HEADS",
    "ClockStyle",
    "clean_style",
    "hand_angles",
    "render_clock",
    "make_clocks",
    "write_demo",
    "load_clocks",
    "add_synthetic",
    "preprocess",
    "unwrap_polar",
    "model_inputs",
    "time_to_minutes",
    "minutes_to_time",
    "encode_targets",
    "decode_predictions",
    "decode_two_head",
    "decode_periodic",
    "decode_720",
    "decode_polar",
    "build_clock_model",
]

HEADS = ("two-head", "periodic", "single-720", "polar")
DEMO_VERSION = 1  # bump when the renderer's output changes, so old demo sets are regenerated
DEMO_STAMP = ".demo-stamp.json"


# ------------------------------------------------------------------------------------------ style
@dataclass(frozen=True)
class ClockStyle:
    """Everything that makes one clock look the way it does; lengths are fractions of the dial radius.

    The defaults are a clean, unrotated, evenly lit clock (:func:`clean_style` overrides some of them);
    :meth:`sample` draws a random one.
    """

    rotation: float = 0.0  # degrees clockwise: where 12 o'clock points
    radius: float = 0.9  # dial radius as a fraction of half the image
    center: tuple[float, float] = (0.0, 0.0)  # offset of the dial centre, fraction of half the image
    background: float = 60.0  # grey levels 0..255
    face: float = 220.0
    ink: float = 20.0  # ticks and rim
    hand_ink: float = 10.0
    rim_width: float = 0.04
    tick_length: float = 0.12
    tick_width: float = 0.025
    minute_ticks: bool = False
    hour_length: float = 0.5
    hour_width: float = 0.07  # half-width
    minute_length: float = 0.85
    minute_width: float = 0.035
    hand_tail: float = 0.1
    square_hands: bool = False  # bars instead of rounded capsules
    gradient: float = 0.0  # lighting: relative brightness change across the image
    gradient_angle: float = 0.0
    spot: float = 0.0  # a bright spot's strength (reflection)
    spot_at: tuple[float, float] = (0.0, 0.0)
    blur: float = 0.0  # Gaussian sigma in pixels (at 150x150)
    noise: float = 0.0  # Gaussian noise sigma in grey levels
    noise_seed: int = 0

    @classmethod
    def sample(cls, rng: np.random.Generator, max_rotation: float = 180.0) -> "ClockStyle":
        """A random style; ``max_rotation`` bounds the dial's rotation (degrees either way)."""
        u = rng.uniform
        face = u(150, 255)
        if rng.random() < 0.1:  # a dark dial with light hands
            face, ink = u(0, 70), u(190, 255)
        else:
            ink = u(0, 90)
        hour_length = u(0.4, 0.6)
        return cls(
            rotation=float(u(-max_rotation, max_rotation)),
            radius=u(0.78, 0.95),
            center=(u(-0.04, 0.04), u(-0.04, 0.04)),
            background=u(0, 255),
            face=face,
            ink=ink,
            hand_ink=float(np.clip(ink + u(-20, 20), 0, 255)),
            rim_width=u(0.015, 0.07),
            tick_length=u(0.07, 0.16),
            tick_width=u(0.012, 0.03),
            minute_ticks=bool(rng.random() < 0.5),
            hour_length=hour_length,
            hour_width=u(0.045, 0.08),
            minute_length=u(max(hour_length + 0.2, 0.72), 0.9),
            minute_width=u(0.018, 0.04),
            hand_tail=u(0.0, 0.2),
            square_hands=bool(rng.random() < 0.5),
            gradient=u(-0.5, 0.5),
            gradient_angle=u(0, 360),
            spot=u(0, 0.35) if rng.random() < 0.5 else 0.0,
            spot_at=(u(-0.8, 0.8), u(-0.8, 0.8)),
            blur=u(0, 1.5),
            noise=u(0, 12),
            noise_seed=int(rng.integers(2**31)),
        )


def hand_angles(hour: int, minute: int, rotation: float = 0.0) -> tuple[float, float]:
    """Clock angles (degrees clockwise from straight up, in [0, 360)) of the hour and minute hands."""
    return (float((30 * (hour % 12) + minute / 2 + rotation) % 360), float((6 * minute + rotation) % 360))


# --------------------------------------------------------------------------------------- drawing
@functools.lru_cache(maxsize=4)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    y.flags.writeable = x.flags.writeable = False
    return y, x


def _coverage(sdf: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage of a shape from its signed distance in pixels (negative inside)."""
    return np.clip(0.5 - sdf, 0.0, 1.0)


def _hand_sdf(dx, dy, angle_deg, length, tail, half_width, square):
    a = np.deg2rad(angle_deg)
    ux, uy = float(np.sin(a)), float(-np.cos(a))  # image y grows downwards
    along = dx * ux + dy * uy
    across = np.abs(dx * uy - dy * ux)
    if square:
        mid, half_len = (length - tail) / 2, (length + tail) / 2
        return np.maximum(np.abs(along - mid) - half_len, across - half_width)
    clamped = np.clip(along, -tail, length)
    return np.hypot(along - clamped, across) - half_width


def _paint(canvas: np.ndarray, cover: np.ndarray, level: float) -> None:
    canvas += cover * (level - canvas)


def render_clock(hour: int, minute: int, style: ClockStyle, size: int = 150) -> np.ndarray:
    """One grey ``(size, size) uint8`` clock showing ``hour:minute`` drawn in ``style``.

    Raises ``ParameterError`` for a time outside 0..11 (12 is read as 0) : 0..59 or a size below 16.
    """
    if not (0 <= hour <= 12 and 0 <= minute <= 59):
        raise ParameterError(f"time {hour}:{minute:02d} is outside 0..12 hours and 0..59 minutes")
    if size < 16:
        raise ParameterError(f"size must be >= 16 pixels; got {size}")
    half = size / 2
    px = half * style.radius  # pixels per unit of dial radius
    cx = half - 0.5 + style.center[0] * half
    cy = half - 0.5 + style.center[1] * half
    y, x = _grid(size)
    dx, dy = x - np.float32(cx), y - np.float32(cy)
    r = np.hypot(dx, dy)
    theta = np.rad2deg(np.arctan2(dx, -dy))  # clock angle of each pixel

    img = np.full((size, size), style.background, dtype=np.float32)
    _paint(img, _coverage(r - px), style.face)
    # hour ticks; the one at 12 is longer and three times as wide
    rel = (theta - style.rotation + 180.0) % 360.0 - 180.0
    k = np.round(rel / 30.0)
    delta = np.deg2rad(rel - 30.0 * k)
    t_len, t_w = style.tick_length * px, style.tick_width * px
    inner = px * (1 - style.rim_width) - 1
    ticks = np.maximum(np.abs(r * np.sin(delta)) - t_w, np.abs(r - (inner - t_len / 2)) - t_len / 2)
    ticks = np.where(k % 12 == 0, np.inf, ticks)
    marker_len = 1.6 * t_len
    marker = np.maximum(np.abs(r * np.sin(np.deg2rad(rel))) - 3 * t_w,
                        np.abs(r - (inner - marker_len / 2)) - marker_len / 2)
    marker = np.where(np.abs(rel) < 60, marker, np.inf)
    shapes = np.minimum(ticks, marker)
    if style.minute_ticks:
        d6 = np.deg2rad(rel - 6.0 * np.round(rel / 6.0))
        minor = np.maximum(np.abs(r * np.sin(d6)) - 0.4 * t_w, np.abs(r - (inner - t_len / 4)) - t_len / 4)
        shapes = np.minimum(shapes, minor)
    shapes = np.minimum(shapes, np.abs(r - px * (1 - style.rim_width / 2)) - style.rim_width * px / 2)
    _paint(img, _coverage(shapes), style.ink)
    # hands: hour below minute, then the centre cap
    h_angle, m_angle = hand_angles(hour, minute, style.rotation)
    hour_sdf = _hand_sdf(dx, dy, h_angle, style.hour_length * px, style.hand_tail * px,
                         style.hour_width * px, style.square_hands)
    minute_sdf = _hand_sdf(dx, dy, m_angle, style.minute_length * px, style.hand_tail * px,
                           style.minute_width * px, style.square_hands)
    _paint(img, _coverage(np.minimum(hour_sdf, minute_sdf)), style.hand_ink)
    _paint(img, _coverage(r - 1.3 * style.hour_width * px), style.hand_ink)
    # lighting, blur, noise
    g = float(np.deg2rad(style.gradient_angle))
    light = 1.0 + style.gradient * (dx * math.cos(g) + dy * math.sin(g)) / size
    if style.spot:
        sx, sy = style.spot_at
        light += style.spot * np.exp(-((x - half - sx * half) ** 2 + (y - half - sy * half) ** 2) / (0.18 * size**2))
    img *= light
    if style.blur > 0:
        from scipy.ndimage import gaussian_filter

        img = gaussian_filter(img, style.blur * size / 150)
    if style.noise > 0:
        img += np.random.default_rng(style.noise_seed).normal(0.0, style.noise, img.shape).astype(np.float32)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def make_clocks(
    n: int, seed: int = 0, *, size: int = 150, max_rotation: float = 180.0, start: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random clocks: ``(images (n,size,size) uint8, labels (n,2) int64 [hour 0..11, minute 0..59])``.

    Clock ``i`` is drawn from ``numpy.random.default_rng([seed, start + i])``, so it does not depend on
    ``n``, and ``start`` continues a sequence (a test set that shares nothing with the training set).
    """
    if n < 0:
        raise ParameterError(f"n must be >= 0; got {n}")
    images = np.empty((n, size, size), dtype=np.uint8)
    labels = np.empty((n, 2), dtype=np.int64)
    for i in range(n):
        rng = np.random.default_rng([seed, start + i])
        hour, minute = int(rng.integers(12)), int(rng.integers(60))
        images[i] = render_clock(hour, minute, ClockStyle.sample(rng, max_rotation), size)
        labels[i] = hour, minute
    return images, labels


# ------------------------------------------------------------------------------------ data files
def _save_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)


def write_demo(out_dir: str | os.PathLike, seed: int = 0, n: int = 4000, n_test: int = 500) -> Path:
    """Write the demo set into ``out_dir``: ``images.npy``, ``labels.npy`` (``n`` clocks) and
    ``test_images.npy`` (``n_test`` more, unlabelled, for a submission). Returns ``out_dir``.

    Does nothing when the files are there from the same seed, sizes and renderer version (a stamp file
    records them), so calling it on every run is cheap. Files are written atomically.
    """
    out = Path(out_dir)
    stamp = {"generator": "kitlib.tasks.clocks.make_clocks", "version": DEMO_VERSION, "seed": seed,
             "n": n, "n_test": n_test, "size": 150}
    names = ("images.npy", "labels.npy", "test_images.npy")
    stamp_path = out / DEMO_STAMP
    if stamp_path.is_file() and all((out / name).is_file() for name in names):
        try:
            if json.loads(stamp_path.read_text()) == stamp:
                return out
        except ValueError:
            pass
    out.mkdir(parents=True, exist_ok=True)
    images, labels = make_clocks(n, seed)
    test_images, _ = make_clocks(n_test, seed, start=n)
    _save_npy(out / "images.npy", images)
    _save_npy(out / "labels.npy", labels)
    _save_npy(out / "test_images.npy", test_images)
    stamp_path.write_text(json.dumps(stamp, indent=1) + "\n")
    return out


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


# ----------------------------------------------------------------------------------- pre-processing
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


# ------------------------------------------------------------------------------- targets / decoding
def _check_head(head: str) -> None:
    if head not in HEADS:
        raise ParameterError(f"Unknown head {head!r}; expected one of {list(HEADS)}")


def time_to_minutes(hm: np.ndarray) -> np.ndarray:
    """``(n,2)`` (hour, minute) -> ``(n,)`` minutes past 12 o'clock, 0..719."""
    hm = np.asarray(hm, dtype=np.int64)
    return (hm[:, 0] % 12) * 60 + hm[:, 1]


def minutes_to_time(minutes: np.ndarray) -> np.ndarray:
    """``(n,)`` minutes (any integer; taken modulo 720) -> ``(n,2)`` (hour 0..11, minute 0..59)."""
    m = np.asarray(minutes, dtype=np.int64) % 720
    return np.stack([m // 60, m % 60], axis=1)


def _soft_bins(degrees: np.ndarray, n_angles: int) -> np.ndarray:
    """One-hot over ``n_angles`` circular bins, split linearly between the two bins around each angle."""
    pos = np.asarray(degrees, dtype=np.float64) / 360.0 * n_angles
    low = np.floor(pos).astype(np.int64)
    frac = pos - low
    out = np.zeros((len(pos), n_angles), dtype=np.float32)
    rows = np.arange(len(pos))
    out[rows, low % n_angles] = 1.0 - frac
    out[rows, (low + 1) % n_angles] += frac
    return out


def encode_targets(labels: np.ndarray, head: str, n_angles: int = 96):
    """Training targets for ``head``: ``two-head`` -> ``{"hour": (n,), "minute": (n,)}`` class ids;
    ``periodic`` -> ``(n,4)`` [sin, cos of the hour hand, sin, cos of the minute hand];
    ``single-720`` -> ``(n,)`` minutes of the dial; ``polar`` -> ``{"hour": (n, n_angles),
    "minute": (n, n_angles)}``, each hand's angle (relative to 12 o'clock) as a distribution over angle
    bins. Raises ``ParameterError`` for another head."""
    _check_head(head)
    labels = np.asarray(labels, dtype=np.int64)
    if head == "two-head":
        return {"hour": labels[:, 0] % 12, "minute": labels[:, 1]}
    if head == "single-720":
        return time_to_minutes(labels)
    hour_deg = time_to_minutes(labels) / 2.0  # the hour hand turns half a degree a minute
    minute_deg = labels[:, 1] * 6.0
    if head == "polar":
        return {"hour": _soft_bins(hour_deg, n_angles), "minute": _soft_bins(minute_deg, n_angles)}
    a_h, a_m = np.deg2rad(hour_deg), np.deg2rad(minute_deg)
    return np.stack([np.sin(a_h), np.cos(a_h), np.sin(a_m), np.cos(a_m)], axis=1).astype(np.float32)


def decode_two_head(hour_scores: np.ndarray, minute_scores: np.ndarray) -> np.ndarray:
    """Argmax of the 12 hour and 60 minute scores (logits or probabilities) -> ``(n,2)`` times."""
    return np.stack([np.argmax(hour_scores, axis=1), np.argmax(minute_scores, axis=1)], axis=1).astype(np.int64)


def decode_periodic(pred: np.ndarray) -> np.ndarray:
    """``(n,4)`` [sin, cos hour hand, sin, cos minute hand] (any scale) -> ``(n,2)`` times.

    The minute comes from the minute hand; the hour is the one whose hand position, given that minute,
    is nearest the predicted hour-hand angle, so 3:58 is not read as 4:58 when the hour hand is almost
    at 4.
    """
    pred = np.asarray(pred, dtype=np.float64)
    minute = np.rint(np.arctan2(pred[:, 2], pred[:, 3]) / (2 * np.pi) * 60).astype(np.int64) % 60
    hour_hand = (np.arctan2(pred[:, 0], pred[:, 1]) / (2 * np.pi) * 720) % 720  # minutes past 12
    hour = np.rint((hour_hand - minute) / 60).astype(np.int64) % 12
    return np.stack([hour, minute], axis=1)


def _peak_angle(dist: np.ndarray, window: int = 2) -> np.ndarray:
    """Clock angle (radians) of each row's peak, refined by the mass-weighted mean of its neighbours."""
    n_angles = dist.shape[1]
    peak = np.argmax(dist, axis=1)
    offsets = np.arange(-window, window + 1)
    weights = np.take_along_axis(dist, (peak[:, None] + offsets) % n_angles, axis=1)
    pos = peak + (weights * offsets).sum(1) / np.maximum(weights.sum(1), 1e-12)
    return 2 * np.pi * pos / n_angles


def decode_polar(hour_dist: np.ndarray, minute_dist: np.ndarray) -> np.ndarray:
    """Two ``(n, n_angles)`` distributions over hand angles -> ``(n,2)`` times (as :func:`decode_periodic`)."""
    a_h, a_m = _peak_angle(np.asarray(hour_dist)), _peak_angle(np.asarray(minute_dist))
    return decode_periodic(np.stack([np.sin(a_h), np.cos(a_h), np.sin(a_m), np.cos(a_m)], axis=1))


def decode_720(scores: np.ndarray) -> np.ndarray:
    """Argmax of 720 scores (one per minute of the dial) -> ``(n,2)`` times."""
    return minutes_to_time(np.argmax(scores, axis=1))


def decode_predictions(pred, head: str) -> np.ndarray:
    """Decode a Keras model's ``predict`` output for ``head`` into ``(n,2)`` (hour, minute)."""
    _check_head(head)
    if head == "two-head":
        return decode_two_head(pred["hour"], pred["minute"])
    if head == "periodic":
        return decode_periodic(pred)
    if head == "single-720":
        return decode_720(pred)
    return decode_polar(pred["hour"], pred["minute"])


# ------------------------------------------------------------------------------------------- model
@functools.cache
def _polar_layers():
    """Keras layers of the ``polar`` model (built on first use, once Keras is imported)."""
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="kitlib")
    class CircularPad(keras.layers.Layer):
        """Pad the angle axis (axis 2 of (b, r, t, c), axis 1 of (b, t, c)) with ``width`` wrapped columns."""

        def __init__(self, width: int = 1, **kwargs):
            super().__init__(**kwargs)
            self.width = width

        def call(self, x):
            w, axis = self.width, 2 if len(x.shape) == 4 else 1
            n = x.shape[axis]
            return ops.concatenate([ops.take(x, list(range(n - w, n)), axis=axis), x,
                                    ops.take(x, list(range(w)), axis=axis)], axis=axis)

        def get_config(self):
            return {**super().get_config(), "width": self.width}

    @keras.saving.register_keras_serializable(package="kitlib")
    class RelativeAngle(keras.layers.Layer):
        """``p(d) = sum_t ref(t) * hand((t + d) mod n)``: where a hand is, seen from the 12 o'clock
        marker, as a distribution over ``n`` angle bins (a circular cross-correlation)."""

        def call(self, ref, hand):
            n = hand.shape[1]
            index = ((np.arange(n)[:, None] + np.arange(n)[None, :]) % n).ravel().tolist()
            shifted = ops.reshape(ops.take(hand, index, axis=1), (-1, n, n))
            return ops.einsum("bt,bdt->bd", ref, shifted)

    return CircularPad, RelativeAngle


def build_clock_model(
    head: str = "polar",
    input_shape: tuple[int, ...] = (24, 96, 1),
    *,
    filters: tuple[int, ...] | None = None,
    dense: int | None = None,
    dropout: float = 0.2,
    augment: bool = False,
    hour_weight: float = 1.0,
    minute_weight: float = 1.0,
):
    """A Keras CNN for :func:`model_inputs` of ``head``; returns ``(model, loss, loss_weights)`` for
    :func:`kitlib.keras.fit` (batch norm uses momentum 0.9, so its statistics settle within an epoch).

    Image heads (``input_shape`` = ``(size, size, 1)``): blocks of conv 3x3 -> batch norm -> ReLU ->
    2x2 max pool (``filters``, default ``(32, 64, 96, 128)``), flattened (where things are is what the
    time is), ``dense`` units (default 256), then ``two-head``: logits ``hour`` (12) and ``minute`` (60),
    sparse cross-entropy weighted ``hour_weight``/``minute_weight``; ``periodic``: 4 linear outputs,
    mean squared error; ``single-720``: 720 logits, sparse cross-entropy. ``augment`` adds training-only
    random rotation of the whole image (turning a clock keeps its time), small shifts and contrast
    jitter (slow on the torch backend on CPU).

    ``polar`` (``input_shape`` = ``(n_radii, n_angles, 1)``): convolutions that wrap around the angle
    axis (default ``filters=(16, 32, 64)``, two per block, pooling over radius only), a ``dense``-wide
    (default 64) 1-d layer, then three distributions over angle (12 o'clock marker, hour hand, minute
    hand); the outputs ``hour`` and ``minute`` are each hand's angle relative to the marker
    (:class:`RelativeAngle`), trained with cross-entropy against :func:`encode_targets`. Turning the clock
    shifts all three together, so the model needs no rotated examples; ``augment`` adds contrast jitter
    and noise. Raises ``ParameterError`` for an unknown head.
    """
    _check_head(head)
    import keras
    from keras import layers

    inputs = keras.Input(tuple(input_shape), name="image")
    x = inputs
    if head == "polar":
        circular_pad, relative_angle = _polar_layers()
        if augment:
            x = layers.RandomContrast(0.3, name="aug_contrast")(x)
            x = layers.GaussianNoise(0.03, name="aug_noise")(x)
        for i, f in enumerate(filters or (16, 32, 64)):
            for j in (1, 2):
                x = circular_pad(1, name=f"wrap{i + 1}_{j}")(x)
                x = layers.ZeroPadding2D(((1, 1), (0, 0)), name=f"pad{i + 1}_{j}")(x)
                x = layers.Conv2D(f, 3, use_bias=False, name=f"conv{i + 1}_{j}")(x)
                x = layers.BatchNormalization(momentum=0.9, name=f"bn{i + 1}_{j}")(x)
                x = layers.Activation("relu", name=f"relu{i + 1}_{j}")(x)
            if x.shape[1] >= 2:
                x = layers.MaxPooling2D((2, 1), name=f"pool{i + 1}")(x)
        n_angles = x.shape[2]
        x = layers.Permute((2, 1, 3), name="angle_first")(x)
        x = layers.Reshape((n_angles, x.shape[2] * x.shape[3]), name="rings")(x)
        x = layers.Dropout(dropout, name="dropout")(x)
        x = circular_pad(2, name="wrap_1d")(x)
        x = layers.Conv1D(dense or 64, 5, activation="relu", name="conv1d")(x)
        where = layers.Softmax(axis=1, name="where")(layers.Conv1D(3, 1, name="marker_hour_minute")(x))
        marker, hour_hand, minute_hand = (where[:, :, k] for k in range(3))
        outputs = {"hour": relative_angle(name="hour")(marker, hour_hand),
                   "minute": relative_angle(name="minute")(marker, minute_hand)}
        ce = keras.losses.CategoricalCrossentropy()
        return (keras.Model(inputs, outputs, name="clock_polar"), {"hour": ce, "minute": ce},
                {"hour": hour_weight, "minute": minute_weight})

    if augment:
        x = layers.RandomRotation(0.5, fill_mode="nearest", name="aug_rotate")(x)
        x = layers.RandomTranslation(0.05, 0.05, fill_mode="nearest", name="aug_shift")(x)
        x = layers.RandomContrast(0.2, name="aug_contrast")(x)
    for i, f in enumerate(filters or (32, 64, 96, 128)):
        x = layers.Conv2D(f, 3, padding="same", use_bias=False, name=f"conv{i + 1}")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"bn{i + 1}")(x)
        x = layers.Activation("relu", name=f"relu{i + 1}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i + 1}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Dense(dense or 256, activation="relu", name="dense")(x)
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if head == "two-head":
        outputs = {"hour": layers.Dense(12, name="hour")(x), "minute": layers.Dense(60, name="minute")(x)}
        loss, weights = {"hour": ce, "minute": ce}, {"hour": hour_weight, "minute": minute_weight}
    elif head == "periodic":
        outputs, loss, weights = layers.Dense(4, name="angles")(x), "mse", None
    else:
        outputs, loss, weights = layers.Dense(720, name="minute_of_dial")(x), ce, None
    return keras.Model(inputs, outputs, name=f"clock_{head.replace('-', '_')}"), loss, weights


def clean_style(**overrides) -> ClockStyle:
    """A noiseless, unrotated, evenly lit style (for tests and figures), with ``overrides`` applied."""
    return replace(ClockStyle(), **overrides)


COMPETITION = Competition(
    name="tell-the-time",
    title='"Tell the time" from analog clock images (common-sense error in minutes)',
    platform="local",
    slug="tell-the-time",
    metric="val_cse_mean",
    mode="min",
    submission=SubmissionSpec(file_name="submission.csv", columns=("id", "hour", "minute")),
    demo=write_demo,
)
