"""kitlib.keras: backend choice, the LR schedule, best weights and early stopping, one line per epoch,
Optuna pruning, wandb logging and seeding. Runs on whatever backend ``KERAS_BACKEND`` names (torch when
unset), so CI can run this file once per backend."""
import importlib.util
import os
from dataclasses import replace

import numpy as np
import pytest

pytestmark = pytest.mark.keras

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import kitlib.keras as kk  # noqa: E402  (sets KERAS_BACKEND=torch unless the environment chose)
from kitlib.errors import MissingDependencyError, ParameterError  # noqa: E402
from kitlib.fitting import Recipe  # noqa: E402

kk.use_backend()
import keras  # noqa: E402


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32")
    y = (x[:, 0] - x[:, 1] > 0).astype("int64")
    return x, y


def _model(seed=0):
    kk.seed_everything(seed)
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)])


def _ce():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def test_backend_is_the_environments_or_torch():
    expected = os.environ.get("KERAS_BACKEND") or "torch"
    assert kk.use_backend() == expected == kk.current_backend()
    expected = r"Unknown Keras backend 'theano'; expected one of \['torch', 'tensorflow', 'jax'\]"
    with pytest.raises(ParameterError, match=expected):
        kk.use_backend("theano")


def test_switching_backend_after_import_is_refused_with_the_way_out():
    other = "tensorflow" if kk.current_backend() != "tensorflow" else "torch"
    if importlib.util.find_spec(other) is None:
        with pytest.raises(MissingDependencyError, match=r"pip install"):
            kk.use_backend(other)
    else:
        expected = rf"already imported with backend .*restart the kernel.*KERAS_BACKEND={other}"
        with pytest.raises(ParameterError, match=expected):
            kk.use_backend(other)


@pytest.mark.parametrize(
    "schedule, expected",
    [
        # lr 1, 10 steps, warmup 0.2 -> 2 warmup steps: 0.5, 1.0, then decay over the remaining 8 steps
        ("cosine", {0: 0.5, 1: 1.0, 2: 1.0, 6: 0.5, 10: 0.0}),
        ("linear", {0: 0.5, 1: 1.0, 2: 1.0, 4: 0.75, 6: 0.5, 10: 0.0}),
        ("constant", {0: 0.5, 1: 1.0, 5: 1.0, 10: 1.0}),
    ],
)
def test_schedule_warms_up_then_decays(schedule, expected):
    sched = kk.make_schedule(1.0, schedule, total_steps=10, warmup=0.2)
    got = {step: float(keras.ops.convert_to_numpy(sched(step))) for step in expected}
    assert got == pytest.approx(expected, abs=1e-6)


def test_schedule_matches_kitlib_train():
    torch = pytest.importorskip("torch")
    from kitlib.train import make_scheduler

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    reference = make_scheduler(opt, "cosine", total_steps=17, warmup=0.1)
    sched = kk.make_schedule(0.1, "cosine", total_steps=17, warmup=0.1)
    for step in range(17):
        assert float(keras.ops.convert_to_numpy(sched(step))) == pytest.approx(reference.get_last_lr()[0], abs=1e-7)
        opt.step()
        reference.step()


def test_unknown_names_list_the_allowed_ones():
    expected = r"Unknown optimizer 'adagrad'; expected one of \['adamw', 'adam', 'sgd', 'rmsprop'\]"
    with pytest.raises(ParameterError, match=expected):
        kk.make_optimizer("adagrad")
    with pytest.raises(ParameterError, match=r"Unknown schedule 'step'"):
        kk.make_schedule(1e-3, "step")
    with pytest.raises(ParameterError, match=r"warmup must be a fraction in \[0, 1\); got 1.5"):
        kk.make_schedule(1e-3, "cosine", warmup=1.5)


def test_best_weights_are_restored_and_patience_stops(capsys):
    x, y = _data()
    scores = iter([0.5, 0.9, 0.7, 0.6, 0.8, 0.95])
    snapshots = []

    def evaluate(model):  # a scripted validation score; remember the weights it was computed on
        snapshots.append([np.array(w) for w in model.get_weights()])
        return {"val_score": next(scores)}

    model = _model()
    result = kk.fit(model, x, y, loss=_ce(), evaluate_fn=evaluate,
                    recipe=Recipe(monitor="val_score", epochs=6, batch_size=32, patience=2, lr=0.05))
    assert [row["epoch"] for row in result.history] == [1, 2, 3, 4]  # epochs 3 and 4 did not improve
    assert result.best_epoch == 2 and result.best_score == pytest.approx(0.9) and result.monitor == "val_score"
    for restored, best in zip(model.get_weights(), snapshots[1]):
        np.testing.assert_array_equal(restored, best)
    assert not np.allclose(snapshots[1][0], snapshots[3][0])  # training did move the weights afterwards
    assert {"loss", "lr", "seconds", "val_score"} <= set(result.history[0])


def test_progress_is_one_line_per_epoch_outside_a_terminal(capsys):
    x, y = _data()
    kk.fit(_model(), x, y, validation_data=(x[:32], y[:32]), loss=_ce(), metrics=["accuracy"],
           recipe=Recipe(epochs=3, batch_size=16, progress=True))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("epoch 1/3") and "val_loss=" in lines[0] and "val_accuracy=" in lines[0]
    assert all("\r" not in line and "\x08" not in line for line in lines)  # no per-batch bar
    kk.fit(_model(), x, y, loss=_ce(), recipe=Recipe(epochs=2, progress=False))
    assert capsys.readouterr().out == ""


def test_monitor_defaults_and_missing_monitor():
    x, y = _data()
    result = kk.fit(_model(), x, y, validation_data=(x, y), loss=_ce(), recipe=Recipe(epochs=2, progress=False))
    assert result.monitor == "val_loss" and result.best_score == min(r["val_loss"] for r in result.history)
    with pytest.raises(ParameterError, match=r"monitor 'val_f1' is not among the epoch logs \['epoch', 'loss'"):
        kk.fit(_model(), x, y, loss=_ce(), recipe=Recipe(monitor="val_f1", epochs=1, progress=False))


def test_lr_follows_the_cosine_schedule_across_epochs():
    x, y = _data(n=64)
    result = kk.fit(_model(), x, y, loss=_ce(),
                    recipe=Recipe(epochs=4, batch_size=32, lr=0.01, schedule="cosine", progress=False))
    lrs = [row["lr"] for row in result.history]  # lr after 2, 4, 6, 8 of 8 steps
    assert lrs == pytest.approx([0.01 * 0.5 * (1 + np.cos(np.pi * s / 8)) for s in (2, 4, 6, 8)], abs=1e-6)


def test_same_seed_same_training():
    x, y = _data()
    recipe = Recipe(epochs=2, batch_size=16, progress=False)
    a = kk.fit(_model(seed=1), x, y, loss=_ce(), recipe=replace(recipe, seed=1))
    b = kk.fit(_model(seed=1), x, y, loss=_ce(), recipe=replace(recipe, seed=1))
    c = kk.fit(_model(seed=2), x, y, loss=_ce(), recipe=replace(recipe, seed=2))
    assert [r["loss"] for r in a.history] == [r["loss"] for r in b.history]
    np.testing.assert_array_equal(a.model.get_weights()[0], b.model.get_weights()[0])
    assert not np.allclose(a.model.get_weights()[0], c.model.get_weights()[0])


def test_optuna_pruning_reports_each_epoch_and_prunes():
    optuna = pytest.importorskip("optuna")
    x, y = _data()
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner())
    trial = study.ask()
    kk.fit(_model(), x, y, validation_data=(x, y), loss=_ce(), metrics=["accuracy"], trial=trial,
           recipe=Recipe(monitor="val_accuracy", epochs=3, progress=False))
    assert sorted(study.trials[0].intermediate_values) == [1, 2, 3]

    # a pruner that prunes any accuracy below 2 (all of them) stops the trial after its first report
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=2.0))

    def objective(trial):
        result = kk.fit(_model(), x, y, validation_data=(x, y), loss=_ce(), metrics=["accuracy"], trial=trial,
                        recipe=Recipe(monitor="val_accuracy", epochs=5, progress=False))
        return result.best_score

    study.optimize(objective, n_trials=1)
    frozen = study.trials[0]
    assert frozen.state == optuna.trial.TrialState.PRUNED
    assert list(frozen.intermediate_values) == [1]


def test_wandb_run_gets_every_epoch():
    class FakeRun:  # the one method kitlib.keras uses of a wandb run
        def __init__(self):
            self.logged = []

        def log(self, values):
            self.logged.append(values)

    run = FakeRun()
    x, y = _data()
    kk.fit(_model(), x, y, validation_data=(x, y), loss=_ce(), callbacks=[kk.callbacks.WandbLogger(run)],
           recipe=Recipe(epochs=2, progress=False))
    assert [row["epoch"] for row in run.logged] == [1, 2]
    assert {"loss", "val_loss", "lr"} <= set(run.logged[0])


def test_fit_needs_a_loss():
    x, y = _data()
    with pytest.raises(ParameterError, match="fit needs loss="):
        kk.fit(_model(), x, y, recipe=Recipe(epochs=1))


def test_ema_validates_keeps_and_returns_the_averaged_weights():
    x, y = _data()
    snapshots = {"raw": [], "ema": []}

    def remember(kind):
        def evaluate(model):
            snapshots[kind].append([np.array(w) for w in model.get_weights()])
            return {}
        return evaluate

    recipe = Recipe(epochs=3, batch_size=16, lr=0.05, seed=0, progress=False)
    kk.fit(_model(), x, y, validation_data=(x, y), loss=_ce(), evaluate_fn=remember("raw"), recipe=recipe)
    model = _model()
    result = kk.fit(model, x, y, validation_data=(x, y), loss=_ce(), evaluate_fn=remember("ema"),
                    recipe=replace(recipe, ema=0.9, max_grad_norm=1.0))
    assert model.optimizer.use_ema and model.optimizer.global_clipnorm == 1.0
    assert not np.allclose(snapshots["raw"][-1][0], snapshots["ema"][-1][0])  # the callbacks saw the average
    best = snapshots["ema"][result.best_epoch - 1]
    for restored, kept in zip(model.get_weights(), best):
        np.testing.assert_allclose(restored, kept)
    model.set_weights(best)  # validation ran on those same averaged weights
    val_loss = float(keras.ops.convert_to_numpy(_ce()(y, model.predict(x, verbose=0))))
    assert result.history[result.best_epoch - 1]["val_loss"] == pytest.approx(val_loss, rel=1e-4)


def test_clipping_and_ema_values_are_checked():
    with pytest.raises(ParameterError, match="give max_grad_norm .* or clipnorm .*, not both"):
        kk.make_optimizer("adamw", clipnorm=1.0, max_grad_norm=1.0)
    with pytest.raises(ParameterError, match=r"ema must be a decay in \(0, 1\)"):
        kk.make_optimizer("adamw", ema=1.0)


def test_the_keras_loop_refuses_the_knobs_it_does_not_have_by_name():
    x, y = _data()
    recipe = Recipe(epochs=1, progress=False, lr_decay=0.9, accumulate=2)
    expected = (r"the Keras loop does not support accumulate, lr_decay; leave them at their defaults "
                r"\(accumulate=1, lr_decay=None\) or train with kitlib.train.fit")
    with pytest.raises(ParameterError, match=expected):
        kk.fit(_model(), x, y, loss=_ce(), recipe=recipe)
    with pytest.raises(ParameterError, match="does not support amp_dtype, processes;"):
        kk.fit(_model(), x, y, loss=_ce(), recipe=Recipe(epochs=1, processes=2, amp_dtype="bf16"))
    # a notebook's "0 means none" values are the defaults again once Recipe.from_params mapped them
    params = {"epochs": 1, "lr_decay": 1.0, "eval_every": 0, "checkpoint_every": 0, "progress": False}
    assert kk.fit(_model(), x, y, loss=_ce(), recipe=Recipe.from_params(params)).history
