"""kitlib.fitting: the vocabulary both training loops share, checked by hand."""
import math

import numpy as np
import optuna
import pytest

from kitlib import fitting
from kitlib.errors import ParameterError


@pytest.mark.parametrize("schedule, step, expected", [
    ("constant", 0, 0.5), ("constant", 1, 1.0), ("constant", 9, 1.0),  # 2 warmup steps of 10
    ("linear", 2, 1.0), ("linear", 6, 0.5), ("linear", 10, 0.0),
    ("cosine", 2, 1.0), ("cosine", 6, 0.5), ("cosine", 4, 0.5 * (1 + math.cos(math.pi * 0.25))),
])
def test_lr_factor_by_hand(schedule, step, expected):
    total, warm = fitting.schedule_steps(schedule, 10, 0.2)
    assert (total, warm) == (10, 2)
    assert float(fitting.lr_factor(np.float64(step), total, warm, schedule)) == pytest.approx(expected)


def test_schedule_and_optimizer_names_are_checked():
    with pytest.raises(ParameterError, match=r"Unknown schedule 'step'; expected one of \['constant', 'linear', 'cosine'\]"):
        fitting.schedule_steps("step", 10, 0.0)
    with pytest.raises(ParameterError, match=r"warmup must be a fraction in \[0, 1\); got 1.5"):
        fitting.schedule_steps("cosine", 10, 1.5)
    with pytest.raises(ParameterError, match=r"Unknown optimizer 'lion'; expected one of \['adamw', 'adam', 'sgd', 'rmsprop'\]"):
        fitting.check_optimizer("lion")


def test_one_better_is_higher_rule_for_both_loops():
    assert fitting.monitor_mode("val_loss") == "min" and fitting.monitor_mode("val_cse_error") == "min"
    assert fitting.monitor_mode("val_accuracy") == "max" and fitting.monitor_mode("val_loss", "max") == "max"
    with pytest.raises(ParameterError, match=r"Unknown mode 'up'; expected one of \['max', 'min'\]"):
        fitting.monitor_mode("val_f1", "up")


def test_monitor_best_counts_stale_epochs():
    best = fitting.MonitorBest("max", patience=2)
    assert [best.update(s, e) for e, s in enumerate([0.5, 0.9, 0.7, 0.6], start=1)] == [True, True, False, False]
    assert (best.best_epoch, best.best_score, best.exhausted) == (2, 0.9, True)
    low = fitting.MonitorBest("min")
    low.update(3.0, 1)
    low.update(1.0, 2)
    assert low.best_score == 1.0 and not low.exhausted


def test_format_logs_and_pruning():
    assert fitting.format_logs({"epoch": 3, "train_loss": 0.41234, "seconds": 4.06}) == "train_loss=0.4123  seconds=4.1s"
    with pytest.raises(ParameterError, match=r"monitor 'val_f1' is not among the epoch logs \['epoch', 'loss'\]"):
        fitting.check_monitor("val_f1", {"epoch": 1, "loss": 0.3})
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=0.5))
    trial = study.ask()
    with pytest.raises(optuna.TrialPruned, match="pruned at epoch 2 with val_f1=0.1"):
        fitting.report_and_prune(trial, {"val_f1": 0.1}, "val_f1", 2)
    assert trial.storage.get_trial(trial._trial_id).intermediate_values == {2: 0.1}
