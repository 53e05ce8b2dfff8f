"""Every competition notebook, executed by papermill through `kit run` in smoke mode."""
import pytest

from kitlib import run, submit
from kitlib.execute import execute
from kitlib.competitions import COMPETITIONS
from kitlib.competitions import sentiment_classification as sentiment

pytestmark = pytest.mark.notebook

NOTEBOOKS = [c.name for c in COMPETITIONS.values() if c.notebook_path.is_file()]


def check_run(run_dir, competition):
    manifest = run.read_manifest(run_dir)
    assert manifest["status"] == "ok", manifest.get("error")
    metric = COMPETITIONS[competition].metric
    assert metric in manifest["metrics"] and manifest["score"] == manifest["metrics"][metric]
    assert manifest["data"], "input files and their hashes are recorded"
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
    assert first["metrics"] == second["metrics"]
    assert first["submission"]["sha256"] == second["submission"]["sha256"]
    assert first["submission"]["path"] != second["submission"]["path"]


def test_science_exam_on_another_dataset_without_corpus(kit_dirs, tmp_path):
    import shutil

    from kitlib.competitions import llm_science_exam as science_exam

    data_dir = science_exam.write_demo(tmp_path / "other", seed=5)
    shutil.rmtree(data_dir / "corpus")  # retrieval switches itself off
    manifest = check_run(execute("llm-science-exam", {"smoke": "true", "data_dir": str(data_dir)}),
                         "llm-science-exam")
    assert manifest["data_dir"] == str(data_dir)
    assert {"val_map_at_3_zero_shot", "val_map_at_3_contrastive", "val_map_at_3_cross_encoder"} <= set(
        manifest["metrics"])
