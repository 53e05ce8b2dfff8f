"""How an ensemble scores a blend: :class:`Scorer` (a score function and its direction) and the vectorised scores
of a batch of candidate blends that make hill climbing fast.

A blend is an ``(n, c)`` float array (class probabilities, one value, per-option scores); a batch of candidates
is ``(B, n, c)``. ``Scorer.fn(y, pred) -> float`` scores one blend against the truth ``y`` (``(n,)`` or
``(n, targets)``): a kit ``Problem.score``, a competition's own metric, or the registry metric's function adapted
to arrays (:func:`metric_scorer`). For registry metrics a *batch* score (:meth:`Scorer.batch`) scores many
candidates at once and gives the same numbers as ``fn`` (checked against scikit-learn in the tests):

- ``roc_auc``: the Mann-Whitney statistic from one sort per candidate. Each float64 score is mapped to an
  order-preserving integer, the row's label packed into its lowest bit, and the ``(B, n)`` keys sorted in one
  ``np.sort`` (a SIMD integer sort): ranks come from the positions of the positives, ties (equal keys, negatives
  first) are corrected exactly;
- ``log_loss``, ``rmse``, ``mae``: closed forms over the batch.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError
from ..metrics import find_metric

__all__ = ["MODES", "ORDERS", "Batch", "Scorer", "average_ranks", "metric_scorer", "roc_auc_many"]

MODES = ("max", "min")
ORDERS = ("columns", "rows")  # what rank averaging ranks: the rows of each column, or the columns of each row
ORDER_BASED = {"roc_auc": "columns"}  # besides every metric that takes "ranked" predictions (MAP@k): "rows"
TOP_K = 3  # labels in a "ranked" prediction, as kitlib.tasks.tabular.problem scores them
_CHUNK = 1 << 22  # floats per candidate chunk (32 MiB of float64)


def _order_of(metric: str | None) -> str | None:
    if metric is None:
        return None
    m = find_metric(metric)
    return "rows" if m.takes == "ranked" else ORDER_BASED.get(m.name)


@dataclass(frozen=True)
class Batch:
    """A vectorised score of candidate blends: ``score(blends[:, :, columns]) -> (B,)`` for ``blends`` of shape
    ``(B, n, c)``; it reads only ``columns`` (a slice or index array), so a caller may build only those."""

    columns: slice | np.ndarray
    score: Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Scorer:
    """A score function and its direction.

    ``fn(y, pred)``: the score of one blend ``pred`` ``(n, c)`` against ``y``; ``mode``: ``"max"`` or ``"min"``;
    ``metric``: the registry name (``kitlib.metrics.METRICS``) ``fn`` computes, when it is one: it enables the batch
    score (unless ``fast=False``), decides whether rank averaging is allowed and what ``stack`` fits; ``takes``: what
    the metric scores (``"probabilities"``, ``"labels"``, ``"values"``, ``"ranked"``; from the registry, or given for
    a custom metric); ``order``: ``"columns"`` or ``"rows"`` when only the order of predictions counts (from the
    registry; give it for a custom order-based metric). Raises ``ParameterError`` for an unknown mode, metric, takes
    or order, or a mode or order that contradicts the registry.
    """

    fn: Callable[[np.ndarray, np.ndarray], float]
    mode: str = "max"
    metric: str | None = None
    takes: str | None = None
    order: str | None = None
    fast: bool = True

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ParameterError(f"Unknown score direction {self.mode!r}; expected one of {list(MODES)}")
        if self.order is not None and self.order not in ORDERS:
            raise ParameterError(f"Unknown rank order {self.order!r}; expected one of {list(ORDERS)}")
        if self.takes is not None and self.takes not in ("probabilities", "labels", "values", "ranked"):
            raise ParameterError(f"Unknown prediction kind {self.takes!r}; expected one of "
                                 "['probabilities', 'labels', 'values', 'ranked']")
        if self.metric is None:
            return
        try:
            m = find_metric(self.metric)
        except KeyError as exc:
            raise ParameterError(str(exc).strip("\"'")) from None
        object.__setattr__(self, "metric", m.name)
        if self.mode != m.mode:
            raise ParameterError(f"metric {m.name!r} is better when {'higher' if m.mode == 'max' else 'lower'} "
                                 f"(mode {m.mode!r}); got mode {self.mode!r}")
        if self.takes is None:
            object.__setattr__(self, "takes", m.takes)
        if self.order is None:
            object.__setattr__(self, "order", _order_of(m.name))
        elif self.order != _order_of(m.name):
            raise ParameterError(f"metric {m.name!r} is not order based the way order {self.order!r} says; "
                                 f"the registry gives {_order_of(m.name)!r}")

    @property
    def sign(self) -> float:
        """+1 when higher is better, -1 otherwise: ``sign * score`` is always to maximise."""
        return 1.0 if self.mode == "max" else -1.0

    def __call__(self, y: np.ndarray, pred: np.ndarray) -> float:
        """``fn(y, pred)`` as a float."""
        return float(self.fn(y, pred))

    def batch(self, y: np.ndarray, n_columns: int) -> Batch | None:
        """The vectorised score for truth ``y`` and blends of ``n_columns`` columns, prepared once (labels, counts)
        for many calls; ``None`` when this metric or these shapes have none (then score blends one by one)."""
        if not self.fast or self.metric is None:
            return None
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            return None
        make = _BATCHES.get(self.metric)
        return make(y, n_columns) if make is not None else None

    def score_many(self, y: np.ndarray, blends: np.ndarray) -> np.ndarray:
        """Scores ``(B,)`` of candidate blends ``(B, n, c)``: the batch score when there is one, else ``fn`` each."""
        blends = np.asarray(blends, dtype=np.float64)
        fast = self.batch(y, blends.shape[2])
        if fast is not None:
            return fast.score(blends[:, :, fast.columns])
        return np.array([self(y, b) for b in blends], dtype=np.float64)


def metric_scorer(metric: str, score: Callable[[np.ndarray, np.ndarray], float] | None = None,
                  fast: bool = True) -> Scorer:
    """A :class:`Scorer` for the registry metric ``metric`` (``kitlib.metrics.find_metric`` names: ``"roc_auc"``,
    ``"log_loss"``, ...; direction, order and kind from the registry).

    ``score``: the function that scores a blend (a kit ``Problem.score``, bound: ``metric_scorer(problem.metric,
    problem.score)``); by default the registry function adapted to arrays for one target: ``probabilities`` ->
    the last column when there are two (the positive class), the matrix with labels ``0..c-1`` when more;
    ``labels`` -> the argmax (``>= 0.5`` for one column); ``ranked`` -> the three best columns, best first;
    ``values`` -> each column against the same column of ``y``, averaged. ``fast=False`` scores every candidate
    through ``score`` (use it when ``score`` is not exactly the registry metric). Raises ``ParameterError`` for an
    unknown or ambiguous metric name, listing the choices.
    """
    try:
        m = find_metric(metric)
    except KeyError as exc:
        raise ParameterError(str(exc).strip("\"'")) from None
    return Scorer(fn=score if score is not None else _registry_fn(m), mode=m.mode, metric=m.name, fast=fast)


def _registry_fn(m) -> Callable[[np.ndarray, np.ndarray], float]:
    def fn(y: np.ndarray, pred: np.ndarray) -> float:
        y, pred = np.asarray(y), np.asarray(pred, dtype=np.float64).reshape(len(pred), -1)
        if m.takes == "values":
            truth = y.reshape(len(y), -1).astype(np.float64)
            if truth.shape[1] != pred.shape[1]:
                raise ParameterError(f"{truth.shape[1]} target column(s) but {pred.shape[1]} prediction column(s)")
            return float(np.mean([m.fn(truth[:, j], pred[:, j]) for j in range(pred.shape[1])]))
        truth = y.reshape(len(y)).astype(np.int64)
        c = pred.shape[1]
        if m.takes == "labels":
            return float(m.fn(truth, (pred[:, 0] >= 0.5).astype(np.int64) if c == 1 else pred.argmax(axis=1)))
        if m.takes == "ranked":
            return float(m.fn(truth, np.argsort(-pred, axis=1, kind="stable")[:, :TOP_K].tolist()))
        if c <= 2:
            return float(m.fn(truth, pred[:, -1]))
        return float(m.fn(truth, pred, labels=list(range(c))))

    return fn


# ------------------------------------------------------------------------------------------------ fast scores
def roc_auc_many(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Binary ROC AUC of each row of ``scores`` ``(B, n)`` against labels ``y`` ``(n,)`` in {0, 1}: ``(B,)``,
    equal to ``sklearn.metrics.roc_auc_score`` (ties count one half). Raises ``ValueError`` when ``y`` holds one
    class or other values, or a score is not finite."""
    lab = np.asarray(y).reshape(-1)
    if not np.isin(lab, (0, 1)).all():
        raise ValueError(f"ROC AUC here takes labels 0 and 1; got {np.unique(lab)[:5].tolist()}")
    return _auc_prepared(lab.astype(np.int64), np.asarray(scores, dtype=np.float64).reshape(-1, len(lab)))


def _auc_prepared(lab: np.ndarray, scores: np.ndarray, keys: np.ndarray | None = None) -> np.ndarray:
    """ROC AUC of each row of ``scores`` ``(B, n)`` against 0/1 ``lab`` (int64); ``keys``: an int64 work buffer of
    the same shape (overwritten), allocated when not given."""
    n_pos = int(lab.sum())
    n_neg = len(lab) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC AUC needs both classes among the true values")
    hi, lo = (float(scores.max()), float(scores.min())) if scores.size else (0.0, 0.0)
    if not (np.isfinite(hi) and np.isfinite(lo)):
        raise ValueError("ROC AUC needs finite scores; got NaN or infinity")
    keys = np.empty(scores.shape, np.int64) if keys is None else keys
    if not _order_keys(scores, max(hi, -lo), lo < 0, keys):  # too spread to pack a label bit: exact ranks
        ranks = average_ranks(scores, axis=1) + 1.0
        u = ranks @ lab.astype(np.float64) - n_pos * (n_pos + 1) / 2.0
        return u / (n_pos * n_neg)
    np.left_shift(keys, 1, out=keys)
    keys |= lab  # equal scores: negatives (bit 0) sort before positives
    keys.sort(axis=1)
    u = (keys & 1) @ np.arange(1, len(lab) + 1, dtype=np.int64) - n_pos * (n_pos + 1) // 2
    u = u.astype(np.float64)
    rows = np.flatnonzero(((keys[:, 1:] ^ keys[:, :-1]) <= 1).any(axis=1))  # equal values differ in bit 0 only
    if len(rows):  # a positive tied with negatives counts each of them one half, not one
        value = keys[rows] >> 1
        u[rows] -= 0.5 * _tied_pairs(value[:, 1:] == value[:, :-1], (keys[rows] & 1).astype(np.float64))
    return u / (n_pos * n_neg)


def _order_keys(scores: np.ndarray, top: float, negative: bool, keys: np.ndarray) -> bool:
    """Fill ``keys`` with order-preserving int64 keys within [-2**62, 2**62) (so a label bit fits); False when the
    scores cannot be scaled there exactly. Scaling by a power of two keeps every order and tie; adding 0.0 makes
    -0.0 equal 0.0; for negative floats the magnitude bits are flipped so integer order is float order."""
    floats = keys.view(np.float64)
    if top >= 2.0:
        exponent = int(np.frexp(top)[1])  # top < 2**exponent
        np.ldexp(scores, -exponent, out=floats)
        if not np.array_equal(np.ldexp(floats, exponent), scores):  # a tiny value fell below the normal range
            return False
        floats += 0.0
    else:
        np.add(scores, 0.0, out=floats)
    if negative:
        flip = keys >> 63  # -1 where the sign bit is set, else 0
        flip &= np.int64(0x7FFFFFFFFFFFFFFF)
        keys ^= flip
    return True


def _tied_pairs(tied: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Per row: the number of (positive, negative) pairs with equal scores, from sorted rows (``tied[j]``: element
    ``j + 1`` equals element ``j``; ``pos``: 1 for a positive)."""
    b = pos.shape[0]
    group = np.cumsum(np.concatenate([np.ones((b, 1), bool), ~tied], axis=1), axis=1) - 1
    offsets = np.concatenate([[0], np.cumsum(group[:, -1] + 1)[:-1]])
    gid = (group + offsets[:, None]).ravel()
    size = np.bincount(gid)
    n_pos = np.bincount(gid, weights=pos.ravel())
    row_of = np.repeat(np.arange(b), group[:, -1] + 1)
    return np.bincount(row_of, weights=n_pos * (size - n_pos), minlength=b)


def average_ranks(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """0-based ranks of ``values`` along ``axis``, ties given their average rank (SciPy's ``rankdata`` minus 1)."""
    v = np.moveaxis(np.asarray(values, dtype=np.float64), axis, -1)
    order = np.argsort(v, axis=-1, kind="stable")
    s = np.take_along_axis(v, order, axis=-1)
    n = s.shape[-1]
    pos = np.broadcast_to(np.arange(n), s.shape)
    new = np.ones(s.shape, bool)
    new[..., 1:] = s[..., 1:] != s[..., :-1]
    start = np.maximum.accumulate(np.where(new, pos, 0), axis=-1)
    last = np.ones(s.shape, bool)
    last[..., :-1] = new[..., 1:]
    end = np.flip(np.minimum.accumulate(np.flip(np.where(last, pos, n), axis=-1), axis=-1), axis=-1)
    ranks = np.empty_like(s)
    np.put_along_axis(ranks, order, (start + end) / 2.0, axis=-1)
    return np.moveaxis(ranks, -1, axis)


def _buffer() -> Callable[[tuple[int, ...]], np.ndarray]:
    """A reusable int64 work array of a requested shape: one flat array, grown when asked for more, so a hill's
    steps (and their last, smaller chunk) reuse one allocation."""
    kept: list[np.ndarray] = [np.empty(0, np.int64)]

    def get(shape: tuple[int, ...]) -> np.ndarray:
        size = int(np.prod(shape))
        if kept[0].size < size:
            kept[0] = np.empty(size, np.int64)
        return kept[0][:size].reshape(shape)

    return get


def _auc_batch(y: np.ndarray, c: int) -> Batch | None:
    lab = y.astype(np.int64)
    work = _buffer()
    if not np.array_equal(lab, y) or lab.min(initial=0) < 0:
        return None
    if c <= 2:
        if lab.max(initial=0) > 1:
            return None
        return Batch(slice(c - 1, c), lambda b: _auc_prepared(lab, b[:, :, 0], work(b.shape[:2])))
    if lab.max(initial=0) >= c:
        return None
    onehot = [(lab == k).astype(np.int64) for k in range(c)]
    present = [k for k in range(c) if 0 < onehot[k].sum() < len(lab)]
    if len(present) != c:  # scikit-learn's one-vs-rest refuses a class absent from y: leave it to fn
        return None
    return Batch(slice(None), lambda b: np.mean([_auc_prepared(onehot[k], b[:, :, k], work(b.shape[:2]))
                                                 for k in range(c)], axis=0))


def _log_loss_batch(y: np.ndarray, c: int) -> Batch | None:
    lab = y.astype(np.int64)
    if not np.array_equal(lab, y) or lab.min(initial=0) < 0 or lab.max(initial=0) >= max(c, 2):
        return None
    if c <= 2:
        t = lab.astype(np.float64)

        def binary(b: np.ndarray) -> np.ndarray:
            p = np.clip(b[:, :, 0], 1e-15, 1 - 1e-15)
            return -(np.log(p) @ t + np.log1p(-p) @ (1.0 - t)) / len(t)

        return Batch(slice(c - 1, c), binary)

    def multi(b: np.ndarray) -> np.ndarray:
        p = np.clip(b, 1e-15, 1 - 1e-15)
        picked = np.take_along_axis(p, lab[None, :, None], axis=2)[:, :, 0]
        return -np.mean(np.log(picked) - np.log(p.sum(axis=2)), axis=1)

    return Batch(slice(None), multi)


def _error_batch(kind: str) -> Callable[[np.ndarray, int], Batch | None]:
    def make(y: np.ndarray, c: int) -> Batch | None:
        if c != 1:
            return None
        t = y.astype(np.float64)
        if kind == "rmse":
            return Batch(slice(0, 1), lambda b: np.sqrt(np.mean((t - b[:, :, 0]) ** 2, axis=1)))
        return Batch(slice(0, 1), lambda b: np.mean(np.abs(t - b[:, :, 0]), axis=1))

    return make


_BATCHES: dict[str, Callable[[np.ndarray, int], Batch | None]] = {
    "roc_auc": _auc_batch, "log_loss": _log_loss_batch, "rmse": _error_batch("rmse"), "mae": _error_batch("mae")}
