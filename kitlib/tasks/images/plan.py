"""The CNN's share of the time budget: how many epochs each fold gets, and which folds run at all.

Before the first fold the CNN's speed is measured on this machine (:func:`~.models.measure_speed`: training and
prediction images per second); a fold's cost is then estimated as ``epochs x training rows / training speed +
(validation + test rows) x views / prediction speed``. :class:`CNNPlan` gives each fold, when it starts, the most
epochs (up to the recipe's) that let it and the folds after it finish before ``reserve`` seconds are left (kept for
the ensemble and the submission), never fewer than ``min_epochs``; a fold that cannot finish even with those is
not started, and neither are the folds after it. After each fold the estimate is scaled by how long the fold really
took, so a slower machine (or a busy one) corrects the plan; inside a fold, training stops after an epoch once only
the fold's prediction time and the reserve are left. Every change is recorded in the budget's ``cut``. The budget's
clock decides everything, so a test drives the plan with a fake clock.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ...budget import Budget

__all__ = ["CNNPlan", "reserve_seconds"]


def reserve_seconds(time_limit: float | None) -> float:
    """Seconds kept for the ensemble, the tables and the submission after the models: 4% of the limit, at least 10."""
    return max(10.0, 0.04 * float(time_limit or 0))


@dataclass
class CNNPlan:
    """Epochs per fold under ``budget`` (see the module docstring). ``rows``/``val_rows``: training and validation
    rows of a fold; ``test_rows``; ``epochs``: the recipe's; ``train_ips``/``predict_ips``: the measured speeds;
    ``views``: test-time views; ``folds``: how many folds there are."""

    budget: Budget
    rows: int
    val_rows: int
    test_rows: int
    epochs: int
    train_ips: float
    predict_ips: float
    views: int = 1
    folds: int = 5
    reserve: float = 10.0
    min_epochs: int = 2
    scale: float = 1.0
    planned: dict[int, int] = field(default_factory=dict)
    stopped: bool = False
    _estimate: float = 0.0
    _said: bool = False

    def epoch_seconds(self) -> float:
        """Estimated seconds of one training epoch of a fold."""
        return self.scale * self.rows / max(self.train_ips, 1e-9)

    def predict_seconds(self) -> float:
        """Estimated seconds of a fold's predictions (validation and test rows, every view)."""
        return self.scale * (self.val_rows + self.test_rows) * self.views / max(self.predict_ips, 1e-9)

    def fold_seconds(self, epochs: int) -> float:
        """Estimated seconds of a fold with ``epochs`` epochs."""
        return epochs * self.epoch_seconds() + self.predict_seconds()

    def epochs_for(self, k: int, left: int) -> int:
        """The epochs fold ``k`` gets when ``left`` folds (this one included) remain; 0: do not start it (the folds
        after it are not started either). Records a cut the first time epochs are cut and when folds are left out."""
        if self.stopped:
            return 0
        if not self.budget.limited:
            return self.epochs
        available = self.budget.remaining() - self.reserve
        each = available / max(left, 1)
        fit = math.floor((each - self.predict_seconds()) / max(self.epoch_seconds(), 1e-9))
        epochs = min(self.epochs, fit)
        if epochs < self.min_epochs:
            if self.fold_seconds(self.min_epochs) > available:
                self.stopped = True
                self.budget.cut(f"cnn folds {k}..{k + left - 1}" if left > 1 else f"cnn fold {k}",
                                f"~{self.fold_seconds(self.min_epochs):.0f} s a fold with {self.min_epochs} epochs, "
                                f"{max(available, 0):.0f} s left before the {self.reserve:.0f} s reserve")
                return 0
            epochs = self.min_epochs
        if epochs < self.epochs and not self._said:
            self._said = True
            self.budget.cut(f"cnn epochs from fold {k}", f"{epochs} of {self.epochs} epochs a fold: ~"
                            f"{self.epoch_seconds():.1f} s an epoch, {left} fold(s) in {max(available, 0):.0f} s")
        self.planned[k] = epochs
        self._estimate = self.fold_seconds(epochs)
        return epochs

    def fold_done(self, seconds: float) -> None:
        """Scale the estimates by how long the last fold really took against its estimate."""
        if self._estimate > 0 and seconds > 0:
            self.scale *= min(max(seconds / self._estimate, 0.25), 4.0)

    def must_stop(self) -> bool:
        """True when a running fold should stop training now: only its predictions and the reserve fit in what is
        left."""
        return self.budget.limited and self.budget.remaining() < self.reserve + self.predict_seconds()
