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
# (per user: a ranked sequence of items, best first; a 2-d array works). Items are compared by value
# (codes or names). Lists are cut to their first ``k`` entries; an item repeated within them counts
# once, at its first rank.
__all__ += ["hit_rate_at_k", "ndcg_at_k", "mean_average_precision_at_k", "mean_reciprocal_rank",
            "catalogue_coverage"]


def _relevant_set(relevant) -> frozenset:
    if isinstance(relevant, (str, bytes)) or not isinstance(relevant, Iterable):
        return frozenset([relevant])
    return frozenset(relevant.tolist() if hasattr(relevant, "tolist") else relevant)


def _hit_ranks(relevant: Iterable, recommended: Iterable[Sequence], k: int | None) -> list[tuple[int, list[int]]]:
    """Per user: ``(number of relevant items, 1-based ranks within the first k where a relevant item
    appears for the first time)``. Checks lengths, emptiness and ``k``."""
    if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1):
        raise ValueError(f"k must be a positive integer; got {k!r}")
    truths = list(relevant)
    lists = [r.tolist() if hasattr(r, "tolist") else list(r) for r in recommended]
    if len(truths) != len(lists):
        raise ValueError(f"{len(truths)} users with relevant items but {len(lists)} recommendation lists")
    if not truths:
        raise ValueError("cannot score an empty set of users")
    out = []
    for user, (truth, ranked) in enumerate(zip(truths, lists)):
        rel = _relevant_set(truth)
        if not rel:
            raise ValueError(f"user {user} has no relevant item; every user needs at least one")
        found: set = set()
        ranks = []
        for rank, item in enumerate(ranked[:k] if k is not None else ranked, start=1):
            if item in rel and item not in found:
                found.add(item)
                ranks.append(rank)
        out.append((len(rel), ranks))
    return out


def hit_rate_at_k(relevant: Iterable, recommended: Iterable[Sequence], k: int = 10) -> float:
    """HR@k: share of users with at least one relevant item among their first ``k`` recommendations.

    Raises ``ValueError`` on mismatched lengths, no users, a user without relevant items, or k < 1.
    """
    return float(np.mean([bool(ranks) for _, ranks in _hit_ranks(relevant, recommended, k)]))


def ndcg_at_k(relevant: Iterable, recommended: Iterable[Sequence], k: int = 10) -> float:
    """NDCG@k with binary relevance, averaged over users.

    DCG = sum over relevant items at rank r <= k of 1 / log2(r + 1); it is divided by the ideal DCG, that
    of min(#relevant, k) relevant items at ranks 1, 2, ... One relevant item at rank r scores 1/log2(r+1).
    Raises ``ValueError`` as :func:`hit_rate_at_k`.
    """
    scores = []
    for n_rel, ranks in _hit_ranks(relevant, recommended, k):
        dcg = sum(1.0 / np.log2(r + 1) for r in ranks)
        ideal = sum(1.0 / np.log2(r + 1) for r in range(1, min(n_rel, k) + 1))
        scores.append(dcg / ideal)
    return float(np.mean(scores))


def mean_average_precision_at_k(relevant: Iterable, recommended: Iterable[Sequence], k: int = 10) -> float:
    """MAP@k: per user, the sum of precision@r at each rank r <= k holding a relevant item, divided by
    min(#relevant, k); averaged over users. With one relevant item per user it is 1/rank of the hit (0
    without one) and equals :func:`map_at_k`. Raises ``ValueError`` as :func:`hit_rate_at_k`.
    """
    scores = []
    for n_rel, ranks in _hit_ranks(relevant, recommended, k):
        scores.append(sum(hits / r for hits, r in enumerate(ranks, start=1)) / min(n_rel, k))
    return float(np.mean(scores))


def mean_reciprocal_rank(relevant: Iterable, recommended: Iterable[Sequence], k: int | None = None) -> float:
    """MRR: mean over users of 1 / (rank of the first relevant item), 0 when none is in the list (or in its
    first ``k`` entries when ``k`` is given). Raises ``ValueError`` as :func:`hit_rate_at_k`.
    """
    return float(np.mean([1.0 / ranks[0] if ranks else 0.0 for _, ranks in _hit_ranks(relevant, recommended, k)]))


def catalogue_coverage(recommended: Iterable[Sequence], catalogue_size: int, k: int | None = None) -> float:
    """Share of the catalogue's ``catalogue_size`` items that appear in at least one recommendation list
    (its first ``k`` entries when ``k`` is given). Raises ``ValueError`` when ``catalogue_size`` < 1 or the
    lists name more distinct items than the catalogue holds.
    """
    if catalogue_size < 1:
        raise ValueError(f"catalogue_size must be >= 1; got {catalogue_size}")
    shown: set = set()
    for ranked in recommended:
        items = ranked.tolist() if hasattr(ranked, "tolist") else list(ranked)
        shown.update(items[:k] if k is not None else items)
    if len(shown) > catalogue_size:
        raise ValueError(f"the lists name {len(shown)} distinct items but the catalogue holds {catalogue_size}")
    return len(shown) / catalogue_size
