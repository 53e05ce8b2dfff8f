"""Every model a run evaluated, kept in its run folder beside the submitted predictions.

A run that evaluates several models (the tabular template) writes, besides ``oof.parquet`` and
``test_predictions.parquet`` (the predictions it submitted)::

    runs/<run-id>/models/<model>/oof.parquet               same schema, keys and folds as the run's oof.parquet
    runs/<run-id>/models/<model>/test_predictions.parquet  same schema and keys as the run's test_predictions.parquet

and its manifest gains ``models: {<model>: {cv, score, best_iterations, seconds, ..., predictions}}`` (through
:meth:`kitlib.run.Run.log_model`), ``final: {kind: "model" | "ensemble", model or weights}`` and ``cut`` (what the
time budget skipped or stopped; :meth:`kitlib.run.Run.log_final`). ``kit blend RUN:MODEL`` reads these tables.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from . import predictions
from .errors import ParameterError

__all__ = ["MODELS_DIR", "model_dir", "write_model"]

MODELS_DIR = "models"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def model_dir(run_dir: str | Path, name: str) -> Path:
    """``<run_dir>/models/<name>``. Raises ``ParameterError`` for a name that is not a plain file name (letters,
    digits, ``_``, ``.``, ``-``; at most 100 characters)."""
    if not _NAME.fullmatch(str(name)):
        raise ParameterError(f"model name {name!r}: expected letters, digits, '_', '.' or '-' (at most 100, no path "
                             f"separator)")
    return Path(run_dir) / MODELS_DIR / str(name)


def write_model(run_dir: str | Path, name: str, record: dict[str, Any], oof: pd.DataFrame | None,
                test: pd.DataFrame | None) -> dict[str, Any]:
    """Write ``models/<name>/oof.parquet`` and ``test_predictions.parquet`` (tables as :func:`kitlib.predictions
    .frame` builds them: ``oof`` needs its ``fold`` column) and return the manifest entry: ``record`` (``cv``,
    ``score``, ``best_iterations``, ``seconds``...) with ``predictions`` (the paths written).

    Raises ``ParameterError`` for a name that is not a plain file name, an ``oof`` table without ``fold`` or a table
    without prediction columns."""
    folder = model_dir(run_dir, name)
    folder.mkdir(parents=True, exist_ok=True)
    written = predictions.write(folder, oof, test)
    return {**record, "predictions": {file: str(path) for file, path in written.items()}}
