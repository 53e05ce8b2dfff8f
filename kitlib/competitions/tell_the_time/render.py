"""Synthetic analog clocks: a clock's style, where its hands point, the renderer and the demo set.

:func:`make_clocks` renders clocks deterministically from a seed: the whole dial rotated, hands of
random widths and lengths (the hour hand always shorter and wider), a marked 12 o'clock (the widest,
longest tick), lighting gradients and spots, blur and noise; image ``i`` of a seed is the same whatever
``n`` is. :func:`write_demo` writes the demo set ``data/demo/tell-the-time/`` from it on first use.

Angles are "clock angles": degrees clockwise from 12 o'clock. The hour hand of h:m points at
``30*h + m/2``, the minute hand at ``6*m``; both are turned by the dial's rotation.
"""
from __future__ import annotations

import functools
import json
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ...errors import ParameterError

__all__ = ["ClockStyle", "clean_style", "hand_angles", "render_clock", "make_clocks", "write_demo"]

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
    def sample(cls, rng: np.random.Generator, max_rotation: float = 180.0) -> ClockStyle:
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


def clean_style(**overrides) -> ClockStyle:
    """A noiseless, unrotated, evenly lit style (for tests and figures), with ``overrides`` applied."""
    return replace(ClockStyle(), **overrides)


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


# -------------------------------------------------------------------------------------- demo set
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
    stamp = {"generator": "kitlib.competitions.tell_the_time.make_clocks", "version": DEMO_VERSION, "seed": seed,
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
