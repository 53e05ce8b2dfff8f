"""The LLM Science Exam as the kit knows it: a Kaggle code competition, its submission rule, demo set and
prediction tables."""
from __future__ import annotations

from ..spec import Competition, Predictions, SubmissionSpec
from .answers import check_submission, predictions_to_submission, score_predictions
from .questions import NAME, write_demo

__all__ = ["COMPETITION"]

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
)
