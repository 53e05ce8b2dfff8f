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
    with pytest.raises(ParameterError,
                       match=r"Unknown schedule 'step'; expected one of \['constant', 'linear', 'cosine'\]"):
        fitting.schedule_steps("step", 10, 0.0)
    with pytest.raises(ParameterError, match=r"warmup must be a fraction in \[0, 1\); got 1.5"):
        fitting.schedule_steps("cosine", 10, 1.5)
    with pytest.raises(ParameterError,
                       match=r"Unknown optimizer 'lion'; expected one of \['adamw', 'adam', 'sgd', 'rmsprop'\]"):
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
    logs = {"epoch": 3, "train_loss": 0.41234, "seconds": 4.06}
    assert fitting.format_logs(logs) == "train_loss=0.4123  seconds=4.1s"
    with pytest.raises(ParameterError, match=r"monitor 'val_f1' is not among the epoch logs \['epoch', 'loss'\]"):
        fitting.check_monitor("val_f1", {"epoch": 1, "loss": 0.3})
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=0.5))
    trial = study.ask()
    with pytest.raises(optuna.TrialPruned, match="pruned at epoch 2 with val_f1=0.1"):
        fitting.report_and_prune(trial, {"val_f1": 0.1}, "val_f1", 2)
    assert trial.storage.get_trial(trial._trial_id).intermediate_values == {2: 0.1}


# ------------------------------------------------------------------------------------------- the recipe
def test_every_recipe_field_has_a_default_and_one_line_of_help():
    from dataclasses import MISSING, fields

    for f in fields(fitting.Recipe):
        assert f.default is not MISSING, f.name
        assert f.metadata["help"] and "\n" not in f.metadata["help"], f.name
    assert {f.name for f in fields(fitting.Recipe)} >= {
        "epochs", "lr", "batch_size", "weight_decay", "optimizer", "schedule", "warmup", "accumulate", "max_grad_norm",
        "lr_decay", "ema", "grad_checkpointing", "eval_every", "patience", "monitor", "mode", "amp_dtype",
        "checkpoint_every", "processes", "device", "seed", "progress"}


def test_from_params_maps_the_notebooks_zero_for_none_there_and_only_there():
    params = {"epochs": 2, "lr": 3e-4, "max_grad_norm": 0.0, "ema": 0.0, "eval_every": 0, "checkpoint_every": 0,
              "patience": 0, "lr_decay": 1.0, "data_dir": "ignored", "seed": 0}
    recipe = fitting.Recipe.from_params(params)
    assert (recipe.epochs, recipe.lr, recipe.seed) == (2, 3e-4, 0)  # seed 0 is a seed, not "none"
    assert (recipe.max_grad_norm, recipe.ema, recipe.eval_every, recipe.checkpoint_every, recipe.patience,
            recipe.lr_decay) == (None,) * 6
    kept = fitting.Recipe.from_params({"max_grad_norm": 1.0, "ema": 0.999, "eval_every": 50, "patience": 3,
                                       "lr_decay": 0.9})
    assert (kept.max_grad_norm, kept.ema, kept.eval_every, kept.patience, kept.lr_decay) == (1.0, 0.999, 50, 3, 0.9)
    assert fitting.Recipe(max_grad_norm=0.0).max_grad_norm == 0.0  # the constructor takes values as given


def test_from_params_overrides_apply_after_the_mapping_and_base_fills_the_rest():
    base = fitting.Recipe(warmup=0.1, schedule="linear", epochs=3)
    recipe = fitting.Recipe.from_params({"epochs": 5, "ema": 0.0}, base=base, ema=0.0, lr=1e-2)
    assert (recipe.epochs, recipe.warmup, recipe.schedule, recipe.lr) == (5, 0.1, "linear", 1e-2)
    assert recipe.ema == 0.0  # an override is taken as given
    assert fitting.Recipe.from_params({}) == fitting.Recipe()


def test_from_params_refuses_an_override_that_is_not_a_field_and_names_the_fields():
    with pytest.raises(ParameterError, match=r"Unknown recipe field\(s\) \['epoch', 'rate'\]; the fields are "
                                             r"\['epochs', 'lr', 'batch_size', .*'progress'\]"):
        fitting.Recipe.from_params({}, epoch=3, rate=0.1)


def test_a_recipe_is_frozen_and_records_as_json():
    import dataclasses
    import json

    recipe = fitting.Recipe(epochs=np.int64(3), lr=np.float32(0.5))
    with pytest.raises(dataclasses.FrozenInstanceError):
        recipe.epochs = 4
    record = recipe.record()
    assert json.loads(json.dumps(record)) == record and record["epochs"] == 3 and record["lr"] == 0.5
    assert list(record) == [f.name for f in dataclasses.fields(fitting.Recipe)]
    assert fitting.Recipe(optimizer=object()).record()["optimizer"] == "object"  # an optimiser object: its class


def test_split_takes_a_trials_training_knobs_and_leaves_the_models():
    recipe, rest = fitting.Recipe(epochs=4).split({"lr": 0.01, "weight_decay": 0.0, "hidden": 64, "patience": 0})
    assert (recipe.epochs, recipe.lr, recipe.weight_decay, recipe.patience) == (4, 0.01, 0.0, 0)  # no mapping here
    assert rest == {"hidden": 64}
