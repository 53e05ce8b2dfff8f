"""The LLM Science Exam as the kit knows it: a Kaggle code competition, its submission rule, demo set, prediction
tables and folds (K folds over the training questions, shuffled from ``fold_seed``; ``kit folds``)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..rows import FoldSettings, Rows, RowTables
from ..spec import Competition, Predictions, SubmissionSpec
from .answers import SCORES, check_submission, predictions_to_submission, score_predictions
from .questions import NAME, read_questions, write_demo

__all__ = ["COMPETITION", "SMOKE_QUESTIONS", "fold_rows", "row_tables"]

SMOKE_QUESTIONS = 24  # the training questions a smoke run keeps: the first of train.csv


def fold_rows(data_dir: Path, settings: FoldSettings) -> pd.DataFrame:
    """``id, fold`` of every training question (the first :data:`SMOKE_QUESTIONS` in smoke mode):
    ``settings.n_folds`` folds (the notebook's ``folds``), shuffled from ``settings.fold_seed``."""
    from ...folds import assign_folds

    train = read_questions(Path(data_dir) / "train.csv", require_answer=True)
    if settings.smoke:
        train = train.head(SMOKE_QUESTIONS)
    ids = pd.DataFrame({"id": train["id"].astype(str).to_numpy()})
    return ids.assign(fold=assign_folds(len(ids), n_splits=settings.n_folds, seed=settings.fold_seed))


def row_tables(data_dir: Path, settings: FoldSettings) -> RowTables:
    """Every training question (``id, answer``), the test questions' ids and the per-option scores
    ``score_A..score_E`` (any finite numbers, higher is better)."""
    train = read_questions(Path(data_dir) / "train.csv", require_answer=True)
    test = read_questions(Path(data_dir) / "test.csv")
    truth = pd.DataFrame({"id": train["id"].astype(str).to_numpy(), "answer": train["answer"].to_numpy()})
    return RowTables(truth, pd.DataFrame({"id": test["id"].astype(str).to_numpy()}), SCORES)


COMPETITION = Competition(
    name=NAME,
    title='Kaggle "LLM Science Exam" (5-option science questions, MAP@3)',
    platform="kaggle",
    slug="kaggle-llm-science-exam",
    metric="val_map_at_3",
    mode="max",
    submission=SubmissionSpec(
        file_name="submission.csv",
        columns=("id", "prediction"),
        key=("id",),
        sample="sample_submission.csv",
        check=check_submission,
    ),
    demo=write_demo,
    predictions=Predictions(key=("id",), target="answer", score=score_predictions,
                            to_submission=predictions_to_submission),
    code_competition=True,  # the submission is a notebook run offline on Kaggle: `kit kernel --push`
    rows=Rows(folds=fold_rows, tables=row_tables, n_folds="folds", smoke_n_folds=2),
)
