"""Clock metrics: the common-sense error between two times on a 12-hour dial (tell the time).

A time is a pair ``(hour, minute)`` with hour in 0..11 (12 is read as 0, as on a dial) and minute in
0..59. The common-sense error is the number of minutes between the two times going the short way round
the dial: 3:59 vs 4:01 is 2 minutes, 11:58 vs 0:02 is 4, and no error exceeds 360 (six hours).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["common_sense_error", "common_sense_summary"]

MINUTES_ON_DIAL = 12 * 60


def _as_times(values: Sequence | np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim == 1 and arr.shape[0] == 2 and not np.issubdtype(arr.dtype, np.object_):
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must have shape (n, 2) holding (hour, minute) pairs; got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must hold finite numbers (hour, minute); got dtype {arr.dtype}")
    if np.any(arr != np.round(arr)):
        row = int(np.argmax(np.any(arr != np.round(arr), axis=1)))
        raise ValueError(f"{name} row {row}: {arr[row].tolist()} is not whole hours and minutes")
    arr = arr.astype(np.int64)
    bad_hour = (arr[:, 0] < 0) | (arr[:, 0] > 12)
    bad_minute = (arr[:, 1] < 0) | (arr[:, 1] > 59)
    if bad_hour.any():
        row = int(np.argmax(bad_hour))
        raise ValueError(f"{name} row {row}: hour {arr[row, 0]} is outside 0..12")
    if bad_minute.any():
        row = int(np.argmax(bad_minute))
        raise ValueError(f"{name} row {row}: minute {arr[row, 1]} is outside 0..59")
    return arr


def common_sense_error(true_hm: Sequence | np.ndarray, pred_hm: Sequence | np.ndarray) -> np.ndarray:
    """Minutes between true and predicted times on a 12-hour dial, the short way round.

    In: two arrays of shape ``(n, 2)`` (or one ``(hour, minute)`` pair each) with hour in 0..12 (12 means
    0) and minute in 0..59. Out: an ``int64`` array of ``n`` errors in ``0..360``.
    Raises ``ValueError`` for other shapes, different lengths, non-whole values or out-of-range values
    (the message names the argument and the row).
    """
    t = _as_times(true_hm, "true_hm")
    p = _as_times(pred_hm, "pred_hm")
    if len(t) != len(p):
        raise ValueError(f"true_hm has {len(t)} times but pred_hm has {len(p)}")
    if len(t) == 0:
        raise ValueError("cannot score an empty prediction")
    t_min = (t[:, 0] % 12) * 60 + t[:, 1]
    p_min = (p[:, 0] % 12) * 60 + p[:, 1]
    diff = np.abs(t_min - p_min) % MINUTES_ON_DIAL
    return np.minimum(diff, MINUTES_ON_DIAL - diff)


def common_sense_summary(
    true_hm: Sequence | np.ndarray, pred_hm: Sequence | np.ndarray, within: int = 5
) -> dict[str, float]:
    """Mean and median common-sense error (minutes) and the share of times within ``within`` minutes.

    Out: ``{"mean": ..., "median": ..., "within_5min": ...}`` (the last key follows ``within``).
    Raises what :func:`common_sense_error` raises.
    """
    err = common_sense_error(true_hm, pred_hm)
    return {
        "mean": float(err.mean()),
        "median": float(np.median(err)),
        f"within_{within}min": float(np.mean(err <= within)),
    }
