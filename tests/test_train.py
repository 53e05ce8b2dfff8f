import numpy as np
import optuna
import pytest
import torch
from torch import nn

from kitlib import train
from kitlib.runtime import seed_everything
from kitlib.errors import ParameterError


def blobs(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 4)).astype(np.float32) + y[:, None] * 2.0
    return X, y


def accuracy(y, logits):
    return float((logits.argmax(1) == y).mean())


def test_fit_learns_and_records_history():
    X, y = blobs()
    model = nn.Linear(4, 2)
    result = train.fit(model, train.tensor_loader(X, y, batch_size=32, shuffle=True), val=train.tensor_loader(X, y),
                       loss_fn=nn.CrossEntropyLoss(), metric=accuracy, metric_name="acc", epochs=5, lr=0.05,
                       progress=False, seed=0)
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
                       evaluate_fn=lambda m: {"val_f1": next(scores)}, monitor="val_f1", patience=2, epochs=6,
                       lr=0.1, progress=False, callbacks=[keeper])
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4]  # stopped after 2 epochs without gain
    assert result.best_epoch == 2 and result.best_score == 0.9
    torch.testing.assert_close(model.weight, keeper.weights[1])


def test_gradient_accumulation_matches_one_big_batch():
    X, y = blobs(16)
    torch.manual_seed(0)
    a = nn.Linear(4, 2)
    b = nn.Linear(4, 2)
    b.load_state_dict(a.state_dict())
    common = dict(loss_fn=nn.CrossEntropyLoss(), epochs=1, schedule="constant", progress=False)
    train.fit(a, train.tensor_loader(X, y, batch_size=16), optimizer=torch.optim.SGD(a.parameters(), lr=0.5), **common)
    train.fit(b, train.tensor_loader(X, y, batch_size=8), accumulate=2,
              optimizer=torch.optim.SGD(b.parameters(), lr=0.5), **common)
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
    with pytest.raises(ParameterError, match=r"Unknown optimizer 'lion'; expected one of \['adamw', 'adam', 'sgd', 'rmsprop'\]"):
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
    result = train.fit(DictModel(), loader, val=loader, metric=accuracy, epochs=10, lr=0.2, progress=False)
    assert result.best_score > 0.9
    assert train.predict(result.model, loader).shape == (200, 2)


def test_optuna_pruning_callback_prunes():
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=0.99))
    trial = study.ask()
    X, y = blobs()
    with pytest.raises(optuna.TrialPruned, match="pruned at epoch 1"):
        train.fit(nn.Linear(4, 2), train.tensor_loader(X, y), val=train.tensor_loader(X, y),
                  loss_fn=nn.CrossEntropyLoss(), metric=lambda y, o: 0.1, epochs=3, progress=False,
                  callbacks=[train.OptunaPruning(trial)])
    assert trial.storage.get_trial(trial._trial_id).intermediate_values == {1: 0.1}


def test_wrong_monitor_is_an_error():
    X, y = blobs(20)
    with pytest.raises(ParameterError, match="monitor 'val_f1' is not among the epoch logs"):
        train.fit(nn.Linear(4, 2), train.tensor_loader(X, y), loss_fn=nn.CrossEntropyLoss(), monitor="val_f1",
                  epochs=1, progress=False)


def test_same_seed_same_result():
    X, y = blobs()
    runs = []
    for _ in range(2):
        seed_everything(1)
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        train.fit(model, train.tensor_loader(X, y, batch_size=16, shuffle=True, seed=1),
                  loss_fn=nn.CrossEntropyLoss(), epochs=2, progress=False)
        runs.append(train.predict(model, X))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_predict_on_unlabelled_dict_batches():
    X, _ = blobs(10)
    loader = torch.utils.data.DataLoader([{"x": torch.tensor(x, dtype=torch.float32)} for x in X], batch_size=4)
    assert train.predict(DictModel(), loader).shape == (10, 2)
