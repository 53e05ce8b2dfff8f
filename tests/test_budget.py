"""kitlib.budget: a run's time budget under a fake clock (no test asserts a timing)."""
import math

import pytest

from kitlib.budget import Budget
from kitlib.errors import ParameterError


class FakeClock:
    def __init__(self, now: float = 100.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_a_budget_counts_from_when_it_is_made_and_runs_out():
    clock = FakeClock()
    budget = Budget(60, clock)
    assert budget.spent() == 0 and budget.remaining() == 60 and not budget.exhausted
    clock.advance(45)
    assert budget.spent() == 45 and budget.remaining() == 15
    assert budget.allows(10) and not budget.allows(20)
    clock.advance(15)
    assert budget.exhausted and budget.remaining() == 0 and not budget.allows(0)
    clock.advance(100)
    assert budget.remaining() == 0


def test_a_budget_may_start_at_a_given_reading():
    clock = FakeClock(500)
    budget = Budget(60, clock, start=480)  # the run started 20 s ago
    assert budget.spent() == 20 and budget.remaining() == 40


@pytest.mark.parametrize("seconds", [0, None])
def test_zero_or_none_is_no_limit(seconds):
    clock = FakeClock()
    budget = Budget(seconds, clock)
    clock.advance(1e9)
    assert budget.remaining() == math.inf and not budget.exhausted and budget.allows(1e12)
    assert budget.record()["seconds"] is None


@pytest.mark.parametrize("seconds", [-1, math.inf, math.nan])
def test_a_bad_limit_is_refused(seconds):
    with pytest.raises(ParameterError, match="time budget .* expected a finite number of seconds >= 0"):
        Budget(seconds)


def test_cuts_are_recorded_for_the_manifest():
    clock = FakeClock()
    budget = Budget(100, clock)
    clock.advance(12.5)
    record = budget.cut("catboost", "time budget spent before it started")
    assert record == {"what": "catboost", "reason": "time budget spent before it started", "at_s": 12.5}
    assert budget.cuts == [record]
    budget.cuts.clear()  # a copy
    assert len(budget.cuts) == 1
    assert budget.record() == {"seconds": 100.0, "spent": 12.5, "cut": [record]}


def test_a_part_ends_at_its_own_limit_or_its_parents_and_shares_the_record():
    clock = FakeClock()
    run = Budget(100, clock)
    clock.advance(40)
    search = run.part(seconds=30)
    assert search.remaining() == 30
    clock.advance(31)
    assert search.exhausted and not run.exhausted
    search.cut("search lightgbm", "its share of the budget is spent")
    assert run.cuts[0]["what"] == "search lightgbm" and run.cuts[0]["at_s"] == 71
    half = run.part(share=0.5)  # 29 s left: half is 14.5
    assert half.remaining() == pytest.approx(14.5)
    late = run.part(seconds=1000)
    assert late.remaining() == pytest.approx(29)
    with pytest.raises(ParameterError, match="not both"):
        run.part(seconds=1, share=0.5)
    with pytest.raises(ParameterError, match=r"share 2 of the budget: expected a number in \(0, 1\]"):
        run.part(share=2)
    assert Budget(None, clock).part(share=0.5).remaining() == math.inf


def test_stop_study_stops_an_optuna_study_once_the_budget_is_spent():
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    clock = FakeClock()
    budget = Budget(10, clock)
    study = optuna.create_study(study_name="s")

    def objective(trial):
        clock.advance(4)
        return trial.suggest_float("x", 0, 1)

    study.optimize(objective, n_trials=20, callbacks=[budget.stop_study])
    assert len(study.trials) == 3  # 4, 8, 12 s: the third trial ends past the limit
    assert budget.cuts == [{"what": "search s", "reason": "time budget spent after trial 2", "at_s": 12}]
