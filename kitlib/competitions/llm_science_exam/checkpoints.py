"""Kept models of the LLM Science Exam notebook: where a run's ``checkpoints/`` folder is, and ``run.json``
beside its fold models (the folds and the settings that shape the predictions), what a run that only
predicts needs."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...data import write_atomic
from ...errors import DataError, ParameterError

__all__ = ["CHECKPOINT_RECORD", "PREDICTION_PARAMS", "resolve_checkpoints", "write_checkpoint_record",
           "read_checkpoint_record", "models_record"]

CHECKPOINT_RECORD = "run.json"  # in a run's checkpoints/ folder: what predicting from it needs
PREDICTION_PARAMS = ("retrieval", "retrieval_method", "top_k", "context_weight", "embed_model")  # a run that only
# predicts takes these from the run that trained (the cross-encoder's max_length is in each model's settings.json)


def resolve_checkpoints(value: str | Path) -> Path:
    """The ``checkpoints/`` folder named by ``value``: a run id (a folder of the runs folder, see
    :func:`kitlib.runtime.runs_dir`), a run folder, the ``checkpoints`` folder itself, or (on Kaggle) the name of
    an attached dataset holding it. Raises ``ParameterError`` naming what was tried and what a checkpoints
    folder holds."""
    from ...runtime import input_path, runs_dir

    given = Path(str(value)).expanduser()
    tried = [input_path(given), runs_dir() / str(value)]
    for candidate in tried:
        for folder in (candidate / "checkpoints", candidate):
            if (folder / CHECKPOINT_RECORD).is_file():
                return folder
    raise ParameterError(f"checkpoints {str(value)!r}: no {CHECKPOINT_RECORD} in {[str(t) for t in tried]} (or their "
                         "checkpoints/ folders); expected a run id or run folder of a training run of this notebook, "
                         "or its checkpoints folder (fold<k>/ models and run.json)")


def write_checkpoint_record(checkpoints: str | Path, *, run_id: str, params: dict, approach: str,
                            folds: pd.DataFrame) -> Path:
    """Write ``checkpoints/run.json``: the training run's id, the ``params`` that shape its predictions, the
    approach that won its CV, and ``folds`` (``id``, ``fold`` of the official questions); returns its path."""
    path = Path(checkpoints) / CHECKPOINT_RECORD
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"run_id": run_id, "params": params, "approach": approach,
              "folds": {str(i): int(f) for i, f in zip(folds["id"], folds["fold"])}}
    write_atomic(path, json.dumps(record, indent=1, sort_keys=True, default=str) + "\n")
    return path


def read_checkpoint_record(checkpoints: str | Path,
                           train_df: pd.DataFrame | None = None) -> tuple[dict, np.ndarray | None]:
    """``(record, fold ids)``: ``checkpoints/run.json`` and the fold of each question of ``train_df`` (by id) as
    the training run drew them (``None`` without ``train_df``). Raises ``DataError`` when a question of
    ``train_df`` was not in that run."""
    record = json.loads((Path(checkpoints) / CHECKPOINT_RECORD).read_text())
    if train_df is None:
        return record, None
    folds = record["folds"]
    missing = [i for i in train_df["id"].astype(str) if i not in folds]
    if missing:
        raise DataError(f"{Path(checkpoints) / CHECKPOINT_RECORD}: {len(missing)} question(s) of train.csv were not in "
                        f"the training run {record.get('run_id')}, the first id {missing[0]!r}; predict with the data "
                        "it was trained on")
    return record, np.array([folds[i] for i in train_df["id"].astype(str)], dtype=np.int64)


def models_record(checkpoint_dir: Path, record: dict, cross_encoder: Any) -> dict:
    """What the manifest of a ``-p checkpoints`` run says of its models (a JSON record): the folder, the run
    that trained them and the approach it chose (from ``record``, :func:`read_checkpoint_record`'s), every
    cross-encoder fold model and their base model (from ``cross_encoder``, the cross-encoder's
    :class:`~kitlib.folds.CVResult`)."""
    return {"checkpoints": str(checkpoint_dir), "trained_by": record["run_id"], "approach_then": record["approach"],
            "cross_encoder": [m for info in cross_encoder.infos for m in info["models"]],
            "base_model": cross_encoder.infos[0]["base_model"]}
