"""The "Tell the time" competition as the kit knows it: its submission rules, demo set, prediction tables and its
one hold-out as a fold (``kit folds``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataError
from ..rows import FoldSettings, Rows, RowTables, holdout_table
from ..spec import Competition, Predictions, SubmissionSpec
from .dataset import load_clocks
from .heads import time_to_minutes
from .prediction_tables import DIAL_COLUMNS, predictions_to_submission, score_predictions, test_ids
from .render import write_demo

__all__ = ["COMPETITION", "SMOKE_CLOCKS", "fold_rows", "row_tables"]

SMOKE_CLOCKS = 300  # the labelled clocks a smoke run keeps (its n_train)


def fold_rows(data_dir: Path, settings: FoldSettings) -> pd.DataFrame:
    """``id, fold`` of the labelled clocks a run uses (the first ``settings.params["n_train"]``, 0 for all;
    :data:`SMOKE_CLOCKS` in smoke mode): a hold-out of ``settings.params["val_fraction"]`` drawn from ``fold_seed``
    is fold 0, the clocks that only train -1. Raises ``DataError`` when ``labels.npy`` is missing."""
    from ...folds import holdout

    path = Path(data_dir) / "labels.npy"
    if not path.is_file():
        raise DataError(f"{data_dir}: missing labels.npy (the labelled clocks the folds are drawn over)")
    n = int(np.load(path, mmap_mode="r").shape[0])
    n_train = SMOKE_CLOCKS if settings.smoke else int(settings.params["n_train"])
    n = min(n, n_train) if n_train else n
    hold = holdout(n, float(settings.params["val_fraction"]), seed=settings.fold_seed)
    return holdout_table(pd.DataFrame({"id": np.arange(n, dtype=np.int64)}), hold.val)


def row_tables(data_dir: Path, settings: FoldSettings) -> RowTables:
    """Every labelled clock (``id, minutes``: its time as minutes past 12, 0..719), the test clocks' ids (none
    without ``test_images.npy``) and the dial position ``pred_dial_cos, pred_dial_sin``."""
    _, labels, test = load_clocks(data_dir)
    truth = pd.DataFrame({"id": np.arange(len(labels), dtype=np.int64), "minutes": time_to_minutes(labels)})
    ids = np.arange(0 if test is None else len(test), dtype=np.int64)
    return RowTables(truth, pd.DataFrame({"id": ids}), DIAL_COLUMNS)


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
    rows=Rows(folds=fold_rows, tables=row_tables, params=("n_train", "val_fraction"), n_folds="", smoke_n_folds=None),
)
