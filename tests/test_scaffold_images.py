"""kit new + kit run for image competitions (issue 27): a generated set in each layout, its template inferred,
the smoke run end to end in a temporary project (every model's tables, the final choice, a submission that
validates), and the kernel bundle with the run's network weights attached as the ``model`` folder."""
import json

import nbformat
import pandas as pd
import pytest
from image_sets import write_image_set

from kitlib import cli, runs_table, submit
from kitlib.competitions import get_competition
from kitlib.execute import notebook_parameters
from kitlib.scaffold import TEMPLATE_DIR

TEMPLATE = TEMPLATE_DIR / "image.ipynb"


def test_the_image_template_declares_every_knob_with_its_help():
    declared = notebook_parameters(TEMPLATE)
    assert {"data_dir", "fold_seed", "seed", "smoke", "device", "submit", "force_submit", "track", "time_limit",
            "models", "image_size", "model", "epochs", "lr", "batch_size", "amp_dtype", "augment",
            "tta"} <= set(declared)
    assert all(info.get("help") for info in declared.values())
    assert str(declared["time_limit"]["default"]) == "900"


@pytest.mark.notebook
@pytest.mark.parametrize("layout, id_column", [("table", "image_id"), ("folders", "file")])
def test_new_then_run_in_smoke_mode_in_each_layout(tmp_path, kit_project, kit_dirs, capsys, layout, id_column):
    folder = tmp_path / "data"
    write_image_set(folder, layout=layout, n_train=36, n_test=9, classes=3, seed=1)
    assert cli.main(["new", "shapes", "--data-dir", str(folder)]) == 0
    said = capsys.readouterr().out
    assert "template:   image" in said and f"{layout} layout" in said
    assert get_competition("shapes").template == "image"
    assert cli.main(["run", "shapes", "-p", "smoke", "true", "-q"]) == 0
    (manifest,) = runs_table.list_runs("shapes", include_all=True)
    assert manifest["status"] == "ok" and manifest["cv"]["metric"] == "val_accuracy"
    assert len(manifest["cv"]["folds"]) == 2 and set(manifest["models"]) == {"pixels", "cnn"}
    assert manifest["final"]["kind"] in ("model", "ensemble") and manifest["recipes"]["cnn"]["epochs"] == 1
    run_dir = kit_dirs[0] / manifest["run_id"]
    for model in ("pixels", "cnn"):
        oof = pd.read_parquet(run_dir / "models" / model / "oof.parquet")
        assert len(oof) == 36 and set(oof.fold) == {0, 1} and {"p_circle", "p_square", id_column} <= set(oof.columns)
    assert (run_dir / "models" / "cnn" / "weights" / "cnn.pt").is_file()
    # kit folds --smoke gives the run's folds (issue 25): the same ids in the same folds
    assert cli.main(["folds", "shapes", "--smoke", "--out", str(tmp_path / "folds.csv")]) == 0
    folds = pd.read_csv(tmp_path / "folds.csv", dtype=str)
    oof = pd.read_parquet(run_dir / "oof.parquet")
    assert folds.values.tolist() == oof[[id_column, "fold"]].astype(str).values.tolist()
    path = manifest["submission"]["path"]
    submit.validate_submission(path, "shapes", folder)
    written = pd.read_csv(path, dtype=str)
    assert list(written[id_column]) == list(pd.read_csv(folder / "sample_submission.csv", dtype=str)[id_column])
    assert set(written.label) <= {"circle", "square", "triangle"}
    if layout == "folders":
        from kitlib import kernel

        out = kernel.build_bundle("shapes", {}, tmp_path / "bundle", username="ada",
                                  model=run_dir / "models" / "cnn" / "weights")
        bundle = json.loads((out / "bundle.json").read_text())
        assert [a["role"] for a in bundle["datasets"]] == ["model"], bundle  # no text model for images
        nb = nbformat.read(out / "shapes.ipynb", as_version=4)
        assert any("model = " in c.source and "injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
