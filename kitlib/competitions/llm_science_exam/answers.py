"""From option scores to answers: the three best letters of each question (:func:`top_letters`), MAP@3 for the
training loop (:func:`map3_metric`), the run folder's prediction tables (:func:`prediction_frame`,
:func:`score_predictions`: the notebook's CV score and ``kit blend``'s), the submission written from them
(:func:`predictions_to_submission`) and ``kit submit``'s rule for it (:func:`check_submission`)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ... import predictions
from ...errors import DataError, SubmissionError
from ...tasks import multiple_choice
from .questions import LETTERS

__all__ = ["SCORES", "top_letters", "map3_metric", "prediction_frame", "score_predictions",
           "predictions_to_submission", "check_submission"]

SCORES = tuple(predictions.columns("score_", LETTERS))  # prediction columns: one score per option, higher is better


def top_letters(scores: np.ndarray, k: int = 3) -> list[str]:
    """Rank each row's five scores (higher is better) and return the best ``k`` letters, e.g. ``"D A C"``.

    Ties keep the option order (A before B). Raises ``ParameterError`` unless ``scores`` is ``(n, 5)``.
    """
    return multiple_choice.top_choices(scores, k, LETTERS)


def map3_metric(targets: np.ndarray, logits: np.ndarray) -> float:
    """MAP@3 of ``(n, 5)`` logits against answer indices: the ``metric`` for ``kitlib.train.fit``."""
    from ...metrics import map_at_k

    truths = [LETTERS[int(t)] for t in np.asarray(targets).ravel()]
    return map_at_k(truths, top_letters(logits), k=3)


def prediction_frame(df: pd.DataFrame, scores: np.ndarray, *, fold: Any = None) -> pd.DataFrame:
    """The prediction table of the questions ``df`` (built by :func:`kitlib.predictions.frame`): ``id``,
    ``fold`` (when given), ``answer`` (when ``df`` has one), then ``scores`` ``(n, 5)`` as ``score_A..score_E``.

    Raises ``ParameterError`` when ``scores`` is not one row of five per question.
    """
    target = {"answer": df["answer"].to_numpy()} if "answer" in df else None
    return predictions.frame(df[["id"]].astype(str), scores, SCORES, fold=fold, target=target)


def score_predictions(frame: pd.DataFrame) -> float:
    """MAP@3 of a prediction table: each row's three best ``score_`` columns (ties keep A before B) against
    its ``answer``. The notebook's CV score and ``kit blend``'s are this function."""
    from ...metrics import map_at_k

    return map_at_k(frame["answer"].astype(str).tolist(), top_letters(frame[list(SCORES)].to_numpy()), k=3)


def predictions_to_submission(test: pd.DataFrame, data_dir: Path) -> pd.DataFrame:
    """``id, prediction`` in the order of ``<data_dir>/sample_submission.csv``; ``prediction`` holds the three
    best letters of each test row's ``score_`` columns (``"D A C"``), matched by ``id``.

    Raises ``DataError`` when an id of the sample has no test prediction or one id has several.
    """
    sample = pd.read_csv(Path(data_dir) / "sample_submission.csv", dtype=str, keep_default_na=False)
    ids = test["id"].astype(str)
    if ids.duplicated().any():
        raise DataError(f"test predictions: id {ids[ids.duplicated()].iat[0]!r} appears more than once")
    missing = sample["id"][~sample["id"].isin(ids)]
    if len(missing):
        raise DataError(f"{len(missing)} id(s) of {Path(data_dir) / 'sample_submission.csv'} have no test "
                        f"prediction, the first {missing.iat[0]!r}")
    scores = test.set_index(ids)[list(SCORES)].loc[sample["id"]].to_numpy()
    return pd.DataFrame({"id": sample["id"], "prediction": top_letters(scores)})


def check_submission(path: Path, data_dir: Path) -> None:
    """``kit submit``'s rule for this competition: each ``prediction`` is three distinct letters from A-E
    separated by spaces (best first, e.g. ``D A C``).

    Ids and row count are checked against ``sample_submission.csv`` by the generic validator; ``data_dir``
    is accepted for the common signature. Raises ``SubmissionError`` naming the file, the column and the
    first offending rows (row numbered from 1 after the header, id, value and what is wrong).
    """
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:  # EmptyDataError, ParserError
        raise SubmissionError(f"{path}: cannot be read as CSV ({exc})") from None
    if "prediction" not in df.columns:
        raise SubmissionError(f"{path}: no 'prediction' column; found {list(df.columns)}, "
                              "expected ['id', 'prediction']")
    bad = []
    ids = df["id"] if "id" in df.columns else pd.Series(range(len(df)))
    for i, value in enumerate(df["prediction"]):
        problem = _prediction_problem(value)
        if problem:
            bad.append(f"row {i + 1} (id={ids.iat[i]}): {value!r} ({problem})")
    if bad:
        more = f"; and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise SubmissionError(f"{path}: column 'prediction' must hold three distinct letters from A-E separated by "
                              f"spaces, e.g. 'D A C'; {len(bad)} bad row(s): " + "; ".join(bad[:5]) + more)


def _prediction_problem(value: str) -> str | None:
    letters = str(value).split()
    if len(letters) != 3:
        return f"{len(letters)} letter(s), expected 3"
    outside = [x for x in letters if x not in LETTERS]
    if outside:
        return f"{outside[0]!r} is not one of A-E"
    if len(set(letters)) != 3:
        repeated = next(x for x in letters if letters.count(x) > 1)
        return f"letter {repeated} repeated"
    return None
