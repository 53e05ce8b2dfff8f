"""SOMD 2025 as the kit knows it: the shared task's submission rule and packing, the demo set and the
prediction tables a blend reads."""
from __future__ import annotations

from ..spec import Competition, Predictions, SubmissionSpec
from .demo import write_demo
from .prediction_tables import predictions_to_submission, score_predictions
from .submission import SUBMISSION, check_submission, pack_predictions

__all__ = ["COMPETITION"]

COMPETITION = Competition(
    name="somd-ner",
    title="SOMD 2025 software mentions and their relations (entity F1 and relation F1, SOMD score)",
    platform="local",
    slug="somd-2025",
    metric="val_somd_score",
    mode="max",
    submission=SubmissionSpec(file_name=SUBMISSION, check=check_submission, pack=pack_predictions),
    demo=write_demo,
    predictions=Predictions(key=("sentence", "token"), target="label", score=score_predictions,
                            to_submission=predictions_to_submission),
)
