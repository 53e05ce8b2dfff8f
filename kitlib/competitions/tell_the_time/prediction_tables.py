"""Clock prediction tables (the run folder's ``oof.parquet``/``test_predictions.parquet``, what ``kit blend``
reads): each clock's time as a point on the dial circle, ``pred_dial_cos``/``pred_dial_sin``
(:data:`DIAL_COLUMNS`, see :func:`~.heads.dial_points`), so clocks blend by a circular mean. Their score
(:func:`score_predictions`), the ``id,hour,minute`` submission (:func:`predictions_to_submission`) and the ids
a submission must hold (:func:`test_ids`)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ... import predictions
from ...errors import DataError
from .heads import dial_minutes, minutes_to_time

__all__ = ["DIAL_COLUMNS", "score_predictions", "predictions_to_submission", "test_ids"]

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
