"""Early stopping inside a fold: which of the fold's training rows the booster watches, and how many rounds a refit
on all of them gets.

A booster never looks at the fold's validation rows: :func:`inner_split` draws a share (10% by default) of the
fold's TRAINING rows from ``seed`` (stratified by class for classification, shuffled for regression); the booster
fits on the rest and stops when the watched rows' loss has not improved for a while. Below
:data:`~kitlib.tasks.tabular.model_settings.REFIT_BELOW` training rows it is then refit on all the fold's training
rows for :func:`refit_rounds` rounds: the best round count scaled by how many more rows the refit sees.
"""
from __future__ import annotations

import numpy as np

from ...errors import ParameterError


def inner_split(n: int, classes: np.ndarray | None, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(fit, stop)``: sorted positions in ``range(n)``, disjoint, together all of them; ``stop`` holds
    ``round(fraction * n)`` rows (at least one, and at least one left to fit on).

    With ``classes`` (an integer class per row), each class gives its share of the stopping rows (largest
    remainders first; a class with a single row stays in ``fit``); without, the rows are shuffled. The same
    arguments give the same split. Raises ``ParameterError`` for fewer than two rows or a fraction outside (0, 1).
    """
    if n < 2:
        raise ParameterError(f"early stopping needs at least 2 training rows; got {n}")
    if not 0.0 < fraction < 1.0:
        raise ParameterError(f"early-stopping fraction {fraction!r}: expected a share in (0, 1)")
    rng = np.random.default_rng(seed)
    n_stop = min(max(1, int(round(fraction * n))), n - 1)
    if classes is None:
        stop = rng.permutation(n)[:n_stop]
    else:
        classes = np.asarray(classes).astype(np.int64)
        values, inverse, counts = np.unique(classes, return_inverse=True, return_counts=True)
        room = np.maximum(counts - 1, 0)  # every class keeps a row to fit on
        quota = np.minimum(fraction * counts, room)
        take = np.floor(quota).astype(np.int64)
        short = min(n_stop, int(room.sum())) - int(take.sum())
        if short > 0:  # largest remainders first, ties to the larger class, then the lower class
            order = np.lexsort((np.arange(len(values)), -counts, -(quota - take)))
            for c in order:
                if short == 0:
                    break
                if take[c] < room[c]:
                    take[c] += 1
                    short -= 1
        stop = np.concatenate([rng.permutation(np.flatnonzero(inverse == c))[:take[c]] for c in range(len(values))])
        if len(stop) == 0:  # every class has a single row: fall back to a plain shuffle
            stop = rng.permutation(n)[:n_stop]
    mask = np.zeros(n, dtype=bool)
    mask[stop] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def refit_rounds(best_iteration: int, n_train: int, n_fit: int) -> int:
    """Rounds for a refit on ``n_train`` rows after early stopping found ``best_iteration`` rounds best when
    fitting on ``n_fit`` of them: ``round(best_iteration * n_train / n_fit)``, at least 1."""
    if n_fit <= 0:
        raise ParameterError(f"n_fit must be positive; got {n_fit}")
    return max(1, int(round(best_iteration * n_train / n_fit)))
