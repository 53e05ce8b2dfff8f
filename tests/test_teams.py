"""Issue 25's "Done when", as a team works: two kit runs of the sentiment notebook on a generated set (seeds 0 and 1,
no search), the kit's folds handed to a teammate's scikit-learn script, its predictions imported, then ``hill`` and
``stack`` over the three into submissions that validate.

Kept cheap for CI: a few hundred rows, 3 folds, 3 epochs, no Optuna trials and a 30-tree forest (the notebook's
other models unchanged).
"""
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from kitlib import predictions, run, submit
from kitlib.cli import main
from kitlib.competitions import sentiment_classification as sentiment
from kitlib.execute import execute

pytestmark = pytest.mark.notebook

COMP = "sentiment-classification"
SCRIPT = Path(__file__).parent / "outside_model.py"


def test_two_seeds_and_an_outside_model_blended_by_hill_and_stack(kit_dirs, tmp_path, capsys):
    data_dir = sentiment.write_demo(tmp_path / "data", seed=7, n_train=200, n_val=100, n_test=60)
    params = {"data_dir": str(data_dir), "n_trials": "0", "epochs": "3", "n_folds": "3", "rf_trees": "30"}
    seeds = [run.read_manifest(execute(COMP, {**params, "seed": seed})) for seed in ("0", "1")]
    for manifest in seeds:
        assert manifest["status"] == "ok", manifest.get("error")
        assert manifest["params"]["smoke"] is False and len(manifest["cv"]["folds"]) == 3
        assert "MLP (Optuna)" not in manifest["recipes"] and manifest["metrics"]["optuna_trials_pruned"] == 0

    folds_csv = tmp_path / "folds.csv"
    assert main(["folds", COMP, "--data-dir", str(data_dir), "--n-folds", "3", "--out", str(folds_csv)]) == 0
    folds = pd.read_csv(folds_csv)
    for manifest in seeds:
        oof = predictions.read(kit_dirs[0] / manifest["run_id"])[0]
        assert oof[["file", "row", "fold"]].astype(str).values.tolist() == folds.astype(str).values.tolist()

    subprocess.run([sys.executable, str(SCRIPT), str(data_dir), str(folds_csv), str(tmp_path / "teammate")],
                   check=True)
    assert main(["import", COMP, "--oof", str(tmp_path / "teammate" / "oof.csv"), "--test",
                 str(tmp_path / "teammate" / "test.csv"), "--data-dir", str(data_dir), "--n-folds", "3",
                 "-m", "a teammate's logistic regression"]) == 0
    imported = [p.name for p in kit_dirs[0].iterdir() if "-import-" in p.name]
    assert len(imported) == 1 and run.read_manifest(kit_dirs[0] / imported[0])["warnings"] == []

    inputs = [seeds[0]["run_id"], seeds[1]["run_id"], imported[0]]
    capsys.readouterr()
    for method in ("hill", "stack"):
        assert main(["blend", *inputs, "--method", method, "-m", f"two seeds and a teammate, {method}"]) == 0
        printed = capsys.readouterr().out
        assert "in-sample (optimistic)" in printed and "nested: chosen on the other folds" in printed
        blend_dir = Path(printed.split("blend run:")[1].split()[0])
        manifest = run.read_manifest(blend_dir)
        assert manifest["status"] == "ok" and manifest["method"] == method and manifest["inputs"] == inputs
        assert manifest["cv"]["nested"] is True and len(manifest["cv"]["folds"]) == 3
        assert set(manifest["input_scores"]) == set(inputs)
        submit.validate_submission(manifest["submission"]["path"], COMP, data_dir)
