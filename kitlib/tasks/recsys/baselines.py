"""The baselines every recommender is measured against: popularity and item-based k-nearest neighbours.

Both follow the recommender contract of :mod:`kitlib.tasks.recsys.ranking`: ``fit(train: Interactions)``
returns the model, ``score(users) -> (len(users), n_items)`` float32, higher is better.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse

from ...errors import ParameterError
from .interactions import Interactions


class PopularityRecommender:
    """Ranks items by how many distinct users interacted with them (the same list for everyone)."""

    def fit(self, train: Interactions) -> PopularityRecommender:
        """Count users per item into ``popularity_`` (float32, one per catalogue item)."""
        matrix = train.user_item_matrix()
        self.popularity_ = np.asarray(matrix.sum(axis=0), dtype=np.float32).ravel()
        return self

    def score(self, users: np.ndarray) -> np.ndarray:
        """``(len(users), n_items)`` float32 scores, higher is better."""
        return np.broadcast_to(self.popularity_, (len(users), len(self.popularity_))).copy()


class ItemKNNRecommender:
    """Item-based k-nearest neighbours: cosine similarity between item columns of the binary user-item
    matrix (scipy sparse), each item keeping its ``neighbours`` most similar items.

    A user's score for item j is the sum of j's similarities to the items in the user's history; a
    popularity term of at most 1e-6 breaks ties (as for users whose history has no neighbour of j).
    Similarities are computed in blocks of ``block_size`` items to bound memory.
    """

    def __init__(self, neighbours: int = 100, block_size: int = 1024):
        self.neighbours = neighbours
        self.block_size = block_size

    def fit(self, train: Interactions) -> ItemKNNRecommender:
        """Learn ``similarity_`` (``n_items x n_items`` CSR: entry (i, j) is the cosine of items i and j when
        i is among j's ``neighbours`` most similar items), ``user_items_`` and ``popularity_``. Raises
        ``ParameterError`` for neighbours < 1."""
        if self.neighbours < 1:
            raise ParameterError(f"neighbours must be >= 1; got {self.neighbours}")
        matrix = train.user_item_matrix()
        n_items = matrix.shape[1]
        counts = np.asarray(matrix.sum(axis=0)).ravel()
        inv = np.divide(1.0, np.sqrt(counts), out=np.zeros_like(counts, dtype=np.float64), where=counts > 0)
        normed = (matrix @ sparse.diags(inv.astype(np.float32))).tocsc()
        by_item = normed.T.tocsr()
        keep = min(self.neighbours, n_items - 1)
        rows, cols, vals = [], [], []
        for start in range(0, n_items, self.block_size):
            stop = min(start + self.block_size, n_items)
            block = (by_item[start:stop] @ normed).toarray()  # (items in block) x n_items cosine
            block[np.arange(stop - start), np.arange(start, stop)] = 0.0
            if keep < 1:
                continue
            top = np.argpartition(-block, keep - 1, axis=1)[:, :keep]
            top_vals = np.take_along_axis(block, top, axis=1)
            nz = top_vals > 0
            rows.append(np.repeat(np.arange(start, stop), keep)[nz.ravel()])
            cols.append(top[nz])
            vals.append(top_vals[nz])
        # entry (j, i): j's similarity to its neighbour i; transposed so that row i scores the items j
        # for which i is a neighbour, and history @ similarity_ sums over the history items i.
        neighbour_of = sparse.csr_matrix(
            (np.concatenate(vals) if vals else np.zeros(0, np.float32),
             (np.concatenate(rows) if rows else np.zeros(0, int), np.concatenate(cols) if cols else np.zeros(0, int))),
            shape=(n_items, n_items), dtype=np.float32)
        self.similarity_ = neighbour_of.T.tocsr()
        self.user_items_ = matrix
        self.popularity_ = (counts / max(counts.max(), 1) * 1e-6).astype(np.float32)
        return self

    def score(self, users: np.ndarray) -> np.ndarray:
        """``(len(users), n_items)`` float32 scores, higher is better."""
        scores = (self.user_items_[users] @ self.similarity_).toarray().astype(np.float32)
        return scores + self.popularity_
