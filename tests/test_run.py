"""Run records (kitlib.run): the manifest, the runs table, wandb tracking into the run folder."""
import json

from kitlib import run


def test_manifest_merges(tmp_path):
    run.update_manifest(tmp_path, metrics={"a": 1.0}, status="running")
    run.update_manifest(tmp_path, metrics={"b": 2.0}, status="ok")
    assert json.loads((tmp_path / "manifest.json").read_text()) == {"metrics": {"a": 1.0, "b": 2.0}, "status": "ok"}


def test_manifest_writers_in_two_processes_lose_no_update(tmp_path):
    import subprocess
    import sys

    script = ("import sys\nfrom kitlib import run\n"
              "for i in range(150):\n    run.update_manifest(sys.argv[1], metrics={f'{sys.argv[2]}{i}': float(i)})\n")
    writers = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path), name])
               for name in ("heartbeat", "kernel")]
    assert [w.wait(timeout=300) for w in writers] == [0, 0]
    metrics = run.read_manifest(tmp_path)["metrics"]
    assert len(metrics) == 300 and metrics["kernel149"] == 149.0 and metrics["heartbeat0"] == 0.0
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


def test_wandb_tracking_writes_offline_into_the_run_folder(kit_dirs, monkeypatch):
    from torch import nn

    from kitlib import train

    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    r = run.start("sentiment-classification", params={"seed": 0, "track": "wandb", "lr": 0.1})
    wb = r.wandb()
    X, y = [[0.0], [1.0]] * 8, [0, 1] * 8
    train.fit(nn.Linear(1, 2), train.tensor_loader(X, y), val=train.tensor_loader(X, y),
              loss_fn=nn.CrossEntropyLoss(), recipe=train.Recipe(epochs=2, progress=False),
              callbacks=[train.WandbLogger(wb)])
    r.log_metrics({"val_weighted_f1": 0.5})
    assert wb.config["lr"] == 0.1 and wb.summary["val_weighted_f1"] == 0.5
    r.finish()
    files = list((r.dir / "wandb").rglob("*.wandb"))
    assert files, "an offline wandb run file is written under the run folder"
    assert run.start("sentiment-classification", params={"track": "none"}).wandb() is None


def test_log_recipe_records_each_models_recipe_by_name(kit_dirs):
    from dataclasses import replace

    from kitlib.fitting import Recipe

    r = run.start("sentiment-classification", params={"seed": 0})
    recipe = Recipe.from_params({"epochs": 3, "max_grad_norm": 0.0, "seed": 0})
    r.log_recipe("MLP", recipe)
    r.log_recipe("relations", replace(recipe, lr=0.5))
    r.log_recipe("MLP", replace(recipe, epochs=4))  # the same name again: the later recipe
    recipes = run.read_manifest(r.dir)["recipes"]
    assert sorted(recipes) == ["MLP", "relations"]
    assert recipes["MLP"] == replace(recipe, epochs=4).record() and recipes["MLP"]["max_grad_norm"] is None
    assert recipes["relations"]["lr"] == 0.5
