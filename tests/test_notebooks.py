"""Every competition notebook, executed by papermill through `kit run` in smoke mode, handing its submission in.

Each smoke run has ``submit`` and ``force_submit`` on (a smoke run is uploaded only when forced): sentiment uploads to
the AIcrowd stand-in (the real aicrowd-cli, from the notebook's kernel, which inherits the stand-in's environment);
the local competitions and the Science Exam (a Kaggle code competition) record the file and say how to hand it in.
No built-in notebook uploads to a Kaggle competition that takes files (tests/test_provenance.py covers that path).
"""
import os
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from kaggle_stub import AICROWD_KEY, aicrowd_env, aicrowd_stub, tls_files  # noqa: F401  (tls_files: fixture)

from kitlib import predictions, run, runs_table, submit
from kitlib.cli import main
from kitlib.competitions import BUILT_IN, COMPETITIONS
from kitlib.competitions import sentiment_classification as sentiment
from kitlib.execute import execute

pytestmark = pytest.mark.notebook

# The sentiment notebook runs twice below (on another data set, to show it is deterministic); a third run
# on the demo data would add nothing that `make demo` does not show.
NOTEBOOKS = [c.name for c in BUILT_IN if c.notebook_path.is_file() and c.name != "sentiment-classification"]
SUBMIT = {"submit": "true", "force_submit": "true"}  # hand the smoke run's file in, past the upload rule


def printed(run_dir) -> str:
    """Everything the executed notebook printed (its stream outputs)."""
    nb = nbformat.read(run_dir / "notebook.ipynb", as_version=4)
    return "".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
                   if out.output_type == "stream")


def aicrowd_upload_routes(base_url: str) -> dict:
    """The AIcrowd stand-in's upload: a presigned form, the file to it, the submission (id 314159)."""
    fields = {"key": "uploads/7/${filename}", "policy": "cG9saWN5", "x-amz-signature": "abc"}
    return {
        ("GET", "/aicrowd-api/challenges/42/participant"): lambda r: (200, {"registered": True}),
        ("GET", "/api/v1/submissions"): lambda r: (200, {"success": True, "data": {"url": f"{base_url}/s3-bucket",
                                                                                   "fields": fields}}),
        ("POST", "/s3-bucket"): lambda r: (204, b""),
        ("POST", "/api/v1/submissions"): lambda r: (200, {"success": True, "data": {"submission_id": 314159}}),
    }


def check_folds(run_dir, competition, manifest, out) -> None:
    """``kit folds --smoke`` gives the folds of the smoke run's ``oof.parquet``: each of its rows in the same fold,
    every unit kit folds puts in the run's validated folds among its rows (issue 25); the recommender says why it
    has none."""
    data = ["--data-dir", manifest["data_dir"]] if Path(manifest["data_dir"]).is_dir() else []
    code = main(["folds", competition, "--smoke", "--out", str(out), *data])
    if COMPETITIONS[competition].predictions is None:
        assert code == 2 and not out.exists()
        return
    assert code == 0
    folds = pd.read_csv(out, dtype=str)
    keys = [c for c in folds.columns if c != "fold"]
    oof = predictions.read(run_dir)[0][[*keys, "fold"]].astype(str)
    merged = oof.merge(folds, on=keys, how="left", suffixes=("", "_kit"))
    assert merged["fold_kit"].tolist() == merged["fold"].tolist()
    validated = folds[folds["fold"].isin(set(oof["fold"]))]
    assert sorted(map(tuple, validated[keys].to_numpy())) == sorted(map(tuple, oof[keys].drop_duplicates().to_numpy()))


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
def test_notebook_smoke_on_demo_data(kit_dirs, tmp_path, competition):
    run_dir = execute(competition, {"smoke": "true", **SUBMIT})
    manifest = check_run(run_dir, competition)
    check_folds(run_dir, competition, manifest, tmp_path / "folds.csv")
    (row,) = submit.read_ledger().itertuples()  # local and code competitions: recorded, not uploaded
    assert row.run_id == manifest["run_id"] and row.upload_status == "not uploaded"
    assert row.message.startswith("[smoke] [demo] ") and row.competition == competition
    how = (f"`kit kernel {competition} --push`" if COMPETITIONS[competition].code_competition else
           "has no upload client; hand in")
    assert "(not uploaded)" in printed(run_dir) and how in printed(run_dir)


def test_sentiment_on_another_dataset_is_deterministic_and_uploads_to_aicrowd(kit_dirs, tmp_path, tls_files,
                                                                               monkeypatch):
    data_dir = sentiment.write_demo(tmp_path / "other", seed=11, n_train=400, n_val=200, n_test=50)
    params = {"smoke": "true", "data_dir": str(data_dir), "seed": "3", **SUBMIT}
    server = aicrowd_stub(tls_files, sentiment.COMPETITION.slug, aicrowd_upload_routes,
                          public=frozenset({("POST", "/s3-bucket")}))
    (tmp_path / "home").mkdir()
    env = aicrowd_env(server, tls_files[0], tmp_path / "home", AICROWD_KEY)  # the kernels inherit it
    for key in set(os.environ) - set(env):
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    try:
        first = check_run(execute("sentiment-classification", params), "sentiment-classification")
        second = check_run(execute("sentiment-classification", params), "sentiment-classification")
    finally:
        server.close()
    uploads = submit.read_ledger()
    assert uploads.upload_status.tolist() == ["uploaded", "uploaded"] and uploads.platform_id.tolist() == ["314159"] * 2
    assert uploads.run_id.tolist() == [first["run_id"], second["run_id"]]
    assert all(m.startswith("[smoke] ") and " CV wF1 " in m for m in uploads.message)  # forced, and marked
    assert len(server.requests_to("POST", "/api/v1/submissions")) == 2
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
    check_folds(kit_dirs[0] / first["run_id"], "sentiment-classification", first, tmp_path / "folds.csv")
    # kit blend end to end on the two runs: a new run folder whose submission validates
    assert main(["blend", first["run_id"], second["run_id"], "-m", "two seeds"]) == 0
    (blended,) = [r for r in runs_table.list_runs("sentiment-classification", include_all=True)
                  if r.get("kind") == "blend"]
    submit.validate_submission(blended["submission"]["path"], "sentiment-classification", data_dir)
    assert main(["submit", blended["run_id"]]) == 0
