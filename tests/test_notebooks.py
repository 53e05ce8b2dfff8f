"""Every competition notebook, executed by papermill through `kit run` in smoke mode."""
import pytest

from kitlib import predictions, run, runs_table, submit
from kitlib.cli import main
from kitlib.competitions import BUILT_IN, COMPETITIONS
from kitlib.competitions import sentiment_classification as sentiment
from kitlib.execute import execute

pytestmark = pytest.mark.notebook

# The sentiment notebook runs twice below (on another data set, to show it is deterministic); a third run
# on the demo data would add nothing that `make demo` does not show.
NOTEBOOKS = [c.name for c in BUILT_IN if c.notebook_path.is_file() and c.name != "sentiment-classification"]


def check_run(run_dir, competition):
    manifest = run.read_manifest(run_dir)
    assert manifest["status"] == "ok", manifest.get("error")
    assert manifest["params"]["smoke"] is True and "COMPETITION" not in manifest["params"]
    metric = COMPETITIONS[competition].metric
    assert metric in manifest["metrics"] and manifest["score"] == manifest["metrics"][metric]
    assert manifest["data"], "input files and their hashes are recorded"
    assert manifest["recipes"] and all(r["epochs"] >= 1 for r in manifest["recipes"].values()), "the recipes trained"
    sub = manifest["submission"]
    submit.validate_submission(sub["path"], competition, manifest["data_dir"])
    return manifest


@pytest.mark.parametrize("competition", NOTEBOOKS)
def test_notebook_smoke_on_demo_data(kit_dirs, competition):
    run_dir = execute(competition, {"smoke": "true"})
    check_run(run_dir, competition)


def test_sentiment_on_another_dataset_is_deterministic(kit_dirs, tmp_path):
    data_dir = sentiment.write_demo(tmp_path / "other", seed=11, n_train=400, n_val=200, n_test=50)
    params = {"smoke": "true", "data_dir": str(data_dir), "seed": "3"}
    first = check_run(execute("sentiment-classification", params), "sentiment-classification")
    second = check_run(execute("sentiment-classification", params), "sentiment-classification")
    assert first["data_dir"] == str(data_dir)
    assert (first["params"]["epochs"], first["params"]["n_trials"]) == (3, 2)  # the smoke values that ran
    assert first["recipes"]["MLP"]["epochs"] == 3 and first["recipes"]["MLP"]["seed"] == 3  # the recipe that ran
    assert first["metrics"] == second["metrics"]
    assert first["submission"]["sha256"] == second["submission"]["sha256"]
    assert first["submission"]["path"] != second["submission"]["path"]
    assert first["cv"]["metric"] == "val_weighted_f1" and len(first["cv"]["folds"]) == 2
    assert first["cv"]["n_rows"] == 400 and first["score"] == pytest.approx(first["cv"]["score"])
    oof, test = predictions.read(kit_dirs[0] / first["run_id"])
    assert len(oof) == 400 and len(test) == 50 and sorted(set(oof["fold"])) == [0, 1]
    assert not oof.duplicated(["file", "row"]).any()
    # kit blend end to end on the two runs: a new run folder whose submission validates
    assert main(["blend", first["run_id"], second["run_id"], "-m", "two seeds"]) == 0
    (blended,) = [r for r in runs_table.list_runs("sentiment-classification", include_all=True) if r.get("kind") == "blend"]
    submit.validate_submission(blended["submission"]["path"], "sentiment-classification", data_dir)
    assert main(["submit", blended["run_id"]]) == 0
