"""``fit(..., recipe=Recipe(processes=N))``: DistributedDataParallel in forked processes on the CPU (gloo),
compared with one process on the same global batch; only rank 0 writes; a failing worker is named; the same from
a notebook run by ``kit run`` (a papermill kernel), with the model class defined in a notebook cell."""
import json
from dataclasses import replace

import nbformat
import numpy as np
import pytest
import torch
from nbformat.v4 import new_code_cell, new_notebook
from tiny_checkpoints import tiny_checkpoints  # noqa: F401  (the session fixture)
from torch import nn

from kitlib import run, train
from kitlib.errors import ParameterError
from kitlib.fitting import Recipe
from kitlib.train.distributed import RankShare, share_of_batch

RNG = np.random.default_rng(0)
X = RNG.normal(size=(410, 12)).astype("float32")
Y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype("int64")


class Net(nn.Module):
    """A small classifier with a parameter the forward never uses (as a pooler can be)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(12, 24), nn.ReLU(), nn.Linear(24, 2))
        self.unused = nn.Linear(2, 2)

    def forward(self, x):
        return self.body(x)


def _fit(processes: int, checkpoint_dir=None, resume=False, **knobs):
    torch.manual_seed(0)
    model = Net()
    loader = train.tensor_loader(X[:330], Y[:330], batch_size=32, shuffle=True, seed=0)  # the last batch: 10 rows
    val = train.tensor_loader(X[330:], Y[330:], batch_size=40)
    recipe = Recipe(epochs=3, lr=1e-2, device="cpu", progress=False, processes=processes, **knobs)
    result = train.fit(model, loader, val=val, loss_fn=nn.CrossEntropyLoss(), recipe=recipe,
                       checkpoint_dir=checkpoint_dir, resume=resume)
    return model, result


def test_a_rank_takes_every_world_th_row_with_a_weight_that_keeps_the_batch_mean():
    batch = {"input_ids": torch.arange(10).reshape(5, 2), "labels": torch.arange(5), "width": torch.tensor(2)}
    share, weight = share_of_batch(batch, 1, 2)
    assert share["labels"].tolist() == [1, 3] and share["input_ids"].tolist() == [[2, 3], [6, 7]]
    assert share["width"].item() == 2 and weight == pytest.approx(2 * 2 / 5)  # a scalar is not cut
    empty, weight = share_of_batch((torch.ones(1, 3), torch.zeros(1)), 1, 2)  # one row, two ranks
    assert empty[0].shape == (1, 3) and weight == 0.0  # a row to keep the gradient exchange going, weighted 0
    loader = train.tensor_loader(X[:7], Y[:7], batch_size=4)
    shares = [list(RankShare(loader, r, 3)) for r in range(3)]
    assert sorted(sum((s[1].tolist() for part in shares for s in part), [])) == sorted(Y[:7].tolist())
    with pytest.raises(ParameterError, match="batch as first dimension"):
        share_of_batch(["no", "tensors"], 0, 2)


def test_two_processes_train_what_one_process_trains_on_the_same_global_batch():
    one_model, one = _fit(1, accumulate=2, max_grad_norm=1.0, ema=0.9)
    two_model, two = _fit(2, accumulate=2, max_grad_norm=1.0, ema=0.9)
    assert len(two.history) == len(one.history) == 3
    for a, b in zip(one.history, two.history):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-4)
        assert b["val_loss"] == pytest.approx(a["val_loss"], rel=1e-4)
    assert two.best_epoch == one.best_epoch and two.monitor == one.monitor
    for p1, p2 in zip(one_model.state_dict().values(), two_model.state_dict().values()):
        torch.testing.assert_close(p2, p1, rtol=1e-4, atol=1e-5)  # the caller's model holds the trained weights


def test_only_rank_zero_writes_the_checkpoint_and_a_resume_finds_it(tmp_path):
    folder = tmp_path / "checkpoints" / "fold0"
    _, two = _fit(2, checkpoint_dir=folder)
    assert sorted(p.name for p in folder.iterdir()) == ["model.pt", train.TRAIN_STATE]  # no torn or per-rank files
    model, again = _fit(1, checkpoint_dir=folder, resume=True)  # the finished fit: nothing left to train
    assert [h["train_loss"] for h in again.history] == [h["train_loss"] for h in two.history]


def test_a_failing_worker_is_named_and_bad_counts_are_refused():
    def broken(output, target):
        if torch.distributed.get_rank() == 1:
            raise ValueError("the loss of rank one broke")
        return nn.functional.cross_entropy(output, target)

    loader = train.tensor_loader(X[:64], Y[:64], batch_size=16)
    with pytest.raises(RuntimeError, match=r"training process 1 of 2 failed(.|\n)*the loss of rank one broke"):
        train.fit(Net(), loader, loss_fn=broken, recipe=Recipe(epochs=1, device="cpu", progress=False, processes=2))
    with pytest.raises(ParameterError, match="processes must be >= 1"):
        train.fit(Net(), loader, loss_fn=broken, recipe=Recipe(epochs=1, processes=0))



def test_spawned_workers_train_the_same_and_a_cell_defined_model_is_refused_clearly(monkeypatch):
    from kitlib.train import distributed

    monkeypatch.setattr(distributed, "start_method", lambda cuda: "spawn")  # as once CUDA is initialised
    one_model, one = _fit(1)
    two_model, two = _fit(2)
    assert [h["val_loss"] for h in two.history] == pytest.approx([h["val_loss"] for h in one.history], rel=1e-4)

    class Local(nn.Linear):  # as a class defined in a notebook cell: spawn cannot send it
        pass

    loader = train.tensor_loader(X[:64, :2], Y[:64], batch_size=16)
    with pytest.raises(ParameterError, match="cannot be sent to them"):
        train.fit(Local(2, 2), loader, loss_fn=nn.CrossEntropyLoss(),
                  recipe=Recipe(epochs=1, device="cpu", progress=False, processes=2))

NOTEBOOK = '''
import numpy as np, torch
from torch import nn
from kitlib import run as kit_run, train
from kitlib.fitting import Recipe

run = kit_run.start("sentiment-classification", globals())  # any competition: the record is what counts

class Notebook(nn.Module):  # defined in a cell: forked workers see it, spawned ones could not
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(4, 2)

    def forward(self, x):
        return self.layer(x)

rng = np.random.default_rng(0)
x = rng.normal(size=(96, 4)).astype("float32")
y = (x[:, 0] > 0).astype("int64")
torch.manual_seed(0)
model = Notebook()
fitted = train.fit(model, train.tensor_loader(x, y, batch_size=16, shuffle=True), loss_fn=nn.CrossEntropyLoss(),
                   recipe=Recipe(epochs=2, lr=0.05, device="cpu", processes=processes),
                   checkpoint_dir=run.dir / "checkpoints" / "fold0")
run.log_metrics({"train_loss": fitted.history[-1]["train_loss"]})
run.finish()
'''


@pytest.mark.notebook
def test_a_notebook_under_kit_run_trains_with_two_processes(kit_dirs, tmp_path):
    from kitlib.execute import execute

    path = tmp_path / "ddp.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("processes = 1  # training processes",
                                                     metadata={"tags": ["parameters"]}),
                                       new_code_cell(NOTEBOOK)],
                                metadata={"kernelspec": {"name": "python3", "language": "python",
                                                         "display_name": "Python 3"}}), path)
    losses = {}
    for processes in (1, 2):
        run_dir = execute(str(path), {"processes": str(processes)})
        manifest = run.read_manifest(run_dir)
        assert manifest["status"] == "ok", manifest.get("error")
        assert manifest["params"]["processes"] == processes  # the run records its process count
        assert (run_dir / "checkpoints" / "fold0" / train.TRAIN_STATE).is_file()
        losses[processes] = manifest["metrics"]["train_loss"]
    assert losses[2] == pytest.approx(losses[1], rel=1e-4), json.dumps(losses)


def test_the_token_classifier_trains_with_two_processes_as_with_one(tiny_checkpoints):
    from kitlib.tasks import token_classification as tc

    labels = ["O", "B-Application", "I-Application"]
    words = [["We", "used", "GraphPadPrism", "9.0.1", "."], ["Reads", "were", "aligned", "with", "Bowtie2", "."],
             ["Images", "were", "processed", "in", "ImageJ", "."]] * 4
    tags = [["O", "O", "B-Application", "O", "O"], ["O", "O", "O", "O", "B-Application", "O"],
            ["O", "O", "O", "O", "B-Application", "O"]] * 4
    fits = []
    for processes in (1, 2):
        net, tokenizer, _ = tc.load_token_classifier(tiny_checkpoints["bert"], labels, seed=0)
        for module in net.modules():  # no dropout: one process and two then draw nothing and agree exactly
            if isinstance(module, nn.Dropout):
                module.p = 0.0
        to_id = {lab: i for i, lab in enumerate(labels)}
        enc = tc.encode(tokenizer, words, tags, label_to_id=to_id, max_length=16, stride=4)
        val = tc.encode(tokenizer, words[:3], max_length=16, stride=4)
        recipe = replace(tc.TOKEN_CLASSIFIER_RECIPE, epochs=2, lr=1e-3, batch_size=4, device="cpu", progress=False,
                         processes=processes)
        fits.append(tc.fit_token_classifier(net, enc, labels=labels, val=val, val_labels=tags[:3], recipe=recipe))
    one, two = fits
    assert [h["train_loss"] for h in two.history] == pytest.approx([h["train_loss"] for h in one.history], rel=1e-4)
    assert two.best_epoch == one.best_epoch and len(one.val_probs) == len(two.val_probs) == 3
    for a, b in zip(one.val_probs, two.val_probs):  # the caller gets the best model's validation probabilities
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", ["somd-ner", "llm-science-exam"])
def test_the_transformer_notebooks_train_their_folds_with_two_processes(kit_dirs, notebook):
    from kitlib.execute import execute

    run_dir = execute(notebook, {"smoke": "true", "processes": "2"})
    manifest = run.read_manifest(run_dir)
    assert manifest["status"] == "ok", manifest.get("error")
    assert manifest["params"]["processes"] == 2 and manifest["metrics"]
    assert (run_dir / "checkpoints" / "fold0" / train.TRAIN_STATE).is_file()
