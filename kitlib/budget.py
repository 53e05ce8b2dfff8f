"""A time budget for a whole run, and the record of what it cut.

A run makes one :class:`Budget` when it starts and hands it down to everything that may take long (the models in
order, the search, each booster's rounds)::

    budget = Budget(900)                        # seconds from now; 0 or None: no limit
    if budget.allows(estimate_s):               # may I start something that takes about estimate_s?
        ...
    else:
        budget.cut("catboost fold 3 refit", f"needs ~{estimate_s:.0f} s, {budget.remaining():.0f} s left")
    budget.exhausted                            # True once the time is spent
    manifest["cut"] = budget.cuts               # [{what, reason, at_s}, ...]

The clock is injectable (any callable returning seconds, ``time.monotonic`` by default), so tests drive a fake
clock and never assert timings. :meth:`Budget.part` gives a smaller budget inside this one (a search that may take
at most half of what is left) that shares its clock and its record of cuts.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from .errors import ParameterError

__all__ = ["Budget"]


class Budget:
    """``seconds`` of wall time from ``start`` (the clock's reading when made, unless given).

    In: ``seconds`` (``0`` or ``None``: no limit; negative is refused), ``clock`` (a callable returning seconds,
    ``time.monotonic`` by default), ``start`` (a reading of that clock). Raises ``ParameterError`` for a negative
    or non-finite limit.
    """

    def __init__(self, seconds: float | None, clock: Callable[[], float] = time.monotonic,
                 start: float | None = None, *, _parent: Budget | None = None):
        if seconds is not None and (not math.isfinite(seconds) or seconds < 0):
            raise ParameterError(f"time budget {seconds!r} s: expected a finite number of seconds >= 0 (0 or None "
                                 f"for no limit)")
        self.seconds: float | None = float(seconds) if seconds else None
        self.clock = clock
        self.start = float(clock() if start is None else start)
        self._parent = _parent
        self._cuts: list[dict[str, Any]] = [] if _parent is None else _parent._cuts

    def __repr__(self) -> str:
        limit = "no limit" if self.seconds is None else f"{self.seconds:g} s"
        return f"Budget({limit}, spent {self.spent():.1f} s, {len(self._cuts)} cut)"

    @property
    def limited(self) -> bool:
        """True when this budget (or one it is part of) has a limit."""
        return self.seconds is not None or (self._parent is not None and self._parent.limited)

    def spent(self) -> float:
        """Seconds since the start."""
        return self.clock() - self.start

    def remaining(self) -> float:
        """Seconds left (never below 0; ``math.inf`` without a limit), the tighter of this budget and the one it
        is part of."""
        own = math.inf if self.seconds is None else max(0.0, self.seconds - self.spent())
        return own if self._parent is None else min(own, self._parent.remaining())

    @property
    def exhausted(self) -> bool:
        """True once the time is spent (never without a limit)."""
        return self.remaining() <= 0.0

    def allows(self, estimate_s: float) -> bool:
        """Whether something estimated to take ``estimate_s`` seconds fits in what is left (always without a
        limit; a zero estimate fits until the budget is spent)."""
        remaining = self.remaining()
        return remaining > 0.0 and estimate_s <= remaining if self.limited else True

    def part(self, seconds: float | None = None, share: float | None = None) -> Budget:
        """A budget inside this one: at most ``seconds`` (or ``share`` of what is left now; neither: all of it),
        never beyond this one's end; it starts now and adds its cuts to this budget's record.

        Raises ``ParameterError`` for both or a share outside (0, 1]."""
        if seconds is not None and share is not None:
            raise ParameterError("give a part of the budget in seconds or as a share of what is left, not both")
        if share is not None:
            if not 0.0 < share <= 1.0:
                raise ParameterError(f"share {share!r} of the budget: expected a number in (0, 1]")
            left = self.remaining()
            seconds = None if math.isinf(left) else max(share * left, 1e-9)
        return Budget(seconds, self.clock, _parent=self)

    def cut(self, what: str, reason: str) -> dict[str, Any]:
        """Record that ``what`` was skipped or stopped, and why (the manifest's ``cut``); returns the record:
        ``{"what", "reason", "at_s"}`` (seconds since the start of the outermost budget)."""
        root = self
        while root._parent is not None:
            root = root._parent
        record = {"what": str(what), "reason": str(reason), "at_s": round(root.spent(), 3)}
        self._cuts.append(record)
        return record

    @property
    def cuts(self) -> list[dict[str, Any]]:
        """A copy of the records of :meth:`cut`, oldest first (shared with the parts of the same budget)."""
        return [dict(c) for c in self._cuts]

    def record(self) -> dict[str, Any]:
        """``{"seconds", "spent", "cut"}`` for the run record (``seconds`` is ``None`` without a limit)."""
        return {"seconds": self.seconds, "spent": round(self.spent(), 3), "cut": self.cuts}

    def stop_study(self, study: Any, trial: Any) -> None:
        """An Optuna callback (``study.optimize(..., callbacks=[budget.stop_study])``): stops the study once the
        budget is spent, and records it."""
        if self.exhausted:
            self.cut(f"search {getattr(study, 'study_name', '')}".strip(),
                     f"time budget spent after trial {getattr(trial, 'number', '?')}")
            study.stop()
