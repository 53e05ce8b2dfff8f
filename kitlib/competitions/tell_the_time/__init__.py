"""Tell the time: synthetic analog clocks, pre-processing, the model heads and their decoding.

The competition ships grey 150x150 clock images as ``images.npy`` (N,150,150 uint8) and their times as
``labels.npy`` (N,2 int: hour 0..11, minute 0..59). This package

- renders such clocks deterministically from a seed (:mod:`.render`: :func:`make_clocks`), writes the
  demo set ``data/demo/tell-the-time/`` on first use (:func:`write_demo`); this module reads a set
  (:func:`load_clocks`) and adds synthetic clocks to a real one (:func:`add_synthetic`);
- pre-processes images for a model (:mod:`.inputs`: :func:`model_inputs`): contrast stretch and resize
  (:func:`preprocess`), or unwrapping the dial into rings x angles (:func:`unwrap_polar`);
- encodes targets and decodes predictions for four heads (:mod:`.heads`: ``HEADS``): ``"two-head"`` (12
  hour classes + 60 minute classes), ``"periodic"`` (sin/cos of both hand angles), ``"single-720"`` (one
  class per minute of the dial) and ``"polar"`` (each hand's angle from the 12 o'clock marker, read off
  the unwrapped dial), and builds a Keras CNN with that head (:func:`build_clock_model`).

Runs keep their predictions (see :mod:`kitlib.predictions`) as a point on the dial circle, so clocks blend
by a circular mean: ``oof.parquet`` holds the validation hold-out (key ``id``, the clock's index in
``images.npy``; ``fold`` 0; the target ``minutes`` 0..719) and ``test_predictions.parquet`` the test clocks
(``id``, index in ``test_images.npy``), both with ``pred_dial_cos``/``pred_dial_sin``
(:func:`dial_points`). :func:`score_predictions` is the mean common-sense error of the angle read back,
:func:`predictions_to_submission` the ``id,hour,minute`` submission.

Angles are "clock angles": degrees clockwise from 12 o'clock. The hour hand of h:m points at
``30*h + m/2``, the minute hand at ``6*m``; both are turned by the dial's rotation.
Imports Keras only inside :func:`build_clock_model`.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ... import predictions
from ...errors import DataError, ParameterError
from ..spec import Competition, Predictions, SubmissionSpec
from . import heads, inputs, render
from .heads import (HEADS, build_clock_model, decode_720, decode_periodic, decode_polar, decode_predictions,
                    decode_two_head, dial_minutes, dial_points, encode_targets, minutes_to_time, time_to_minutes)
from .inputs import model_inputs, preprocess, unwrap_polar
from .render import ClockStyle, clean_style, hand_angles, make_clocks, render_clock, write_demo

__all__ = ["load_clocks", "add_synthetic", "DIAL_COLUMNS", "score_predictions", "predictions_to_submission"]
__all__ += render.__all__
__all__ += inputs.__all__
__all__ += heads.__all__


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


DIAL_COLUMNS = tuple(predictions.columns("pred_", ["dial_cos", "dial_sin"]))


def score_predictions(frame: pd.DataFrame) -> float:
    """Mean common-sense error (minutes) between each row's ``minutes`` (0..719) and the dial position
    ``pred_dial_cos``/``pred_dial_sin`` read back as a whole minute (:func:`dial_minutes`)."""
    from ...metrics import common_sense_error

    pred = dial_minutes(frame[list(DIAL_COLUMNS)].to_numpy(dtype=np.float64))
    truth = frame["minutes"].to_numpy(dtype=np.int64)
    return float(common_sense_error(minutes_to_time(truth), minutes_to_time(pred)).mean())


def predictions_to_submission(test: pd.DataFrame, data_dir: str | os.PathLike | None) -> pd.DataFrame:
    """``id,hour,minute`` for every test clock, in ``id`` order, from its dial position.

    Raises ``DataError`` when the ids are not 0..n-1 or, with a ``data_dir`` holding ``test_images.npy``,
    their count differs from the file's.
    """
    ordered = predictions.by_position_id(test, "clock")
    ids = ordered["id"].to_numpy()
    path = Path(data_dir) / "test_images.npy" if data_dir is not None else None
    if path is not None and path.is_file():
        n_test = len(np.load(path, mmap_mode="r"))
        if n_test != len(ids):
            raise DataError(f"{len(ids)} test predictions for the {n_test} clocks of {path}")
    times = minutes_to_time(dial_minutes(ordered[list(DIAL_COLUMNS)].to_numpy(dtype=np.float64)))
    return pd.DataFrame({"id": ids.astype(np.int64), "hour": times[:, 0], "minute": times[:, 1]})


def test_ids(data_dir: Path) -> list[str]:
    """The ids a submission must hold, in order: ``0 .. n-1`` over the clocks of ``test_images.npy``.

    Raises ``DataError`` when the folder has no test images (there is nothing to submit for).
    """
    path = Path(data_dir) / "test_images.npy"
    if not path.is_file():
        raise DataError(f"{data_dir}: no test_images.npy, so there is no test set to check a submission against")
    return [str(i) for i in range(int(np.load(path, mmap_mode="r").shape[0]))]


COMPETITION = Competition(
    name="tell-the-time",
    title='"Tell the time" from analog clock images (common-sense error in minutes)',
    platform="local",
    slug="tell-the-time",
    metric="val_cse_mean",
    mode="min",
    submission=SubmissionSpec(file_name="submission.csv", columns=("id", "hour", "minute"), key=("id",),
                              allowed={"hour": tuple(str(h) for h in range(12)),
                                       "minute": tuple(str(m) for m in range(60))},
                              expected_key=test_ids),
    demo=write_demo,
    predictions=Predictions(key=("id",), target="minutes", score=score_predictions,
                            to_submission=predictions_to_submission),
)
