"""Negative sampling for implicit feedback: items a user never interacted with, drawn fast and exactly.

    PositiveLookup(matrix).contains(users, items)    vectorised membership of (user, item) pairs
    sample_negatives(users, n, positives, rng)       n non-positive items per user, collisions redrawn
    SampledBatches(...)                              torch training batches, fresh negatives each epoch
"""
from __future__ import annotations

import math

import numpy as np
from scipy import sparse

from ...errors import DataError

BITSET_MAX_BITS = 1 << 33  # up to 1 GB of bits: a direct lookup; larger user x item grids use binary search


class PositiveLookup:
    """Membership test for (user, item) pairs of a binary user-item matrix, vectorised.

    A bitset over the user x item grid when it has at most ``BITSET_MAX_BITS`` cells (one random read per
    query), else a sorted array of pair keys searched with ``np.searchsorted``.
    """

    def __init__(self, positives: sparse.csr_matrix):
        positives = sparse.csr_matrix(positives)
        self.n_items = positives.shape[1]
        self.degree = np.diff(positives.indptr)
        keys = np.repeat(np.arange(positives.shape[0], dtype=np.int64), self.degree) * self.n_items
        keys += positives.indices
        cells = positives.shape[0] * self.n_items
        if cells <= BITSET_MAX_BITS:
            self.bits = np.zeros((cells + 7) // 8, dtype=np.uint8)
            np.bitwise_or.at(self.bits, keys >> 3, np.left_shift(1, keys & 7).astype(np.uint8))
            self.keys = None
        else:
            self.bits, self.keys = None, np.unique(keys)

    def contains(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Boolean array (broadcast shape of ``users`` and ``items``): is the pair a positive?"""
        query = np.asarray(users, dtype=np.int64) * self.n_items + np.asarray(items, dtype=np.int64)
        if self.bits is not None:
            return ((self.bits[query >> 3] >> (query & 7).astype(np.uint8)) & 1).astype(bool)
        if not len(self.keys):
            return np.zeros(query.shape, dtype=bool)
        pos = np.minimum(np.searchsorted(self.keys, query), len(self.keys) - 1)
        return self.keys[pos] == query


def sample_negatives(users: np.ndarray, n: int, positives: sparse.csr_matrix | PositiveLookup,
                     rng: np.random.Generator, max_rounds: int = 100) -> np.ndarray:
    """``n`` items per entry of ``users``, uniform over the items that user has no interaction with.

    ``positives`` is the binary user-item matrix (:meth:`Interactions.user_item_matrix`) or a
    :class:`PositiveLookup` built from it once (cheaper when sampling every epoch). Draws uniformly and
    redraws the collisions, vectorised; a sampled item is never a positive of its user. Returns an int64
    array ``(len(users), n)``. Raises ``DataError`` when a user has interacted with every item.
    """
    lookup = positives if isinstance(positives, PositiveLookup) else PositiveLookup(positives)
    n_items = lookup.n_items
    users = np.asarray(users, dtype=np.int64)
    full = lookup.degree[users] >= n_items
    if full.any():
        raise DataError(f"user code {int(users[full.argmax()])} has interacted with all {n_items} items; "
                        "there is no negative to sample")
    out = rng.integers(0, n_items, size=(len(users), n), dtype=np.int64)
    bad = lookup.contains(users[:, None], out)
    for _ in range(max_rounds):
        if not bad.any():
            return out
        rows, cols = np.nonzero(bad)
        out[rows, cols] = rng.integers(0, n_items, size=len(rows), dtype=np.int64)
        bad[rows, cols] = lookup.contains(users[rows], out[rows, cols])
    for r, c in zip(*np.nonzero(bad)):  # users who have seen almost every item: draw from what is left
        row = np.arange(n_items)
        out[r, c] = rng.choice(row[~lookup.contains(np.full(n_items, users[r]), row)])
    return out


class SampledBatches:
    """Training batches ``(context, numeric, items, target)`` for :func:`kitlib.train.fit`; every pass
    (epoch) draws fresh negatives and a fresh order from ``(seed, epoch)``. ``items[:, 0]`` is the
    observed item, ``items[:, 1:]`` sampled items the user never interacted with.

    ``users``, ``context`` (codes), ``numeric``, ``items`` and ``target`` have one row per observed
    interaction; ``positives`` is the binary user-item matrix the negatives avoid; ``n_negatives=0``
    gives the observed items alone. torch is imported on construction.
    """

    def __init__(self, users, context, numeric, items, target, positives, n_negatives, batch_size, seed):
        import torch

        self.users, self.positives = users, PositiveLookup(positives)
        self.context, self.numeric = torch.as_tensor(context), torch.as_tensor(numeric)
        self.items, self.target = torch.as_tensor(items)[:, None], torch.as_tensor(target)
        self.n_negatives, self.batch_size, self.seed, self.epoch = n_negatives, batch_size, seed, 0

    def __len__(self) -> int:
        return math.ceil(len(self.users) / self.batch_size)

    def __iter__(self):
        import torch

        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        items = self.items
        if self.n_negatives:
            negatives = sample_negatives(self.users, self.n_negatives, self.positives, rng)
            items = torch.cat([items, torch.from_numpy(negatives)], dim=1)
        order = torch.from_numpy(rng.permutation(len(self.users)))
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            yield self.context[idx], self.numeric[idx], items[idx], self.target[idx]
