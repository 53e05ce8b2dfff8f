"""Interactions as integer codes, the id mapping back, and the validation split that holds items out.

An interactions frame has the columns of ``FRAME_COLUMNS`` (``userId``, ``attractionId``,
``interactionType``, ``timestamp``; as a competition's reader gives it, ids and types as strings,
``timestamp`` as ``datetime64``)::

    IdEncoder(type_order).fit(frame).transform(frame) -> Interactions   the mapping stays on it
    split_interactions(data, "last") -> Split     each user's latest item held out, with all of its
                                                  interactions (no leak into training or the filter)
    require_two_classes(values, column)           a one-class target refused, naming column and value
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from ...errors import DataError, ParameterError

FRAME_COLUMNS = ("userId", "attractionId", "interactionType", "timestamp")
SPLITS = ("last", "random")
UNKNOWN_IDS = ("error", "drop")
SHOW = 5  # offending lines named in an error


def name_lines(mask: np.ndarray, first_line: int = 2) -> str:
    """'lines 3, 9 (and 4 more)' for the True rows of ``mask``; the header is line 1."""
    rows = np.flatnonzero(mask)
    shown = ", ".join(str(int(r) + first_line) for r in rows[:SHOW])
    more = len(rows) - SHOW
    return f"line{'s' if len(rows) > 1 else ''} {shown}" + (f" (and {more} more)" if more > 0 else "")


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
        """Back to the original ids: a DataFrame with the columns of ``FRAME_COLUMNS``."""
        return pd.DataFrame({"userId": self.user_ids[self.users], "attractionId": self.item_ids[self.items],
                             "interactionType": np.asarray(self.type_names, dtype=object)[self.types],
                             "timestamp": self.timestamps})


class IdEncoder:
    """Maps ``userId``/``attractionId``/``interactionType`` to integer codes and back.

    ``type_order``: interaction types in the order their codes should take (a competition's funnel,
    e.g. view, click, like, book); types not in it follow, sorted. ``fit(frame)`` learns ``user_ids_``,
    ``item_ids_`` (sorted unique ids; code = position) and ``type_names_``.
    """

    def __init__(self, type_order: Sequence[str] = ()):
        self.type_order = tuple(type_order)

    def fit(self, frame: pd.DataFrame) -> IdEncoder:
        """Learn the id mappings from an interactions frame (``FRAME_COLUMNS``). Returns ``self``."""
        self.user_ids_ = np.array(sorted(frame["userId"].unique()), dtype=object)
        self.item_ids_ = np.array(sorted(frame["attractionId"].unique()), dtype=object)
        seen = set(frame["interactionType"].unique())
        self.type_names_ = tuple(t for t in self.type_order if t in seen) + tuple(
            sorted(seen - set(self.type_order)))
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
        """Encode an interactions frame (``FRAME_COLUMNS``; ``frame.attrs["source"]`` names it in errors).

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
                raise DataError(f"{source}: column {column!r} holds {first!r} on {name_lines(bad)}, not seen "
                                "when the encoder was fitted; pass unknown='drop' to skip such rows")
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
    """Hold out one item per user for validation.

    ``method="last"``: the item of the user's latest interaction by timestamp (ties: the later row);
    ``"random"``: the item of one of the user's interactions drawn with ``seed``. Every interaction of
    that user with that item leaves training. Users with a single distinct item stay in training and
    are not evaluated. Raises ``ParameterError`` for an unknown method and ``DataError`` when no user
    has two distinct items.
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
