"""Tell the time: the four heads, each a target encoding, a decoding back to times and a Keras model.

``"two-head"`` (12 hour classes + 60 minute classes), ``"periodic"`` (sin/cos of both hand angles),
``"single-720"`` (one class per minute of the dial) and ``"polar"`` (each hand's angle from the 12
o'clock marker, read off the unwrapped dial). :func:`encode_targets` gives a head's training targets,
:func:`decode_predictions` reads its predictions as ``(hour, minute)`` and :func:`build_clock_model`
builds a Keras CNN with that head. Imports Keras only inside :func:`build_clock_model`.
"""
from __future__ import annotations

import functools

import numpy as np

from ...errors import ParameterError

__all__ = [
    "HEADS",
    "time_to_minutes",
    "minutes_to_time",
    "dial_points",
    "dial_minutes",
    "encode_targets",
    "decode_predictions",
    "decode_two_head",
    "decode_periodic",
    "decode_720",
    "decode_polar",
    "build_clock_model",
]

HEADS = ("two-head", "periodic", "single-720", "polar")


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


def dial_points(minutes: np.ndarray) -> np.ndarray:
    """``(n,)`` minutes past 12 o'clock -> ``(n,2)`` points on the unit circle ``[cos, sin]`` of
    ``2*pi*minutes/720``: a time as a place on the 12-hour dial, so that averaging points (a blend) is a
    circular mean (11:58 and 0:02 average to 0:00, not to 6:00)."""
    angle = 2 * np.pi * np.asarray(minutes, dtype=np.float64) / 720
    return np.stack([np.cos(angle), np.sin(angle)], axis=1)


def dial_minutes(points: np.ndarray) -> np.ndarray:
    """``(n,2)`` ``[cos, sin]`` (any length; the angle is what counts) -> ``(n,)`` the nearest whole minute
    of the dial, 0..719: the inverse of :func:`dial_points`. A point at the centre reads as 0."""
    points = np.asarray(points, dtype=np.float64)
    angle = np.arctan2(points[:, 1], points[:, 0])
    return np.rint(angle / (2 * np.pi) * 720).astype(np.int64) % 720


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
