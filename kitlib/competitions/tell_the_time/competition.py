"""The "Tell the time" competition as the kit knows it: its submission rules, demo set and prediction tables."""
from __future__ import annotations

from ..spec import Competition, Predictions, SubmissionSpec
from .prediction_tables import predictions_to_submission, score_predictions, test_ids
from .render import write_demo

__all__ = ["COMPETITION"]

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
)
