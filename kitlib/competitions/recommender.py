"""Attraction recommender: interactions in, ranked top-k attractions per user out, measured honestly.

The data is the tourism reference's ``synthetic_user_interactions.csv``: ``userId`` (uuid),
``attractionId`` (a name), ``interactionType`` (view/click/like/book) and ``timestamp``.

Flow::

    read_interactions(path) -> DataFrame          checked: columns, empty ids, timestamps (with lines)
    IdEncoder().fit(df).transform(df) -> Interactions   integer codes; the id mapping stays on it
    split_interactions(data, "last") -> Split     each user's latest attraction held out, with all of its
                                                  interactions (no leak into training or the filter)
    PopularityRecommender / ItemKNNRecommender / FMRecommender .fit(train) .score(users)
    top_k(model, users, k, exclude) -> codes      batched over users, seen items never recommended
    evaluate(model, split, k) -> {hr_at_k, ndcg_at_k, map_at_k, mrr, coverage}
    recommend(model, data, k) -> DataFrame(userId, rank, attractionId)
    check_recommendations(path, data_dir)         the submission check ``kit submit`` calls

The factorization machine (torch, imported lazily) is trained with :func:`kitlib.train.fit` on implicit
feedback: every interaction is a positive, paired with ``n_negatives`` attractions the user never touched
(``objective="ranking"``, BPR or sampled BCE), or the reference's set-up, ``objective="pointwise"``:
"is this interaction a ``target``?" (with sampled non-interactions as extra negatives). A pointwise
target with one class in the data is refused (:func:`require_two_classes`): the reference scored its
all-"view" target with "RMSE 0.0".
"""
from __future__ import annotations

import contextlib
import functools
import io
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from ..errors import DataError, ParameterError, SubmissionError
from .spec import Competition, SubmissionSpec
from ..metrics.ranking import (catalogue_coverage, hit_rate_at_k, mean_average_precision_at_k,
                               mean_reciprocal_rank, ndcg_at_k)

FILE_NAME = "synthetic_user_interactions.csv"
COLUMNS = ("userId", "attractionId", "interactionType", "timestamp")
INTERACTION_TYPES = ("view", "click", "like", "book")  # the reference's, in funnel order
SPLITS = ("last", "random")
OBJECTIVES = ("ranking", "pointwise")
LOSSES = ("bpr", "bce")
SIDE_FEATURES = ("type", "dow", "hour", "counts", "recency")
UNKNOWN_IDS = ("error", "drop")
UNKNOWN_USERS = ("error", "popular", "skip")
SHOW = 5  # offending lines named in an error


def _lines(mask: np.ndarray, first_line: int = 2) -> str:
    """'lines 3, 9 (and 4 more)' for the True rows of ``mask``; the header is line 1."""
    rows = np.flatnonzero(mask)
    shown = ", ".join(str(int(r) + first_line) for r in rows[:SHOW])
    more = len(rows) - SHOW
    return f"line{'s' if len(rows) > 1 else ''} {shown}" + (f" (and {more} more)" if more > 0 else "")


# ----------------------------------------------------------------------------------------- reading
def interactions_file(data_dir: str | Path) -> Path:
    """The interactions CSV in ``data_dir``: ``synthetic_user_interactions.csv``, else the only ``*.csv``.

    Raises ``DataError`` naming the folder and what it holds when there is no single candidate.
    """
    folder = Path(data_dir)
    if (folder / FILE_NAME).is_file():
        return folder / FILE_NAME
    csvs = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    if len(csvs) == 1:
        return csvs[0]
    held = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    raise DataError(f"{folder}: expected {FILE_NAME} (or a single .csv file) with columns {list(COLUMNS)}; "
                    f"the folder holds {held}")


def read_interactions(path: str | Path) -> pd.DataFrame:
    """Read and check an interactions CSV (a file, or a folder holding one, see :func:`interactions_file`).

    Returns a DataFrame with the columns of ``COLUMNS`` in that order (extra columns dropped): the ids
    and the interaction type as stripped strings, ``timestamp`` as ``datetime64`` (timezone-aware stamps
    converted to UTC). Row order is kept. Raises ``DataError`` naming the file, the column and the
    lines (the header is line 1) for a missing file, missing columns, empty cells or unparseable
    timestamps, and for a file without interactions.
    """
    path = Path(path)
    if path.is_dir():
        path = interactions_file(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; expected the interactions CSV with columns {list(COLUMNS)}")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty; expected a header {','.join(COLUMNS)}") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable CSV file: {exc}") from None
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}; expected {list(COLUMNS)}, "
                        f"found {list(frame.columns)}")
    if frame.empty:
        raise DataError(f"{path}: no interactions, only a header")
    frame = frame[list(COLUMNS)].apply(lambda col: col.str.strip())
    for column in COLUMNS:
        empty = (frame[column] == "").to_numpy()
        if empty.any():
            raise DataError(f"{path}: column {column!r} is empty on {_lines(empty)}")
    stamps = pd.to_datetime(frame["timestamp"], errors="coerce", format="ISO8601", utc=True)
    bad = stamps.isna().to_numpy()
    if bad.any():
        first = frame["timestamp"].iloc[int(bad.argmax())]
        raise DataError(f"{path}: column 'timestamp' holds {first!r} on {_lines(bad)}, which is not a date-time; "
                        "expected ISO 8601 such as 2024-03-01 14:22:10")
    frame["timestamp"] = stamps.dt.tz_localize(None).astype("datetime64[ns]")
    frame.attrs["source"] = str(path)
    return frame


def require_two_classes(values: Sequence | np.ndarray | pd.Series, column: str, source: str = "") -> None:
    """Raise ``DataError`` when ``values`` (a label or target column) holds a single class.

    A one-class target makes any metric on it meaningless: the constant prediction is "perfect". The
    message names the column and its only value.
    """
    classes = pd.unique(pd.Series(np.asarray(values)))
    if len(classes) < 2:
        where = f"{source}: " if source else ""
        value = classes[0].item() if len(classes) and isinstance(classes[0], np.generic) else None
        only = repr(value if value is not None else classes[0]) if len(classes) else "nothing (no rows)"
        raise DataError(f"{where}column {column!r} has a single class: every row is {only}. A model that "
                        "predicts it everywhere scores perfectly, so there is nothing to learn or measure; "
                        "use data with at least two classes (or objective='ranking' on implicit feedback)")


# ---------------------------------------------------------------------------------------- encoding
@dataclass(frozen=True)
class Interactions:
    """Interactions as integer codes, with the mapping back to the original ids.

    ``users``/``items``: int64 codes into ``user_ids``/``item_ids`` (the original ids, sorted);
    ``types``: int64 codes into ``type_names``; ``timestamps``: ``datetime64[ns]``. Every array has one
    entry per interaction. The catalogue is all of ``item_ids``, also items without interactions here.
    """

    users: np.ndarray
    items: np.ndarray
    types: np.ndarray
    timestamps: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray
    type_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.users)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def subset(self, mask: np.ndarray) -> Interactions:
        """The interactions where ``mask`` is true (same id mapping)."""
        return Interactions(self.users[mask], self.items[mask], self.types[mask], self.timestamps[mask],
                            self.user_ids, self.item_ids, self.type_names)

    def user_item_matrix(self) -> sparse.csr_matrix:
        """Binary ``n_users x n_items`` CSR matrix: 1 where the user interacted with the item (any type)."""
        ones = np.ones(len(self.users), dtype=np.float32)
        matrix = sparse.csr_matrix((ones, (self.users, self.items)), shape=(self.n_users, self.n_items))
        matrix.sum_duplicates()
        matrix.data[:] = 1.0
        return matrix

    def to_frame(self) -> pd.DataFrame:
        """Back to the original ids: a DataFrame with the columns of ``COLUMNS``."""
        return pd.DataFrame({"userId": self.user_ids[self.users], "attractionId": self.item_ids[self.items],
                             "interactionType": np.asarray(self.type_names, dtype=object)[self.types],
                             "timestamp": self.timestamps})


class IdEncoder:
    """Maps ``userId``/``attractionId``/``interactionType`` to integer codes and back.

    ``fit(frame)`` learns ``user_ids_``, ``item_ids_`` (sorted unique ids; code = position) and
    ``type_names_`` (the reference's types in funnel order, then any others sorted).
    """

    def fit(self, frame: pd.DataFrame) -> IdEncoder:
        """Learn the id mappings from a frame of :func:`read_interactions`. Returns ``self``."""
        self.user_ids_ = np.array(sorted(frame["userId"].unique()), dtype=object)
        self.item_ids_ = np.array(sorted(frame["attractionId"].unique()), dtype=object)
        seen = set(frame["interactionType"].unique())
        self.type_names_ = tuple(t for t in INTERACTION_TYPES if t in seen) + tuple(
            sorted(seen - set(INTERACTION_TYPES)))
        return self

    def _codes(self, values, known: np.ndarray) -> np.ndarray:
        return pd.Index(known).get_indexer(pd.Index(np.asarray(values, dtype=object))).astype(np.int64)

    def user_codes(self, user_ids: Sequence, unknown: str = "error") -> np.ndarray:
        """Codes of ``user_ids``; an id not seen in ``fit`` raises ``DataError`` (``unknown="error"``) or
        gets code -1 (``unknown="drop"``, for the caller to handle)."""
        return self._lookup(user_ids, self.user_ids_, "userId", unknown)

    def item_codes(self, item_ids: Sequence, unknown: str = "error") -> np.ndarray:
        """Codes of ``item_ids``, as :meth:`user_codes`."""
        return self._lookup(item_ids, self.item_ids_, "attractionId", unknown)

    def _lookup(self, values, known, column: str, unknown: str) -> np.ndarray:
        if unknown not in UNKNOWN_IDS:
            raise ParameterError(f"Unknown unknown={unknown!r}; expected one of {list(UNKNOWN_IDS)}")
        codes = self._codes(values, known)
        missing = codes < 0
        if missing.any() and unknown == "error":
            first = np.asarray(values, dtype=object)[missing][:SHOW].tolist()
            raise DataError(f"{int(missing.sum())} {column} value(s) not seen when the encoder was fitted, "
                            f"e.g. {first}; pass unknown='drop' to skip them")
        return codes

    def transform(self, frame: pd.DataFrame, unknown: str = "error") -> Interactions:
        """Encode a frame of :func:`read_interactions`.

        Rows with an id or type not seen in ``fit`` raise ``DataError`` naming the column and lines
        (``unknown="error"``) or are dropped (``unknown="drop"``).
        """
        if unknown not in UNKNOWN_IDS:
            raise ParameterError(f"Unknown unknown={unknown!r}; expected one of {list(UNKNOWN_IDS)}")
        users = self._codes(frame["userId"], self.user_ids_)
        items = self._codes(frame["attractionId"], self.item_ids_)
        types = self._codes(frame["interactionType"], np.array(self.type_names_, dtype=object))
        keep = np.ones(len(frame), dtype=bool)
        for column, codes in (("userId", users), ("attractionId", items), ("interactionType", types)):
            bad = codes < 0
            if bad.any() and unknown == "error":
                source = frame.attrs.get("source", "interactions")
                first = frame[column].to_numpy()[bad][0]
                raise DataError(f"{source}: column {column!r} holds {first!r} on {_lines(bad)}, not seen when "
                                "the encoder was fitted; pass unknown='drop' to skip such rows")
            keep &= ~bad
        return Interactions(users[keep], items[keep], types[keep],
                            frame["timestamp"].to_numpy(dtype="datetime64[ns]")[keep],
                            self.user_ids_, self.item_ids_, self.type_names_)

    def fit_transform(self, frame: pd.DataFrame) -> Interactions:
        """``fit(frame).transform(frame)``."""
        return self.fit(frame).transform(frame)


# ------------------------------------------------------------------------------------------ split
@dataclass(frozen=True)
class Split:
    """A validation split: ``train`` interactions and one held-out item per evaluated user.

    ``val_users[i]`` should rank ``val_items[i]`` high; ``held_out`` holds every interaction removed from
    training (all of each held-out user-item pair), so neither training nor the seen-item filter knows it.
    """

    train: Interactions
    val_users: np.ndarray
    val_items: np.ndarray
    held_out: Interactions

    @property
    def validation(self) -> tuple[np.ndarray, np.ndarray]:
        """``(val_users, val_items)``: what :meth:`FMRecommender.fit` takes as ``validation``."""
        return self.val_users, self.val_items


def split_interactions(data: Interactions, method: str = "last", seed: int = 0) -> Split:
    """Hold out one attraction per user for validation.

    ``method="last"``: the attraction of the user's latest interaction by timestamp (ties: the later
    row); ``"random"``: the attraction of one of the user's interactions drawn with ``seed``. Every
    interaction of that user with that attraction leaves training. Users with a single distinct
    attraction stay in training and are not evaluated. Raises ``ParameterError`` for an unknown method
    and ``DataError`` when no user has two distinct attractions.
    """
    if method not in SPLITS:
        raise ParameterError(f"Unknown split {method!r}; expected one of {list(SPLITS)}")
    n = len(data)
    tiebreak = (np.random.default_rng(seed).random(n) if method == "random"
                else data.timestamps.astype("int64"))
    order = np.lexsort((np.arange(n), tiebreak, data.users))
    sorted_users = data.users[order]
    last = order[np.r_[sorted_users[1:] != sorted_users[:-1], True]]  # one row per user with data
    pairs = np.unique(data.users * np.int64(data.n_items) + data.items)
    distinct = np.bincount(pairs // data.n_items, minlength=data.n_users)
    last = last[distinct[data.users[last]] >= 2]
    if len(last) == 0:
        raise DataError("no user has interacted with two different attractions; nothing to hold out")
    val_users, val_items = data.users[last], data.items[last]
    target = np.full(data.n_users, -1, dtype=np.int64)
    target[val_users] = val_items
    held = target[data.users] == data.items
    order = np.argsort(val_users, kind="stable")
    return Split(data.subset(~held), val_users[order], val_items[order], data.subset(held))


# ------------------------------------------------------------------------------ negative sampling
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


# ------------------------------------------------------------------------------------ recommenders
class PopularityRecommender:
    """Ranks attractions by how many distinct users interacted with them (the same list for everyone)."""

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


# --------------------------------------------------------------------------- factorization machine
@functools.cache
def _fm_module_class():
    """The torch module, built on first use so that importing this module does not import torch."""
    import torch
    from torch import nn

    class FactorizationMachine(nn.Module):
        """A second-order factorization machine split into a context side and an item side.

        Context fields (categorical codes into one table, plus numeric features) describe who and when:
        user, interaction type, day of week, hour, the user's count. Item fields: the item and its numeric
        features (popularity, recency), held in the ``item_features`` buffer. The score of context c and
        item i is the usual FM over all fields:
        ``w0 + lin(c) + lin(i) + pairs within c + pairs within i + <sum_c v, sum_i v>``,
        so scoring every item for a user is one matrix product.
        """

        def __init__(self, n_context: int, n_context_numeric: int, item_features: torch.Tensor, factors: int):
            super().__init__()
            n_items, n_item_numeric = item_features.shape
            self.bias = nn.Parameter(torch.zeros(()))
            self.context_embedding = nn.Embedding(n_context, factors)
            self.context_weight = nn.Embedding(n_context, 1)
            self.context_numeric = nn.Parameter(torch.zeros(n_context_numeric, factors))
            self.context_numeric_weight = nn.Parameter(torch.zeros(n_context_numeric))
            self.item_embedding = nn.Embedding(n_items, factors)
            self.item_weight = nn.Embedding(n_items, 1)
            self.item_numeric = nn.Parameter(torch.zeros(n_item_numeric, factors))
            self.item_numeric_weight = nn.Parameter(torch.zeros(n_item_numeric))
            self.register_buffer("item_features", item_features.float())
            for table in (self.context_embedding, self.item_embedding, self.context_numeric, self.item_numeric):
                nn.init.normal_((table.weight if isinstance(table, nn.Embedding) else table), std=0.01)
            nn.init.zeros_(self.context_weight.weight)
            nn.init.zeros_(self.item_weight.weight)

        def context_side(self, context: torch.Tensor, numeric: torch.Tensor):
            """``(sum of context vectors (B, d), linear + within-context pair terms (B,))``."""
            vectors = self.context_embedding(context)  # B, F, d
            total, squares = vectors.sum(1), (vectors * vectors).sum(1)
            linear = self.context_weight(context).sum((1, 2))
            if numeric.shape[1]:
                num = numeric[..., None] * self.context_numeric  # B, N, d
                total, squares = total + num.sum(1), squares + (num * num).sum(1)
                linear = linear + numeric @ self.context_numeric_weight
            return total, linear + 0.5 * (total * total - squares).sum(-1)

        def item_side(self):
            """``(sum of each item's vectors (n_items, d), its linear + within-item pair terms (n_items,))``."""
            feats = self.item_features
            total = self.item_embedding.weight + feats @ self.item_numeric
            squares = self.item_embedding.weight ** 2 + (feats * feats) @ (self.item_numeric ** 2)
            linear = self.item_weight.weight[:, 0] + feats @ self.item_numeric_weight
            return total, linear + 0.5 * (total * total - squares).sum(-1)

        def forward(self, context: torch.Tensor, numeric: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
            """Scores ``(B, m)`` of ``items`` ``(B, m)`` in each row's context ``(B, F)`` / ``(B, N)``."""
            ctx_total, ctx_terms = self.context_side(context, numeric)
            item_total, item_terms = self.item_side()
            # index_select rather than item_total[items]: its backward is a cheap index_add on CPU
            flat = items.reshape(-1)
            vectors = item_total.index_select(0, flat).view(*items.shape, -1)
            cross = (vectors * ctx_total[:, None, :]).sum(-1)
            return self.bias + ctx_terms[:, None] + item_terms.index_select(0, flat).view(items.shape) + cross

        def score_all(self, context: torch.Tensor, numeric: torch.Tensor) -> torch.Tensor:
            """Scores ``(B, n_items)`` of every item in each row's context."""
            ctx_total, ctx_terms = self.context_side(context, numeric)
            item_total, item_terms = self.item_side()
            return self.bias + ctx_terms[:, None] + item_terms[None, :] + ctx_total @ item_total.T

    return FactorizationMachine


def bpr_loss(scores, target):
    """BPR: ``-log sigmoid(positive - negative)`` averaged over the sampled negatives (``scores[:, 0]`` is
    the positive; ``target`` is unused, present for the training loop's contract)."""
    import torch.nn.functional as F

    return -F.logsigmoid(scores[:, :1] - scores[:, 1:]).mean()


def sampled_bce_loss(scores, target):
    """Binary cross-entropy on ``[observed item, sampled negatives...]``: the observed item's label is
    ``target`` (1 for implicit feedback, the pointwise label otherwise), the sampled items' is 0."""
    import torch
    import torch.nn.functional as F

    labels = torch.zeros_like(scores)
    labels[:, 0] = target
    return F.binary_cross_entropy_with_logits(scores, labels)


class _SampledBatches:
    """Training batches ``(context, numeric, items, target)`` for :func:`kitlib.train.fit`; every pass
    (epoch) draws fresh negatives and a fresh order from ``(seed, epoch)``. ``items[:, 0]`` is the
    observed item, ``items[:, 1:]`` sampled items the user never interacted with."""

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


SMALL_MODEL = 1_000_000  # parameters; below this an FM fits on one CPU thread unless told otherwise


@contextlib.contextmanager
def _torch_threads(threads: int | None):
    """Run the block with torch using ``threads`` CPU threads (``None``: unchanged), then restore."""
    import torch

    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if threads:
            torch.set_num_threads(before)


def _standardise(x: np.ndarray) -> np.ndarray:
    std = float(x.std())
    return ((x - x.mean()) / (std if std > 0 else 1.0)).astype(np.float32)


class FMRecommender:
    """A factorization machine over user, item, interaction type and side features, in torch.

    Fields: user, item; with ``features`` (any of ``SIDE_FEATURES``) also ``type`` (interaction type),
    ``dow`` and ``hour`` of the interaction, ``counts`` (the user's interaction count; the item's number
    of users) and ``recency`` (days since the item was last seen in training), numeric features on a
    log scale, standardised on the training data.

    ``objective="ranking"`` (default): every interaction is a positive against ``n_negatives`` sampled
    items the user never interacted with, with ``loss="bpr"`` or ``"bce"`` (sampled binary
    cross-entropy). ``objective="pointwise"``: the reference's set-up, "is this interaction a ``target``"
    (an interaction type, so ``type`` is not a feature), plus ``n_negatives`` sampled non-interactions
    labelled 0 (0 gives exactly the reference's classifier).

    At scoring time the context (type, day, hour) is that of the user's latest training interaction.
    ``threads``: CPU threads torch uses while fitting and scoring (restored afterwards); ``None`` picks one
    for models under ``SMALL_MODEL`` parameters, whose tensors are too small to gain from splitting (on a
    busy machine each split op waits for a descheduled thread), and leaves torch's setting otherwise.
    Trained by :func:`kitlib.train.fit`; with ``validation`` it reports ``val_ndcg_at_{k}`` and
    ``val_hr_at_{k}`` each epoch and keeps the best epoch's weights.
    """

    def __init__(self, factors: int = 32, *, objective: str = "ranking", loss: str = "bpr",
                 target: str | None = None, n_negatives: int = 4, features: Sequence[str] = SIDE_FEATURES,
                 epochs: int = 20, lr: float = 0.03, weight_decay: float = 0.1, batch_size: int = 256,
                 k: int = 10, device: str = "auto", threads: int | None = None, seed: int = 0,
                 progress: bool = False):
        self.factors = factors
        self.objective = objective
        self.loss = loss
        self.target = target
        self.n_negatives = n_negatives
        self.features = features
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.k = k
        self.device = device
        self.threads = threads
        self.seed = seed
        self.progress = progress

    # -- checks and features
    def _check_params(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ParameterError(f"Unknown objective {self.objective!r}; expected one of {list(OBJECTIVES)}")
        if self.loss not in LOSSES:
            raise ParameterError(f"Unknown loss {self.loss!r}; expected one of {list(LOSSES)}")
        unknown = [f for f in self.features if f not in SIDE_FEATURES]
        if unknown:
            raise ParameterError(f"Unknown feature(s) {unknown}; expected any of {list(SIDE_FEATURES)}")
        if self.n_negatives < (1 if self.objective == "ranking" else 0):
            raise ParameterError(f"n_negatives must be >= 1 for objective='ranking'; got {self.n_negatives}")
        if self.objective == "pointwise" and self.loss != "bce":
            raise ParameterError("objective='pointwise' trains with loss='bce'; BPR needs a ranking objective")
        if min(self.factors, self.epochs, self.batch_size, self.k) < 1:
            raise ParameterError("factors, epochs, batch_size and k must be >= 1")

    def _labels(self, train: Interactions) -> np.ndarray:
        if self.objective == "ranking":
            return np.ones(len(train), dtype=np.float32)
        names = list(train.type_names)
        present = np.asarray(names, dtype=object)[np.unique(train.types)]
        if self.target is None:
            raise ParameterError(f"objective='pointwise' needs target, one of the interaction types {names}")
        require_two_classes(present, "interactionType", source="training interactions")
        if self.target not in names:
            raise DataError(f"column 'interactionType' never holds the target {self.target!r}; "
                            f"its values are {names}")
        return (train.types == names.index(self.target)).astype(np.float32)

    def _context_fields(self) -> list[str]:
        fields = [f for f in ("type", "dow", "hour") if f in self.features]
        return [f for f in fields if not (f == "type" and self.objective == "pointwise")]

    def _build_features(self, train: Interactions):
        """Context codes for the training rows and for scoring each user; item numeric features."""
        n_users, n_items = train.n_users, train.n_items
        sizes = {"type": max(len(train.type_names), 1), "dow": 7, "hour": 24}
        stamps = pd.DatetimeIndex(train.timestamps)
        raw = {"type": train.types, "dow": stamps.day_of_week.to_numpy(), "hour": stamps.hour.to_numpy()}
        fields = self._context_fields()
        offset, row_codes = n_users, [train.users]
        for f in fields:
            row_codes.append(raw[f].astype(np.int64) + offset)
            offset += sizes[f]
        context = np.stack(row_codes, axis=1).astype(np.int64)
        # scoring context: each user's latest training interaction (the most common value for users without)
        order = np.lexsort((np.arange(len(train)), train.timestamps.astype("int64"), train.users))
        last = order[np.r_[train.users[order][1:] != train.users[order][:-1], True]] if len(train) else order
        user_context = np.zeros((n_users, 1 + len(fields)), dtype=np.int64)
        user_context[:, 0] = np.arange(n_users)
        for j, f in enumerate(fields, start=1):
            user_context[:, j] = np.bincount(context[:, j]).argmax()
            user_context[train.users[last], j] = context[last, j]
        counts_user = np.bincount(train.users, minlength=n_users).astype(np.float64)
        matrix = train.user_item_matrix()
        counts_item = np.asarray(matrix.sum(axis=0)).ravel().astype(np.float64)
        numeric_user, item_cols = [], []
        if "counts" in self.features:
            numeric_user.append(_standardise(np.log1p(counts_user)))
            item_cols.append(_standardise(np.log1p(counts_item)))
        if "recency" in self.features:
            secs = train.timestamps.astype("int64") / 1e9
            latest = np.full(n_items, np.nan)
            np.fmax.at(latest, train.items, secs)
            end = secs.max() if len(secs) else 0.0
            days = np.where(np.isnan(latest), (end - np.nanmin(latest, initial=end)) / 86400 + 1,
                            (end - latest) / 86400)
            item_cols.append(_standardise(np.log1p(np.maximum(days, 0))))
        user_numeric = (np.stack(numeric_user, 1) if numeric_user else np.zeros((n_users, 0))).astype(np.float32)
        item_numeric = (np.stack(item_cols, 1) if item_cols else np.zeros((n_items, 0))).astype(np.float32)
        return context, user_numeric, user_context, item_numeric, offset, matrix

    # -- fit / score
    def fit(self, train: Interactions, validation: tuple[np.ndarray, np.ndarray] | None = None,
            callbacks: Sequence = ()) -> FMRecommender:
        """Train on ``train``; with ``validation`` = ``(users, items)`` held-out pairs (see
        :attr:`Split.validation`) evaluate NDCG@k/HR@k after each epoch (seen items excluded) and keep
        the best epoch. ``callbacks`` go to :func:`kitlib.train.fit` (e.g. ``OptunaPruning(trial,
        "val_ndcg_at_10")``). Sets ``module_``, ``history_``, ``best_epoch_``, ``best_score_``,
        ``threads_``, ``user_context_``, ``user_numeric_``. Raises ``ParameterError`` for invalid
        settings and ``DataError`` for a pointwise target with a single class in the data.
        """
        import torch

        from ..runtime import resolve_device, seed_everything
        from ..train import fit as train_fit

        self._check_params()
        seed_everything(self.seed)  # the initial weights too come from the seed
        labels = self._labels(train)
        context, user_numeric, user_context, item_numeric, n_context, matrix = self._build_features(train)
        module = _fm_module_class()(n_context, user_numeric.shape[1], torch.from_numpy(item_numeric), self.factors)
        batches = _SampledBatches(train.users, context, user_numeric[train.users], train.items, labels, matrix,
                                  self.n_negatives, self.batch_size, self.seed)
        self.user_context_, self.user_numeric_ = user_context, user_numeric
        self.n_items_ = train.n_items
        self.device_ = resolve_device(self.device)
        evaluate_fn, monitor = None, None
        if validation is not None:
            val_users, val_items = (np.asarray(v) for v in validation)
            k = self.k

            def evaluate_fn(model) -> dict[str, float]:
                self.module_ = model
                recs = top_k(self, val_users, k, exclude=matrix)
                return {f"val_ndcg_at_{k}": ndcg_at_k(val_items, recs, k),
                        f"val_hr_at_{k}": hit_rate_at_k(val_items, recs, k)}

            monitor = f"val_ndcg_at_{k}"
        loss_fn = bpr_loss if (self.objective == "ranking" and self.loss == "bpr") else sampled_bce_loss
        n_params = sum(p.numel() for p in module.parameters())
        self.threads_ = self.threads or (1 if n_params < SMALL_MODEL else None)
        with _torch_threads(self.threads_):
            result = train_fit(module, batches, loss_fn=loss_fn, evaluate_fn=evaluate_fn, monitor=monitor,
                               mode="max" if monitor else None, epochs=self.epochs, lr=self.lr,
                               weight_decay=self.weight_decay, device=self.device, callbacks=callbacks,
                               progress=self.progress, seed=self.seed, desc="factorization machine")
        self.module_ = result.model
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        self.best_score_ = result.best_score
        return self

    def score(self, users: np.ndarray) -> np.ndarray:
        """``(len(users), n_items)`` float32 scores of every item for ``users`` (codes)."""
        import torch

        module = self.module_
        module.eval()
        users = np.asarray(users, dtype=np.int64)
        with torch.inference_mode(), _torch_threads(self.threads_):
            context = torch.from_numpy(self.user_context_[users]).to(self.device_)
            numeric = torch.from_numpy(self.user_numeric_[users]).to(self.device_)
            return module.score_all(context, numeric).float().cpu().numpy()


# ---------------------------------------------------------------------------- top-k and evaluation
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


# ---------------------------------------------------------------------------------- submission check
def check_recommendations(path: Path, data_dir: Path) -> None:
    """Check a ``recommendations.csv`` against the interactions in ``data_dir``.

    Columns ``userId,rank,attractionId``; every user of the data present; each user's ranks exactly
    1..k once (k = the largest rank in the file, the same for all users); no attraction twice for a
    user; only attractions of the data; never one the user already interacted with; no unknown user.
    Raises ``SubmissionError`` naming the first offending rows (rows numbered from 1, header excluded).
    """
    path = Path(path)
    name = path.name
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, FileNotFoundError) as exc:
        raise SubmissionError(f"{name}: not a readable CSV file: {exc}") from None
    expected = ["userId", "rank", "attractionId"]
    if list(frame.columns) != expected:
        raise SubmissionError(f"{name}: columns {list(frame.columns)}; expected {expected}")
    if frame.empty:
        raise SubmissionError(f"{name}: no recommendations")
    if data_dir is None:
        raise SubmissionError(f"cannot check {name}: pass the competition's data dir (the interactions)")
    try:
        data = read_interactions(Path(data_dir))
    except DataError as exc:
        raise SubmissionError(f"cannot check {name} against {data_dir}: {exc}") from None

    def fail(mask: np.ndarray, what: str) -> None:
        if mask.any():
            raise SubmissionError(f"{name}: {what} in {_lines(mask, first_line=1).replace('line', 'row')}")

    rank = pd.to_numeric(frame["rank"], errors="coerce")
    fail((rank.isna() | (rank != rank.round()) | (rank < 1)).to_numpy(), "rank is not a positive integer")
    rank = rank.astype(np.int64)
    k = int(rank.max())
    known_users = set(data["userId"])
    fail(~frame["userId"].isin(known_users).to_numpy(), "userId not in the interactions data")
    fail(~frame["attractionId"].isin(set(data["attractionId"])).to_numpy(), "attractionId not in the data")
    fail(frame.duplicated(["userId", "rank"], keep="first").to_numpy(), "a user's rank repeats")
    fail(frame.duplicated(["userId", "attractionId"], keep="first").to_numpy(),
         "an attraction is recommended twice to the same user")
    per_user = frame.groupby("userId", sort=False)["rank"].transform("size").to_numpy()
    fail(per_user != k, f"a user has {per_user[per_user != k][0] if (per_user != k).any() else k} rows, "
                        f"not k={k} (ranks 1..{k} once each)")
    absent = sorted(known_users - set(frame["userId"]))
    if absent:
        raise SubmissionError(f"{name}: {len(absent)} user(s) of the data have no recommendations, "
                              f"e.g. {absent[:SHOW]}")
    seen = set(zip(data["userId"], data["attractionId"]))
    fail(np.array([pair in seen for pair in zip(frame["userId"], frame["attractionId"])]),
         "an attraction the user already interacted with is recommended")


# ------------------------------------------------------------------------------------------- demo
_CATEGORIES = {  # theme: (kinds of attraction, name stems)
    "museums": ("Museum", "Gallery", "Archive", "Collection"),
    "beaches": ("Beach", "Cove", "Bay", "Lagoon"),
    "hiking": ("Trail", "Peak", "Ridge", "Gorge"),
    "food": ("Market", "Food Hall", "Bistro", "Winery"),
    "history": ("Castle", "Fort", "Abbey", "Ruins"),
    "nightlife": ("Jazz Club", "Rooftop Bar", "Night Market", "Theatre"),
    "family": ("Zoo", "Aquarium", "Theme Park", "Science Centre"),
    "gardens": ("Botanic Garden", "Park", "Rose Garden", "Arboretum"),
}
_PLACES = ("Old Harbour", "King's", "Riverside", "North Hill", "Saint Anne's", "Westgate", "Silver Lake",
           "Mill Street", "Lighthouse", "Cathedral", "Granite", "Sunset", "Elm Valley", "Pine Point", "Queen's",
           "Copper", "Eastbank", "Maple", "Harbourfront", "Stone Bridge")


def _demo_frame(seed: int, n_users: int, n_interactions: int, degenerate: bool, tail: float = 1.1,
                focus: float = 0.12, theme_skew: float = 2.0, noise: float = 0.1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    per_category = 15
    names, category = [], []
    for c, kinds in enumerate(_CATEGORIES.values()):
        places = rng.permutation(len(_PLACES))
        for j in range(per_category):
            names.append(f"{_PLACES[places[j]]} {kinds[j % len(kinds)]}")
            category.append(c)
    names, category = np.array(names, dtype=object), np.array(category)
    n_items, n_cat = len(names), len(_CATEGORIES)
    # item popularity: a long tail inside each theme, themes of unequal appeal
    within = 1.0 / (np.arange(per_category) + 1.0) ** tail
    appeal = rng.dirichlet(np.full(n_cat, theme_skew))
    item_pop = np.concatenate([within[rng.permutation(per_category)] for _ in range(n_cat)])
    # users: one or two favourite themes (a sparse Dirichlet), a small share of popular picks
    tastes = rng.dirichlet(focus * n_cat * appeal, size=n_users) * (1 - noise) + appeal * noise
    spare = max(n_interactions - 2 * n_users, 0)
    activity = rng.lognormal(0.0, 0.6, n_users)
    sizes = 2 + rng.multinomial(spare, activity / activity.sum())
    users, items, types, times = [], [], [], []
    start = np.datetime64("2024-01-01T00:00:00")
    funnel = np.array([1.0, 0.45, 0.3, 0.15])  # after a view: click, like, book, each given the previous step
    for u in range(n_users):
        user_ids = []
        t = start + np.timedelta64(int(rng.integers(0, 150 * 86400)), "s")
        picked: set[int] = set()
        while len(user_ids) < sizes[u]:
            c = rng.choice(n_cat, p=tastes[u])
            pool = np.flatnonzero(category == c)
            weights = item_pop[pool] * np.array([0.05 if i in picked else 1.0 for i in pool])
            item = int(rng.choice(pool, p=weights / weights.sum()))
            picked.add(item)
            depth = 1 + int(np.sum(np.cumprod(rng.random(3) < funnel[1:])))
            for step in range(min(depth, sizes[u] - len(user_ids))):
                t = t + np.timedelta64(int(rng.integers(60, 1800) if step else rng.integers(3600, 4 * 86400)), "s")
                hour = int((t - t.astype("datetime64[D]")) / np.timedelta64(1, "h"))
                if hour < 8:  # people browse by day
                    t = t + np.timedelta64(8 - hour, "h")
                user_ids.append(u)
                items.append(item)
                types.append(step)
                times.append(t)
        users.extend(user_ids)
    ids = np.array([str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n_users)], dtype=object)
    type_names = np.array(INTERACTION_TYPES, dtype=object)
    frame = pd.DataFrame({"userId": ids[users], "attractionId": names[items],
                          "interactionType": type_names[types] if not degenerate else "view",
                          "timestamp": pd.to_datetime(np.array(times)).strftime("%Y-%m-%d %H:%M:%S")})
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)


def write_demo(out_dir: Path, seed: int = 0, degenerate: bool = False, *, n_users: int = 600,
               n_interactions: int = 5000) -> Path:
    """Write ``synthetic_user_interactions.csv`` in the reference's format into ``out_dir``.

    ``n_users`` users (uuid ids) with one or two favourite themes among 8 (museums, beaches, ...) pick
    attractions (120 names) mostly from those themes, with a long tail of popularity inside each; each
    pick is a view that may deepen into click, like and book. About ``n_interactions`` rows, sorted by
    time. Same arguments, same bytes; the file is rewritten only when its bytes would change.
    ``degenerate=True`` writes the reference's trap: every ``interactionType`` is ``view``. Returns the
    file's path.
    """
    out = Path(out_dir)
    frame = _demo_frame(seed, n_users, n_interactions, degenerate)
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    text = buffer.getvalue().encode()
    path = out / FILE_NAME
    if not (path.is_file() and path.read_bytes() == text):
        out.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text)
    return path


COMPETITION = Competition(
    name="recommender",
    title="Attraction recommender (factorization machines, ranking metrics)",
    platform="local",
    slug="recommender",
    metric="val_ndcg_at_10",
    mode="max",
    submission=SubmissionSpec(
        file_name="recommendations.csv",
        columns=("userId", "rank", "attractionId"),
        check=check_recommendations,
    ),
    demo=write_demo,
)
