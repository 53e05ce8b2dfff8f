"""A ledger filled through the tests' Kaggle stand-in, and what ``kit lb`` prints then: the README's "After the
upload" example, made again with

    .venv/bin/python tests/lb_example.py [FOLDER]     (default: a new temporary folder; nothing else is touched)

Seven ok runs of the project competition ``demo-competition`` (ROC AUC, higher is better) with generated CV
records: six share one fold assignment (their ``oof.parquet``), one has its own folds. Each is uploaded with
``kit submit RUN --upload`` through the REAL kaggle client to :class:`kaggle_stub.StubPlatform`, whose
:class:`kaggle_stub.SubmissionBoard` scores it with the public score :data:`RUNS` gives (five decimals, as
Kaggle writes them; ``lgbm-seed-2`` beats ``lgbm-tuned`` by less than their CV noise); one upload ends
``ERROR``, the last stays ``PENDING``. Then ``kit lb demo-competition``
reads the verdicts back and prints the table; the plot lands in ``FOLDER/submissions/lb-demo-competition.png``.
Every number comes from a fixed seed.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kaggle_stub import KAGGLE_SERVICE, StubPlatform, SubmissionBoard, project_competition  # noqa: E402

SLUG = "demo-competition"
RUNS = [  # run id suffix, CV mean, own folds, what Kaggle does with it, the public score it gives
    ("lgbm-baseline", 0.861, False, "COMPLETE", "0.85870"), ("lgbm-tuned", 0.874, False, "COMPLETE", "0.87190"),
    ("catboost", 0.869, False, "COMPLETE", "0.86540"), ("lgbm-seed-2", 0.875, False, "COMPLETE", "0.87310"),
    ("blend-3", 0.882, False, "COMPLETE", "0.88020"), ("xgb-other-folds", 0.866, True, "ERROR", ""),
    ("blend-4", 0.885, False, "PENDING", ""),
]
N_ROWS, K = 400, 5


def _client_aimed_at(server: StubPlatform, home: Path) -> None:
    """The real kaggle client, aimed at ``server``, with credentials that make no network call (as the
    ``kaggle_client`` fixture does)."""
    from kagglesdk.kaggle_env import KaggleEnv, _env_to_endpoint

    from kitlib.platforms.kaggle import _kaggle_api_class

    os.environ.update(KAGGLE_USERNAME="ada", KAGGLE_KEY="s3cret", KAGGLE_API_ENVIRONMENT="LOCALHOST",
                      KAGGLE_CONFIG_DIR=str(home / "kaggle"), HOME=str(home), NO_PROXY="127.0.0.1,localhost")
    api = _kaggle_api_class()
    api.config_dir, api.config, api.args = str(home / "kaggle"), str(home / "kaggle" / "kaggle.json"), ["--local"]
    _env_to_endpoint[KaggleEnv.LOCAL] = server.base_url


def _runs(project: Path, data: Path, rng: np.random.Generator) -> list[str]:
    """The run folders (manifest, oof.parquet, submission file) of :data:`RUNS`; their ids."""
    from kitlib.data import file_sha256
    from kitlib.runtime import runs_dir, submissions_dir

    shared = rng.permutation(np.arange(N_ROWS) % K)
    ids = []
    for i, (name, mean, own_folds, _, _) in enumerate(RUNS):
        run_id = f"{SLUG}-20260301-1{i}0000-{name}"
        folder = runs_dir() / run_id
        folder.mkdir(parents=True)
        folds = np.round(mean + rng.normal(0, 0.006, K), 5)
        folds += mean - folds.mean()  # the recorded mean is the one above
        pd.DataFrame({"id": np.arange(N_ROWS), "fold": rng.permutation(shared) if own_folds else shared,
                      "target": np.arange(N_ROWS) % 2, "p_1": rng.random(N_ROWS)}).to_parquet(folder / "oof.parquet")
        path = submissions_dir() / SLUG / f"{run_id}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"id,target\n1,{rng.random():.4f}\n2,{rng.random():.4f}\n")
        cv = {"metric": "val_roc_auc", "mean": float(mean), "std": float(np.std(folds)), "folds": folds.tolist()}
        (folder / "manifest.json").write_text(json.dumps({
            "run_id": run_id, "competition": SLUG, "status": "ok", "score": float(mean), "cv": cv,
            "data_dir": str(data), "params": {"smoke": False, "data_dir": str(data), "model": name},
            "submission": {"path": str(path), "sha256": file_sha256(path)}}))
        ids.append(run_id)
    return ids


def main(folder: Path) -> str:
    """Fill the ledger in ``folder`` through the stand-in and return what ``kit lb`` printed."""
    from kitlib import cli

    folder.mkdir(parents=True, exist_ok=True)
    os.environ.update(KIT_PROJECT_DIR=str(folder / "project"), KIT_RUNS_DIR=str(folder / "runs"),
                      KIT_SUBMISSIONS_DIR=str(folder / "submissions"), KIT_UPLOAD_TIMEOUT_S="10",
                      KIT_LB_TIMEOUT_S="5")
    rng = np.random.default_rng(26)
    board = SubmissionBoard()
    verdicts = {}  # file name -> (status, public score)
    server = StubPlatform({})
    sent = {}

    def start(request):
        sent["name"] = request.json()["fileName"]
        return 200, {"token": "t", "createUrl": f"{server.base_url}/upload/t"}

    def create(request):
        board.next_ref += 1
        status, public = verdicts[sent["name"]]
        board.add(board.next_ref, sent["name"], status, public=public if status == "COMPLETE" else None,
                  error="Submission contains NaN in column 'target'" if status == "ERROR" else None)
        return 200, {"message": "Successfully submitted to Demo Competition", "ref": board.next_ref}

    server.routes.update({
        ("POST", f"{KAGGLE_SERVICE}/StartSubmissionUpload"): start, ("PUT", "/upload/t"): lambda r: (200, {}),
        ("POST", f"{KAGGLE_SERVICE}/CreateSubmission"): create,
        ("POST", f"{KAGGLE_SERVICE}/ListSubmissions"): board.list,
        ("POST", f"{KAGGLE_SERVICE}/GetSubmission"): board.get,
        ("POST", f"{KAGGLE_SERVICE}/GetSubmissionLimits"): lambda r: (200, {"numToday": 0, "numAllowedNow": 10})})
    try:
        _client_aimed_at(server, folder / "home")
        data = project_competition(folder / "project", "kaggle", SLUG).parent / f"{SLUG}-data"
        for run_id, (name, _, _, status, public) in zip(_runs(folder / "project", data, rng), RUNS):
            verdicts[f"{run_id}.csv"] = (status, public)
            with contextlib.redirect_stdout(io.StringIO()):
                assert cli.main(["submit", run_id, "--upload", "-m", name]) == 0
        said = io.StringIO()
        with contextlib.redirect_stdout(said):
            cli.main(["lb", SLUG])
        return said.getvalue()
    finally:
        server.close()


if __name__ == "__main__":
    where = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="kit-lb-example-"))
    print(main(where), end="")
