"""Tell the time: synthetic analog clocks, pre-processing, the model heads and their decoding.

The competition ships grey 150x150 clock images as ``images.npy`` (N,150,150 uint8) and their times as
``labels.npy`` (N,2 int: hour 0..11, minute 0..59). This package

- renders such clocks deterministically from a seed (:mod:`.render`: :func:`make_clocks`), writes the
  demo set ``data/demo/tell-the-time/`` on first use (:func:`write_demo`); :mod:`.dataset` reads a set
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
(:func:`dial_points`). :mod:`.prediction_tables`: :func:`score_predictions` is the mean common-sense error of the
angle read back, :func:`predictions_to_submission` the ``id,hour,minute`` submission. :mod:`.competition` defines
``COMPETITION``.

Angles are "clock angles": degrees clockwise from 12 o'clock. The hour hand of h:m points at
``30*h + m/2``, the minute hand at ``6*m``; both are turned by the dial's rotation.
Imports Keras only inside :func:`build_clock_model`.
"""
from __future__ import annotations

from .competition import COMPETITION
from .dataset import add_synthetic, load_clocks
from .heads import (
                    HEADS,
                    build_clock_model,
                    decode_720,
                    decode_periodic,
                    decode_polar,
                    decode_predictions,
                    decode_two_head,
                    dial_minutes,
                    dial_points,
                    encode_targets,
                    minutes_to_time,
                    time_to_minutes,
)
from .inputs import model_inputs, preprocess, unwrap_polar
from .prediction_tables import DIAL_COLUMNS, predictions_to_submission, score_predictions, test_ids
from .render import ClockStyle, clean_style, hand_angles, make_clocks, render_clock, write_demo

__all__ = [
    "COMPETITION", "load_clocks", "add_synthetic", "DIAL_COLUMNS", "score_predictions",
    "predictions_to_submission", "test_ids", "ClockStyle", "clean_style", "hand_angles", "render_clock",
    "make_clocks", "write_demo", "preprocess", "unwrap_polar", "model_inputs", "HEADS", "time_to_minutes",
    "minutes_to_time", "dial_points", "dial_minutes", "encode_targets", "decode_predictions", "decode_two_head",
    "decode_periodic", "decode_720", "decode_polar", "build_clock_model",
]
