"""The competitions the kit carries: where their notebook is, how they are scored and what a valid
submission looks like. ``kit run``, ``kit submit`` and ``kit runs`` read this table; nothing here
imports a heavy framework.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import ParameterError

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class SubmissionSpec:
    """What a submission must look like.

    ``columns`` in order; ``key`` columns must equal the sample submission's, row by row; ``allowed``
    maps a column to its allowed values; ``check`` is an optional ``"module:function"`` called as
    ``check(path, data_dir)`` for rules a table cannot express (it raises ``SubmissionError``).
    A spec with ``columns=()`` is not a CSV and is validated by ``check`` alone.
    """

    file_name: str
    columns: tuple[str, ...] = ()
    key: tuple[str, ...] = ()
    allowed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sample: str | None = None
    check: str | None = None
    pack: str | None = None  # "module:function" called as pack(path) -> Path after validation: the upload format


@dataclass(frozen=True)
class Competition:
    """One competition: its platform and slug for uploads, its notebook, its primary metric."""

    name: str
    title: str
    platform: str  # "aicrowd" | "kaggle" | "local" (no upload)
    slug: str
    notebook: str
    metric: str  # key recorded by the notebook with kitlib.run.record(metrics=...)
    mode: str  # "max" or "min": which way the metric is better
    submission: SubmissionSpec
    demo: str | None = None  # "module:function" writing the demo data: fn(out_dir, seed=0)

    @property
    def notebook_path(self) -> Path:
        return ROOT / self.notebook

    @property
    def demo_dir(self) -> Path:
        return ROOT / "data" / "demo" / self.name


COMPETITIONS: dict[str, Competition] = {
    c.name: c
    for c in [
        Competition(
            name="sentiment-classification",
            title='AIcrowd "Sentiment Classification" (face embeddings -> 3 classes, weighted F1)',
            platform="aicrowd",
            slug="sentiment-classification",
            notebook="notebooks/sentiment-classification.ipynb",
            metric="val_weighted_f1",
            mode="max",
            submission=SubmissionSpec(
                file_name="submission.csv",
                columns=("embeddings", "label"),
                key=("embeddings",),
                allowed={"label": ("negative", "neutral", "positive")},
                sample="sample_submission.csv",
            ),
            demo="kitlib.tasks.sentiment:write_demo",
        ),
        Competition(
            name="llm-science-exam",
            title='Kaggle "LLM Science Exam" (5-option science questions, MAP@3)',
            platform="kaggle",
            slug="kaggle-llm-science-exam",
            notebook="notebooks/llm-science-exam.ipynb",
            metric="val_map_at_3",
            mode="max",
            submission=SubmissionSpec(
                file_name="submission.csv",
                columns=("id", "prediction"),
                key=("id",),
                sample="sample_submission.csv",
                check="kitlib.tasks.science_exam:check_submission",
            ),
            demo="kitlib.tasks.science_exam:write_demo",
        ),
        Competition(
            name="somd-ner",
            title="SOMD 2025 software mention detection (BIO token classification, entity F1)",
            platform="local",
            slug="somd-2025",
            notebook="notebooks/somd-ner.ipynb",
            metric="val_entity_f1",
            mode="max",
            submission=SubmissionSpec(file_name="predictions.txt", check="kitlib.tasks.somd:check_predictions",
                                      pack="kitlib.tasks.somd:pack_predictions"),
            demo="kitlib.tasks.somd:write_demo",
        ),
        Competition(
            name="image-classification",
            title="MNIST-family image classification with Keras (accuracy)",
            platform="local",
            slug="image-classification",
            notebook="notebooks/image-classification.ipynb",
            metric="test_accuracy",
            mode="max",
            submission=SubmissionSpec(file_name="submission.csv", columns=("id", "label")),
        ),
        Competition(
            name="tell-the-time",
            title='"Tell the time" from analog clock images (common-sense error in minutes)',
            platform="local",
            slug="tell-the-time",
            notebook="notebooks/tell-the-time.ipynb",
            metric="val_cse_mean",
            mode="min",
            submission=SubmissionSpec(file_name="submission.csv", columns=("id", "hour", "minute")),
            demo="kitlib.tasks.clocks:write_demo",
        ),
        Competition(
            name="recommender",
            title="Attraction recommender (factorization machines, ranking metrics)",
            platform="local",
            slug="recommender",
            notebook="notebooks/recommender.ipynb",
            metric="val_ndcg_at_10",
            mode="max",
            submission=SubmissionSpec(
                file_name="recommendations.csv",
                columns=("userId", "rank", "attractionId"),
                check="kitlib.tasks.recommender:check_recommendations",
            ),
            demo="kitlib.tasks.recommender:write_demo",
        ),
    ]
}


def get_competition(name: str) -> Competition:
    """Return the competition called ``name``; raise ``ParameterError`` listing the known ones."""
    try:
        return COMPETITIONS[name]
    except KeyError:
        raise ParameterError(f"Unknown competition {name!r}; expected one of {sorted(COMPETITIONS)}") from None
