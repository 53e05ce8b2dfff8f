"""From scores to ranked lists: top-k per user, the ranking metrics on a split, recommendations by id.

A model is anything with ``score(users) -> (len(users), n_items)`` scores, higher is better (the
baselines, :class:`~kitlib.tasks.recsys.fm.FMRecommender`)::

    top_k(model, users, k, exclude) -> codes      batched over users, seen items never recommended
    held_out_ranks(model, split) -> ranks         where each held-out item falls in the full ranking
    score_pairs(model, users, items) -> scores    the model's score of given (user, item) pairs
    evaluate(model, split, k) -> {hr_at_k, ndcg_at_k, map_at_k, mrr, coverage}
    recommend(model, data, k) -> DataFrame(userId, rank, attractionId)
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from ...errors import DataError, ParameterError
from ...metrics.ranking import (
    catalogue_coverage,
    hit_rate_at_k,
    mean_average_precision_at_k,
    mean_reciprocal_rank,
    ndcg_at_k,
)
from .baselines import PopularityRecommender
from .interactions import SHOW, Interactions, Split

UNKNOWN_USERS = ("error", "popular", "skip")


def top_k(model, users: np.ndarray, k: int = 10, exclude: sparse.csr_matrix | None = None,
          batch_size: int = 2048) -> np.ndarray:
    """The ``k`` best item codes per user, best first: ``(len(users), k)`` int64.

    Scores come from ``model.score(users_batch)`` for batches of ``batch_size`` users (no Python loop
    per user); items with a nonzero in ``exclude`` (users x items, e.g. the training matrix) are never
    returned. Equal scores rank the lower item code first. Raises ``DataError`` when a user has fewer
    than ``k`` items left after exclusion.
    """
    users = np.asarray(users, dtype=np.int64)
    out = np.empty((len(users), k), dtype=np.int64)
    for start in range(0, len(users), batch_size):
        batch = users[start:start + batch_size]
        scores = np.array(model.score(batch), dtype=np.float32)
        n_items = scores.shape[1]
        if k > n_items:
            raise DataError(f"k={k} is larger than the catalogue of {n_items} items")
        if exclude is not None:
            seen = exclude[batch]
            counts = np.diff(seen.indptr)
            short = n_items - counts < k
            if short.any():
                u = int(batch[short.argmax()])
                raise DataError(f"user code {u} has interacted with {int(counts[short.argmax()])} of {n_items} "
                                f"items; fewer than k={k} are left to recommend")
            scores[np.repeat(np.arange(len(batch)), counts), seen.indices] = -np.inf
        # every item scoring at least the k-th best, sorted by score then item code (ties broken by code)
        kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1:k]
        rows, cols = np.nonzero(scores >= kth)
        key = np.lexsort((cols, -scores[rows, cols], rows))
        rows, cols = rows[key], cols[key]
        first = np.searchsorted(rows, np.arange(len(batch)))
        take = first[:, None] + np.arange(k)[None, :]
        out[start:start + len(batch)] = cols[take]
    return out


def held_out_ranks(model, split: Split, batch_size: int = 2048) -> np.ndarray:
    """The rank (1 = first) of each ``split.val_items[i]`` in ``split.val_users[i]``'s full ranking of the
    items that user has not interacted with in ``split.train``: int64, one per validation user.

    The ranking is the one :func:`top_k` returns, not cut at k (equal scores rank the lower item code
    first; scores are taken in the same batches), so ``rank <= k`` exactly when the item is in the
    user's top-k list and NDCG@k is the mean of ``1 / log2(rank + 1)`` over ranks ``<= k``.
    """
    exclude = split.train.user_item_matrix()
    users, items = split.val_users, split.val_items
    out = np.empty(len(users), dtype=np.int64)
    for start in range(0, len(users), batch_size):
        batch, truth = users[start:start + batch_size], items[start:start + batch_size]
        scores = np.array(model.score(batch), dtype=np.float32)
        candidate = exclude[batch].toarray() == 0
        own = scores[np.arange(len(batch)), truth][:, None]
        codes = np.arange(scores.shape[1])[None, :]
        ahead = candidate & ((scores > own) | ((scores == own) & (codes < truth[:, None])))
        out[start:start + len(batch)] = 1 + ahead.sum(axis=1)
    return out


def score_pairs(model, users: np.ndarray, items: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    """``model``'s score (float32, as :func:`top_k` ranks by) of each pair ``(users[i], items[i])`` (codes):
    float64, one per pair; ``model.score`` is called once per batch of ``batch_size`` distinct users."""
    users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
    distinct, row = np.unique(users, return_inverse=True)
    out = np.empty(len(users), dtype=np.float64)
    for start in range(0, len(distinct), batch_size):
        scores = np.array(model.score(distinct[start:start + batch_size]), dtype=np.float32)
        mine = (row >= start) & (row < start + len(scores))
        out[mine] = scores[row[mine] - start, items[mine]]
    return out


def evaluate(model, split: Split, k: int = 10) -> dict[str, float]:
    """Ranking metrics of ``model`` on ``split``'s held-out items, the user's training items excluded.

    Returns ``{"hr_at_{k}", "ndcg_at_{k}", "map_at_{k}", "mrr", "coverage"}`` (MRR within the top k;
    coverage: share of the catalogue recommended to anyone). Raises ``DataError`` when the catalogue
    is not larger than ``k`` (every list would hold every candidate: a perfect HR@k on any model).
    """
    n_items = split.train.n_items
    if n_items <= k:
        raise DataError(f"the catalogue has {n_items} attractions, not more than k={k}: every list would hold "
                        f"every candidate and HR@{k} would be 1.0 for any model")
    recs = top_k(model, split.val_users, k, exclude=split.train.user_item_matrix())
    truth = split.val_items
    return {f"hr_at_{k}": hit_rate_at_k(truth, recs, k), f"ndcg_at_{k}": ndcg_at_k(truth, recs, k),
            f"map_at_{k}": mean_average_precision_at_k(truth, recs, k),
            "mrr": mean_reciprocal_rank(truth, recs, k), "coverage": catalogue_coverage(recs, n_items)}


def recommend(model, data: Interactions, k: int = 10, user_ids: Sequence | None = None,
              unknown: str = "error") -> pd.DataFrame:
    """Top-``k`` recommendations as ``DataFrame(userId, rank, attractionId)``, ``k`` rows per user.

    ``model`` was fitted on ``data`` (same id mapping); items a user interacted with in ``data`` are
    never recommended. ``user_ids`` default to every user in ``data``, in id order. A user id not in
    ``data``: ``unknown="error"`` raises ``DataError``, ``"popular"`` gives the most popular items,
    ``"skip"`` leaves the user out. Raises ``ParameterError`` for another ``unknown``.
    """
    if unknown not in UNKNOWN_USERS:
        raise ParameterError(f"Unknown unknown={unknown!r}; expected one of {list(UNKNOWN_USERS)}")
    ids = data.user_ids if user_ids is None else np.asarray(list(user_ids), dtype=object)
    codes = pd.Index(data.user_ids).get_indexer(pd.Index(ids)).astype(np.int64)
    missing = codes < 0
    if missing.any() and unknown == "error":
        raise DataError(f"{int(missing.sum())} userId(s) have no interactions in the data the model was fitted "
                        f"on, e.g. {ids[missing][:SHOW].tolist()}; pass unknown='popular' to give them the most "
                        "popular attractions or unknown='skip' to leave them out")
    if unknown == "skip":
        ids, codes, missing = ids[~missing], codes[~missing], missing[~missing]
    recs = np.empty((len(ids), k), dtype=np.int64)
    if (~missing).any():
        recs[~missing] = top_k(model, codes[~missing], k, exclude=data.user_item_matrix())
    if missing.any():
        recs[missing] = top_k(PopularityRecommender().fit(data), np.zeros(1, np.int64), k)[0]
    return pd.DataFrame({"userId": np.repeat(ids, k), "rank": np.tile(np.arange(1, k + 1), len(ids)),
                         "attractionId": data.item_ids[recs.ravel()]})
