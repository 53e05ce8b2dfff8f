"""Ranking metrics: MAP@k as Kaggle scores LLM Science Exam (and recommender metrics)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["map_at_k"]


def map_at_k(y_true: Sequence, predictions: Iterable[Sequence], k: int = 3) -> float:
    """Mean average precision at ``k`` with one correct answer per question (Kaggle's MAP@3).

    ``predictions[i]`` is a ranked sequence of labels (or a space-separated string such as ``"D A C"``),
    truncated to its first ``k`` entries. The first correct entry, at rank r (1-based), scores 1/r; later
    repeats of the correct label are skipped, as Kaggle's evaluation says; each question is scored once.
    Raises ``ValueError`` when the lengths differ or there is nothing to score.
    """
    truths = list(y_true)
    preds = [p.split() if isinstance(p, str) else list(p) for p in predictions]
    if len(truths) != len(preds):
        raise ValueError(f"{len(truths)} answers but {len(preds)} predictions")
    if not truths:
        raise ValueError("cannot score an empty prediction")
    total = 0.0
    for truth, ranked in zip(truths, preds):
        for rank, label in enumerate(ranked[:k], start=1):
            if label == truth:
                total += 1.0 / rank
                break
    return total / len(truths)


# ------------------------------------------------------------------------------ recommender metrics
# Each takes ``relevant`` (per user: one relevant item, or a collection of them) and ``recommended``
# (per user: a ranked sequence of items, best first; a 2-d array works). Items are compared with ``==``
