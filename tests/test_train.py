from dataclasses import replace

import numpy as np
import optuna
import pytest
import torch
from torch import nn

from kitlib import train
from kitlib.errors import DataError, ParameterError
from kitlib.fitting import Recipe
from kitlib.runtime import seed_everything


def blobs(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 4)).astype(np.float32) + y[:, None] * 2.0
    return X, y


def accuracy(y, logits):
    return float((logits.argmax(1) == y).mean())


def test_fit_learns_and_records_history():
    X, y = blobs()
    seed_everything(0)  # the initial weights (torch's own seed differs from process to process)
    model = nn.Linear(4, 2)
    result = train.fit(model, train.tensor_loader(X, y, batch_size=32, shuffle=True), val=train.tensor_loader(X, y),
                       loss_fn=nn.CrossEntropyLoss(), metric=accuracy, metric_name="acc",
                       recipe=Recipe(epochs=5, lr=0.05, progress=False, seed=0))
    assert result.monitor == "val_acc" and len(result.history) == 5
    assert {"epoch", "train_loss", "val_loss", "val_acc", "lr", "seconds"} <= set(result.history[0])
    assert result.best_score > 0.9
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


class Scripted(train.Callback):
    """Remembers the weights after each epoch."""

    def __init__(self):
        self.weights = []

    def on_epoch_end(self, state, logs):
        self.weights.append(state.model.weight.detach().clone())


def test_early_stopping_restores_best_weights():
    X, y = blobs()
    scores = iter([0.5, 0.9, 0.7, 0.6, 0.8, 0.95])
    keeper = Scripted()
    model = nn.Linear(4, 2)
    result = train.fit(model, train.tensor_loader(X, y, batch_size=50), loss_fn=nn.CrossEntropyLoss(),
                       evaluate_fn=lambda m: {"val_f1": next(scores)}, callbacks=[keeper],
                       recipe=Recipe(monitor="val_f1", patience=2, epochs=6, lr=0.1, progress=False))
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4]  # stopped after 2 epochs without gain
    assert result.best_epoch == 2 and result.best_score == 0.9
    torch.testing.assert_close(model.weight, keeper.weights[1])


def test_gradient_accumulation_matches_one_big_batch():
    X, y = blobs(16)
    torch.manual_seed(0)
    a = nn.Linear(4, 2)
    b = nn.Linear(4, 2)
    b.load_state_dict(a.state_dict())
    common = Recipe(epochs=1, schedule="constant", progress=False)
    train.fit(a, train.tensor_loader(X, y, batch_size=16), loss_fn=nn.CrossEntropyLoss(),
              recipe=replace(common, optimizer=torch.optim.SGD(a.parameters(), lr=0.5)))
    train.fit(b, train.tensor_loader(X, y, batch_size=8), loss_fn=nn.CrossEntropyLoss(),
              recipe=replace(common, accumulate=2, optimizer=torch.optim.SGD(b.parameters(), lr=0.5)))
    torch.testing.assert_close(a.weight, b.weight)


def test_warmup_then_cosine_schedule():
    opt = torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0)
    sched = train.make_scheduler(opt, "cosine", total_steps=10, warmup=0.2)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.5) and lrs[1] == pytest.approx(1.0)
    assert lrs[2] == pytest.approx(1.0) and lrs[-1] < 0.05
    assert all(x >= y for x, y in zip(lrs[1:], lrs[2:]))


def test_unknown_names_list_the_allowed_ones():
    with pytest.raises(ParameterError,
                       match=r"Unknown optimizer 'lion'; expected one of \['adamw', 'adam', 'sgd', 'rmsprop'\]"):
        train.make_optimizer(nn.Linear(1, 1), "lion")
    with pytest.raises(ParameterError, match="Unknown schedule 'step'"):
        train.make_scheduler(torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=1), "step")


class DictModel(nn.Module):
    """Hugging Face style: takes keyword tensors, returns a dict with loss and logits."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 2)

    def forward(self, x, labels=None):
        logits = self.lin(x)
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = nn.functional.cross_entropy(logits, labels)
        return out


class DictData(torch.utils.data.Dataset):
    def __init__(self, X, y):
        self.X, self.y = torch.tensor(X, dtype=torch.float32), torch.tensor(y)

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return {"x": self.X[i], "labels": self.y[i]}


def test_dict_batches_use_the_models_own_loss():
    X, y = blobs()
    loader = torch.utils.data.DataLoader(DictData(X, y), batch_size=32)
    result = train.fit(DictModel(), loader, val=loader, metric=accuracy,
                       recipe=Recipe(epochs=10, lr=0.2, progress=False))
    assert result.best_score > 0.9
    assert train.predict(result.model, loader).shape == (200, 2)


def test_optuna_pruning_callback_prunes():
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=0.99))
    trial = study.ask()
    X, y = blobs()
    with pytest.raises(optuna.TrialPruned, match="pruned at epoch 1"):
        train.fit(nn.Linear(4, 2), train.tensor_loader(X, y), val=train.tensor_loader(X, y),
                  loss_fn=nn.CrossEntropyLoss(), metric=lambda y, o: 0.1, recipe=Recipe(epochs=3, progress=False),
                  callbacks=[train.OptunaPruning(trial)])
    assert trial.storage.get_trial(trial._trial_id).intermediate_values == {1: 0.1}


def test_wrong_monitor_is_an_error():
    X, y = blobs(20)
    with pytest.raises(ParameterError, match="monitor 'val_f1' is not among the epoch logs"):
        train.fit(nn.Linear(4, 2), train.tensor_loader(X, y), loss_fn=nn.CrossEntropyLoss(),
                  recipe=Recipe(monitor="val_f1", epochs=1, progress=False))


def test_same_seed_same_result():
    X, y = blobs()
    runs = []
    for _ in range(2):
        seed_everything(1)
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        train.fit(model, train.tensor_loader(X, y, batch_size=16, shuffle=True, seed=1),
                  loss_fn=nn.CrossEntropyLoss(), recipe=Recipe(epochs=2, progress=False))
        runs.append(train.predict(model, X))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_predict_on_unlabelled_dict_batches():
    X, _ = blobs(10)
    loader = torch.utils.data.DataLoader([{"x": torch.tensor(x, dtype=torch.float32)} for x in X], batch_size=4)
    assert train.predict(DictModel(), loader).shape == (10, 2)


# --------------------------------------------------------------------------- checkpoints and resuming
class Interrupted(Exception):
    """Stands for the end of a Kaggle session."""


class CountingLoss:
    """Cross-entropy that raises ``Interrupted`` at its ``at``-th call (training and validation batches)."""

    def __init__(self, at=None):
        self.calls, self.at = 0, at

    def __call__(self, output, target):
        self.calls += 1
        if self.at is not None and self.calls == self.at:
            raise Interrupted(f"call {self.calls}")
        return nn.functional.cross_entropy(output, target)


def _resumable_fit(folder, loss_fn, resume=False, **recipe):
    X, y = blobs(96)
    seed_everything(3)  # the initial weights; dropout and shuffling make every random state matter
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 2))
    result = train.fit(model, train.tensor_loader(X, y, batch_size=8, shuffle=True, seed=1),
                       val=train.tensor_loader(X, y, batch_size=32), loss_fn=loss_fn, metric=accuracy,
                       recipe=Recipe(epochs=4, lr=0.05, progress=False, seed=5, **recipe), checkpoint_dir=folder,
                       resume=resume)
    return model, result


def _without_seconds(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


@pytest.mark.parametrize("interrupt_at", [20, 30, 44], ids=["mid-epoch", "in-validation", "third-epoch"])
@pytest.mark.parametrize("recipe", [{}, {"ema": 0.9, "checkpoint_every": 5, "eval_every": 4, "accumulate": 2}],
                         ids=["per-epoch", "every-5-steps-ema-eval-every-4"])
def test_an_interrupted_then_resumed_fit_equals_an_uninterrupted_one(tmp_path, interrupt_at, recipe):
    whole_model, whole = _resumable_fit(tmp_path / "whole", CountingLoss(), **recipe)
    with pytest.raises(Interrupted):
        _resumable_fit(tmp_path / "cut", CountingLoss(at=interrupt_at), **recipe)
    assert (tmp_path / "cut" / train.TRAIN_STATE).is_file()
    torch.load(tmp_path / "cut" / train.TRAIN_STATE, weights_only=True)  # tensors and plain values only
    resumed_model, resumed = _resumable_fit(tmp_path / "cut", CountingLoss(), resume=True, **recipe)
    for a, b in zip(whole_model.state_dict().values(), resumed_model.state_dict().values()):
        assert torch.equal(a, b)
    assert _without_seconds(resumed.history) == _without_seconds(whole.history)
    assert (resumed.best_epoch, resumed.best_score) == (whole.best_epoch, whole.best_score)
    assert sorted(p.name for p in (tmp_path / "cut").iterdir()) == ["model.pt", "train_state.pt"]  # nothing torn


def test_checkpoint_folder_keeps_the_best_weights_and_a_finished_fit_resumes_to_its_result(tmp_path):
    model, result = _resumable_fit(tmp_path, CountingLoss())
    best = torch.load(tmp_path / "model.pt", weights_only=True)
    for key, value in model.state_dict().items():  # the returned model is the best, and so is the file
        assert torch.equal(best[key], value)
    record = torch.load(tmp_path / train.TRAIN_STATE, weights_only=True)
    assert record["finished"] and "model" not in record and "optimizer" not in record  # the disk holds the best only
    again_model, again = _resumable_fit(tmp_path, CountingLoss(at=1), resume=True)  # nothing left to train
    assert _without_seconds(again.history) == _without_seconds(result.history)
    assert torch.equal(again_model[0].weight, model[0].weight)


def test_a_state_written_before_plain_rng_states_still_resumes_exactly(tmp_path):
    """Earlier kits saved NumPy's random state as an array: NumPy arrays of plain data stay loadable."""
    from kitlib.train.checkpoint import load_safely

    whole_model, whole = _resumable_fit(tmp_path / "whole", CountingLoss(), checkpoint_every=5)
    with pytest.raises(Interrupted):
        _resumable_fit(tmp_path / "cut", CountingLoss(at=20), checkpoint_every=5)
    state = load_safely(tmp_path / "cut" / train.TRAIN_STATE)
    assert state["batch"] > 0  # saved mid-epoch: the random states now and at the epoch's start
    for key in ("rng", "epoch_rng"):
        name, keys, *rest = state[key]["numpy"]
        state[key]["numpy"] = (name, keys.numpy().astype(np.uint32), *rest)  # as np.random.get_state() gives it
    torch.save(state, tmp_path / "cut" / train.TRAIN_STATE)
    resumed_model, resumed = _resumable_fit(tmp_path / "cut", CountingLoss(), resume=True, checkpoint_every=5)
    for a, b in zip(whole_model.state_dict().values(), resumed_model.state_dict().values()):
        assert torch.equal(a, b)
    assert _without_seconds(resumed.history) == _without_seconds(whole.history)


@pytest.mark.parametrize("planted", [train.TRAIN_STATE, "model.pt"])
def test_a_planted_checkpoint_that_would_run_code_is_refused_in_one_line_naming_it(tmp_path, planted):
    """A checkpoint folder may come from elsewhere (-p checkpoints, -p resume): nothing in it may run code."""
    from tiny_checkpoints import plant_code

    _resumable_fit(tmp_path / "run", CountingLoss())  # a finished fit: its record and its best weights
    path = plant_code(tmp_path / "run" / planted, tmp_path / "ran")
    with pytest.raises(DataError) as caught:
        _resumable_fit(tmp_path / "run", CountingLoss(), resume=True)
    message = str(caught.value)
    assert message.startswith(f"{path}: refused to load (it calls posix.system): checkpoints are read with "
                              "torch.load(weights_only=True)") and "\n" not in message
    assert not (tmp_path / "ran").exists()  # the command never ran
    with pytest.raises(DataError, match="not a readable torch checkpoint"):
        (tmp_path / "run" / "model.pt").write_bytes(b"not a checkpoint")
        train.load_best_weights(tmp_path / "run", nn.Linear(1, 1))


def test_resuming_refuses_a_state_of_other_settings(tmp_path):
    _resumable_fit(tmp_path, CountingLoss())
    with pytest.raises(ParameterError, match=r"saved by a fit with other settings \(lr 0.05 there, 0.1 here\)"):
        X, y = blobs(96)
        train.fit(nn.Linear(4, 2), train.tensor_loader(X, y, batch_size=8, shuffle=True, seed=1),
                  val=train.tensor_loader(X, y, batch_size=32), loss_fn=nn.CrossEntropyLoss(), metric=accuracy,
                  recipe=Recipe(epochs=4, lr=0.1, progress=False), checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(ParameterError, match="resume=True needs checkpoint_dir"):
        train.fit(nn.Linear(4, 2), [], loss_fn=nn.CrossEntropyLoss(), resume=True, recipe=Recipe(progress=False))


# ----------------------------------------------------------------------------------------- the recipe
def test_ema_by_hand_evaluation_and_the_returned_model_use_the_average():
    X, y = blobs(32)
    seed_everything(0)
    model = nn.Linear(4, 2)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    result = train.fit(model, train.tensor_loader(X, y, batch_size=8), val=train.tensor_loader(X, y, batch_size=32),
                       loss_fn=nn.CrossEntropyLoss(),
                       recipe=Recipe(optimizer=torch.optim.SGD(model.parameters(), lr=0.5), schedule="constant",
                                     epochs=1, ema=0.8, progress=False))
    hand = nn.Linear(4, 2)
    hand.load_state_dict(start)
    average = [p.detach().clone() for p in hand.parameters()]
    opt = torch.optim.SGD(hand.parameters(), lr=0.5)
    for n, (xb, yb) in enumerate(train.tensor_loader(X, y, batch_size=8)):
        opt.zero_grad()
        nn.functional.cross_entropy(hand(xb), yb).backward()
        opt.step()
        d = min(0.8, (1 + n) / (10 + n))  # the warm-up of kitlib.train.ModelEMA
        average = [d * a + (1 - d) * p.detach() for a, p in zip(average, hand.parameters())]
    for got, want in zip(model.parameters(), average):
        torch.testing.assert_close(got, want)
    with torch.no_grad():
        hand.weight.copy_(average[0])
        hand.bias.copy_(average[1])
        val_loss = float(nn.functional.cross_entropy(hand(torch.as_tensor(X).float()), torch.as_tensor(y)))
    assert result.history[0]["val_loss"] == pytest.approx(val_loss, rel=1e-5)


def test_ema_swaps_in_place_and_back():
    seed_everything(0)
    model = nn.Linear(3, 1)
    ema = train.ModelEMA(model, 0.5)
    live = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    ema.update(model)  # first update: d = min(0.5, 1/10) = 0.1
    ema.swap(model)
    torch.testing.assert_close(model.weight, 0.1 * live + 0.9 * (live + 1.0))
    ema.swap(model)
    torch.testing.assert_close(model.weight, live + 1.0)
    with pytest.raises(ParameterError, match=r"ema must be a decay in \(0, 1\)"):
        train.ModelEMA(model, 1.5)


def test_eval_every_adds_rows_between_epoch_ends():
    X, y = blobs(64)
    seed_everything(0)
    result = train.fit(nn.Linear(4, 2), train.tensor_loader(X, y, batch_size=8), val=train.tensor_loader(X, y),
                       loss_fn=nn.CrossEntropyLoss(), metric=accuracy,
                       recipe=Recipe(epochs=2, eval_every=3, progress=False))
    assert [(r["epoch"], r["step"]) for r in result.history] == [(1, 3), (1, 6), (1, 8), (2, 9), (2, 12), (2, 15),
                                                                (2, 16)]
    assert result.best_step == result.history[[r["val_score"] for r in result.history].index(result.best_score)]["step"]


def _tiny_bert(num_labels=3):
    from transformers import BertConfig, BertForTokenClassification

    seed_everything(0)
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
                        intermediate_size=32, num_labels=num_labels, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0)
    return BertForTokenClassification(config)


def test_layer_wise_lr_decay_groups_by_depth():
    model = _tiny_bert()
    opt = train.make_optimizer(model, "adamw", lr=1.0, weight_decay=0.01, lr_decay=0.5)
    lr_of = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    wd_of = {id(p): g["weight_decay"] for g in opt.param_groups for p in g["params"]}
    assert lr_of[id(model.classifier.weight)] == 1.0
    assert lr_of[id(model.bert.encoder.layer[2].attention.self.query.weight)] == 0.5
    assert lr_of[id(model.bert.encoder.layer[0].output.dense.weight)] == 0.125
    assert lr_of[id(model.bert.embeddings.word_embeddings.weight)] == 0.0625
    assert wd_of[id(model.bert.embeddings.LayerNorm.weight)] == 0.0 and wd_of[id(model.classifier.weight)] == 0.01
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))
    no_decay = train.make_optimizer(model, "adamw", lr=1.0)
    assert [g["lr"] for g in no_decay.param_groups] == [1.0, 1.0]
    with pytest.raises(ParameterError, match=r"lr_decay must be in \(0, 1\]"):
        train.make_optimizer(model, lr_decay=0.0)
    with pytest.raises(ParameterError, match="cannot find the encoder layers of Linear"):
        train.make_optimizer(nn.Linear(2, 2), lr_decay=0.9)
    with pytest.raises(ParameterError, match="lr_decay builds the optimiser's parameter groups"):
        train.fit(model, [], recipe=Recipe(optimizer=torch.optim.SGD(model.parameters(), lr=1), lr_decay=0.9,
                                           progress=False))


def test_gradient_checkpointing_gives_the_same_training():
    batch = {"input_ids": torch.randint(0, 50, (4, 7)), "labels": torch.randint(0, 3, (4, 7))}
    results = []
    for checkpointing in (False, True):
        model = _tiny_bert()
        train.fit(model, [batch, batch], recipe=Recipe(epochs=2, lr=1e-2, grad_checkpointing=checkpointing,
                                                       max_grad_norm=1.0, progress=False, seed=0))
        results.append(model.classifier.weight.detach())
    torch.testing.assert_close(results[0], results[1])
    with pytest.raises(ParameterError, match="grad_checkpointing needs a transformers model"):
        train.fit(nn.Linear(4, 2), [], recipe=Recipe(grad_checkpointing=True, progress=False))


# ----------------------------------------------------------------------------------- ragged outputs
class Tagger(nn.Module):
    """Token-level logits ``(batch, width, 3)``: the width is each batch's own."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 3)

    def forward(self, input_ids, labels=None):
        return self.emb(input_ids)


def test_evaluate_and_predict_pad_ragged_token_outputs():
    batches = [{"input_ids": torch.ones(2, 3, dtype=torch.long), "labels": torch.zeros(2, 3, dtype=torch.long)},
               {"input_ids": torch.ones(1, 5, dtype=torch.long), "labels": torch.ones(1, 5, dtype=torch.long)}]
    targets, outputs, loss = train.evaluate(Tagger(), batches, loss_fn=lambda o, t: o.sum() * 0)
    assert outputs.shape == (3, 5, 3) and targets.shape == (3, 5) and loss == 0.0
    assert np.isnan(outputs[:2, 3:]).all() and np.isfinite(outputs[:2, :3]).all() and np.isfinite(outputs[2]).all()
    assert (targets[:2, 3:] == -100).all() and (targets[2] == 1).all()
    assert train.predict(Tagger(), [{"input_ids": b["input_ids"]} for b in batches]).shape == (3, 5, 3)


def test_fit_on_cpu_takes_every_amp_dtype_and_refuses_others():
    X, y = blobs(16)
    for amp_dtype in ("auto", "bf16", "fp16", "off", True, False):
        train.fit(nn.Linear(4, 2), train.tensor_loader(X, y), loss_fn=nn.CrossEntropyLoss(),
                  recipe=Recipe(epochs=1, amp_dtype=amp_dtype, progress=False))  # the CPU runs fp32 whatever is asked
    with pytest.raises(ParameterError,
                       match=r"Unknown amp_dtype 'fp8'; expected one of \['auto', 'bf16', 'fp16', 'off'\]"):
        train.fit(nn.Linear(4, 2), train.tensor_loader(X, y), loss_fn=nn.CrossEntropyLoss(),
                  recipe=Recipe(amp_dtype="fp8", progress=False))
