"""The ways to combine M inputs' predictions ``(M, n, c)`` into one ``(n, c)``: each takes ``(preds, y, scorer,
settings)`` and returns an :class:`Ensemble` (weights or a fitted stacker, the in-sample score, ``predict``).

- ``mean``: equal weights;
- ``rank``: equal weights over rank-scaled inputs (order-based metrics only);
- ``weights``: the best point of a simplex grid (what ``kit blend`` searched: :func:`candidate_weights`);
- ``hill``: greedy forward selection with replacement (Caruana et al. 2004), optionally bagged;
- ``stack``: a second-level model (:mod:`kitlib.ensemble.stacking`).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DataError, ParameterError, check_choice
from .scoring import _CHUNK, Batch, Scorer, average_ranks

__all__ = ["STACKERS", "Ensemble", "HillStep", "Settings", "as_stack", "candidate_weights", "hill_climb",
           "mean_blend", "rank_blend", "rank_scale", "simplex_weights"]

STACKERS = ("auto", "logistic", "ridge", "lightgbm")


@dataclass(frozen=True)
class Settings:
    """The knobs of every method, each read only by the methods named.

    ``max_steps`` (hill): additions after the best single input (100); ``bags`` (hill): 1 for no bagging, else
    that many hills, each on a random ``bag_fraction`` of the inputs, their weights averaged; ``tol`` (hill): the
    least improvement that counts as one; ``seed`` (hill's bags, weights' random simplex points, the stacker);
    ``stacker`` (stack): ``auto`` (logistic regression for classification, ridge for regression), ``logistic``,
    ``ridge`` or ``lightgbm``; ``logits`` (stack): feed probabilities as logits; ``alpha`` (stack): the L2
    strength (ridge ``alpha``, logistic ``C = 1 / alpha``); ``threads`` (stack with lightgbm).
    Raises ``ParameterError`` for a value outside its range.
    """

    max_steps: int = 100
    bags: int = 1
    bag_fraction: float = 0.5
    tol: float = 0.0
    seed: int = 0
    stacker: str = "auto"
    logits: bool = True
    alpha: float = 1.0
    threads: int = 1

    def __post_init__(self) -> None:
        check_choice("stacker", self.stacker, STACKERS)
        if self.max_steps < 0 or self.bags < 1 or self.threads < 1:
            raise ParameterError(f"max_steps must be >= 0, bags and threads >= 1; got max_steps {self.max_steps}, "
                                 f"bags {self.bags}, threads {self.threads}")
        if not 0.0 < self.bag_fraction <= 1.0 or self.tol < 0 or self.alpha <= 0:
            raise ParameterError(f"bag_fraction must be in (0, 1], tol >= 0 and alpha > 0; got bag_fraction "
                                 f"{self.bag_fraction}, tol {self.tol}, alpha {self.alpha}")


@dataclass(frozen=True)
class HillStep:
    """One step of a hill climb: in ``bag`` (0 without bagging), step ``step`` (0: the best single input) added
    input ``input``; ``score`` is the running blend's score after it (on the rows the hill was given)."""

    bag: int
    step: int
    input: int
    score: float


@dataclass
class Ensemble:
    """What a method chose: ``weights`` ``(M,)`` (non-negative, summing to 1; ``None`` for ``stack``) or the fitted
    ``stacker``; ``score``: the blend's score on the rows it was chosen on (in-sample: optimistic for every method
    that chooses); ``trace``: hill's steps; ``order``: ``"columns"``/``"rows"`` when inputs are rank-scaled first."""

    method: str
    weights: np.ndarray | None
    score: float
    trace: list[HillStep] = field(default_factory=list)
    stacker: Any = None
    order: str | None = None

    def predict(self, preds: np.ndarray) -> np.ndarray:
        """The blend ``(n, c)`` of the inputs' predictions ``preds`` ``(M, n, c)`` (test or held-out rows, the inputs
        in the order they were chosen on). Raises ``ParameterError`` for another number of inputs."""
        p = as_stack(preds)
        m = len(self.weights) if self.weights is not None else self.stacker.n_inputs_
        if len(p) != m:
            raise ParameterError(f"this {self.method} ensemble combines {m} inputs; got predictions of {len(p)}")
        if self.stacker is not None:
            return self.stacker.predict(p)
        if self.order is not None:
            p = rank_scale(p, self.order)
        return np.tensordot(self.weights, p, axes=1)


def as_stack(preds: Any, name: str = "predictions") -> np.ndarray:
    """``preds`` as float64 ``(M, n, c)`` (an ``(M, n)`` array is one column per input). Raises ``ParameterError``
    for another shape and ``DataError`` naming the input, row and column of the first value that is not finite."""
    p = np.asarray(preds, dtype=np.float64)
    if p.ndim == 2:
        p = p[:, :, None]
    if p.ndim != 3 or 0 in p.shape:
        raise ParameterError(f"{name} must be (inputs, rows, columns) or (inputs, rows); got shape {p.shape}")
    bad = ~np.isfinite(p)
    if bad.any():
        i, r, c = (int(v) for v in np.argwhere(bad)[0])
        raise DataError(f"{name}: input {i}, row {r}, column {c} is {p[i, r, c]}; every prediction must be finite")
    return p


def rank_scale(preds: np.ndarray, order: str = "columns") -> np.ndarray:
    """Each input's predictions replaced by their ranks scaled to [0, 1] (ties share their average rank):
    ``order="columns"`` ranks the rows of each column (ROC AUC), ``"rows"`` the columns of each row (MAP@k:
    per-option scores, a Borda count). A single row or column ranks 0.5. Raises ``ParameterError`` for an unknown
    order."""
    check_choice("rank order", order, ("columns", "rows"))
    p = as_stack(preds)
    axis = 1 if order == "columns" else 2
    size = p.shape[axis]
    if size == 1:
        return np.full_like(p, 0.5)
    return average_ranks(p, axis=axis) / (size - 1)


def candidate_weights(n_inputs: int, seed: int = 0) -> np.ndarray:
    """The simplex points ``kit blend`` searched, equal weights first: a grid of step 0.05 (two inputs) or 0.1
    (three or four), else the vertices and 1,000 Dirichlet draws from ``seed``. Out: ``(K, n_inputs)``."""
    rows = [np.full(n_inputs, 1.0 / n_inputs)]
    if n_inputs <= 4:
        steps = 20 if n_inputs == 2 else 10
        for combo in itertools.product(range(steps + 1), repeat=n_inputs - 1):
            if sum(combo) <= steps:
                rows.append(np.array([*combo, steps - sum(combo)], dtype=np.float64) / steps)
    else:
        rows += list(np.eye(n_inputs)) + list(np.random.default_rng(seed).dirichlet(np.ones(n_inputs), size=1000))
    return np.array(rows)


def _check(preds: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    p, y = as_stack(preds), np.asarray(y)
    if y.ndim not in (1, 2) or len(y) != p.shape[1]:
        raise ParameterError(f"y must hold one row per prediction row ({p.shape[1]}); got shape {y.shape}")
    return p, y


def _batch(scorer: Scorer, y: np.ndarray, c: int) -> Batch:
    fast = scorer.batch(y, c)
    return fast if fast is not None else Batch(slice(None), lambda b: np.array([scorer(y, x) for x in b]))


def _scored(ens_method: str, p: np.ndarray, y: np.ndarray, scorer: Scorer, weights: np.ndarray,
            order: str | None = None, trace: list[HillStep] | None = None) -> Ensemble:
    ens = Ensemble(ens_method, weights, float("nan"), trace or [], order=order)
    ens.score = scorer(y, ens.predict(p))
    return ens


def mean_blend(preds: np.ndarray, y: np.ndarray, scorer: Scorer, settings: Settings | None = None) -> Ensemble:
    """Equal weights. In: ``preds`` ``(M, n, c)``, ``y`` ``(n,)`` or ``(n, targets)``. Raises ``ParameterError``
    for mismatched shapes."""
    p, y = _check(preds, y)
    return _scored("mean", p, y, scorer, np.full(len(p), 1.0 / len(p)))


def rank_blend(preds: np.ndarray, y: np.ndarray, scorer: Scorer, settings: Settings | None = None) -> Ensemble:
    """Equal weights over rank-scaled inputs (:func:`rank_scale`, along ``scorer.order``). Raises
    ``ParameterError`` when the metric is not order based (only ROC AUC and MAP@k style metrics are)."""
    if scorer.order is None:
        what = f"metric {scorer.metric!r}" if scorer.metric else "a score function without a registry metric"
        raise ParameterError(f"rank averaging keeps only the order of each input's predictions, so it suits "
                             f"order-based metrics only (ROC AUC, MAP@k: 'roc_auc', 'map_at_3'); {what} scores the "
                             "values themselves: use method 'mean', 'weights', 'hill' or 'stack'")
    p, y = _check(preds, y)
    return _scored("rank", p, y, scorer, np.full(len(p), 1.0 / len(p)), order=scorer.order)


def _score_weight_rows(p: np.ndarray, batch: Batch, weights: np.ndarray) -> np.ndarray:
    """Scores of the blends ``weights @ p`` for each row of ``weights``, built in chunks."""
    sel = p[:, :, batch.columns]
    per = max(1, _CHUNK // max(1, sel.shape[1] * sel.shape[2]))
    return np.concatenate([batch.score(np.tensordot(weights[i:i + per], sel, axes=1))
                           for i in range(0, len(weights), per)])


def simplex_weights(preds: np.ndarray, y: np.ndarray, scorer: Scorer, settings: Settings | None = None) -> Ensemble:
    """The point of :func:`candidate_weights` whose blend scores best on these rows, the first of equals (so
    ties keep equal weights): ``kit blend``'s ``weights`` method on arrays. ``settings.seed`` draws the random
    points above four inputs. Raises ``ParameterError`` for mismatched shapes."""
    settings = settings or Settings()
    p, y = _check(preds, y)
    candidates = candidate_weights(len(p), settings.seed)
    scores = scorer.sign * _score_weight_rows(p, _batch(scorer, y, p.shape[2]), candidates)
    return _scored("weights", p, y, scorer, candidates[int(np.argmax(scores))])


def _climb(sel: np.ndarray, batch: Batch, sign: float, settings: Settings, bag: int,
           names: np.ndarray) -> tuple[np.ndarray, list[HillStep]]:
    """One hill over the inputs ``sel`` ``(m, n, k)``: counts per input and the steps (inputs named by ``names``)."""
    m = len(sel)
    per = max(1, _CHUNK // max(1, sel.shape[1] * sel.shape[2]))
    singles = np.concatenate([batch.score(sel[i:i + per]) for i in range(0, m, per)])
    best = int(np.argmax(sign * singles))
    counts = np.zeros(m, dtype=np.int64)
    counts[best] = 1
    total, current = sel[best].copy(), float(singles[best])
    trace = [HillStep(bag, 0, int(names[best]), current)]
    work = np.empty((min(per, m), *sel.shape[1:]))
    for step in range(1, settings.max_steps + 1):
        scores = np.empty(m)
        for i in range(0, m, per):  # each candidate blend: (total + input) / members, in one reused buffer
            part = work[:len(sel[i:i + per])]
            np.add(sel[i:i + per], total, out=part)
            part /= step + 1
            scores[i:i + len(part)] = batch.score(part)
        pick = int(np.argmax(sign * scores))  # the lowest index among equals
        if sign * scores[pick] <= sign * current + settings.tol:
            break
        counts[pick] += 1
        total += sel[pick]
        current = float(scores[pick])
        trace.append(HillStep(bag, step, int(names[pick]), current))
    return counts, trace


def hill_climb(preds: np.ndarray, y: np.ndarray, scorer: Scorer, settings: Settings | None = None) -> Ensemble:
    """Greedy forward selection with replacement (Caruana et al. 2004).

    Starts from the best single input; each step adds (again, if it is the best) the input whose addition most
    improves the running average's score, scoring all M candidates at once (:meth:`Scorer.batch`, else ``fn`` on
    each); stops when no addition improves by more than ``settings.tol`` or after ``settings.max_steps``. Ties go to
    the lowest input index. With ``settings.bags > 1``, each bag climbs over a random ``bag_fraction`` of the inputs
    (from ``settings.seed``) and the bags' weight vectors are averaged. Out: :class:`Ensemble` with ``weights``
    (counts over their total), ``trace`` and the in-sample ``score``. Raises ``ParameterError`` for mismatched
    shapes.
    """
    settings = settings or Settings()
    p, y = _check(preds, y)
    m = len(p)
    batch = _batch(scorer, y, p.shape[2])
    sel = np.ascontiguousarray(p[:, :, batch.columns])
    weights, trace = np.zeros(m), []
    if settings.bags == 1:
        counts, trace = _climb(sel, batch, scorer.sign, settings, 0, np.arange(m))
        weights = counts / counts.sum()
    else:
        rng = np.random.default_rng(settings.seed)
        size = max(1, round(settings.bag_fraction * m))
        for bag in range(settings.bags):
            members = np.sort(rng.choice(m, size=size, replace=False))
            counts, steps = _climb(sel[members], batch, scorer.sign, settings, bag, members)
            weights[members] += counts / counts.sum() / settings.bags
            trace += steps
        weights = weights / weights.sum()
    return _scored("hill", p, y, scorer, weights, trace=trace)
