"""Run folders for the blend tests: a ``kit new``-style binary competition (``spouse``, ROC AUC by default) put in
the registry, and finished runs of it holding given out-of-fold and test probabilities, optionally a ``models/``
table per model (the layout tabular runs keep every model in)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kitlib import predictions, run
from kitlib.competitions import COMPETITIONS, Competition, Predictions, SubmissionSpec
from kitlib.data import file_sha256
from kitlib.tasks.tabular import Problem

N_TEST = 20


def spouse(data_dir: Path, monkeypatch, metric: str = "roc_auc") -> Competition:
    """The ``spouse`` competition (binary target ``target``, labels 0/1, scored by ``metric``), registered for the
    test, with its sample submission in ``data_dir``."""
    problem = Problem(id="id", targets=("target",), task="binary", metric=metric, holds="probabilities",
                      labels={"target": ("0", "1")}, numeric=("x",))
    data_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"id": [f"t{i}" for i in range(N_TEST)], "target": 0.5}).to_csv(
        data_dir / "sample_submission.csv", index=False)

    def to_submission(test: pd.DataFrame, folder: Path) -> pd.DataFrame:
        sample = pd.read_csv(Path(folder) / "sample_submission.csv", dtype=str, keep_default_na=False)
        return problem.to_submission(test, sample)

    comp = Competition(name="spouse", title="spouse", platform="local", slug="spouse", metric=f"val_{metric}",
                       mode=problem.mode, tabular=problem,
                       submission=SubmissionSpec("submission.csv", columns=("id", "target"), key=("id",),
                                                 sample="sample_submission.csv", ranges={"target": (0.0, 1.0)}),
                       predictions=Predictions(key=("id",), target="target", score=problem.score_frame,
                                               to_submission=to_submission))
    monkeypatch.setitem(COMPETITIONS, "spouse", comp)
    return comp


def tables(p: np.ndarray, test_p: np.ndarray, y: np.ndarray, folds: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The out-of-fold and test tables of positive-class probabilities ``p`` and ``test_p``."""
    columns = ["p_0", "p_1"]
    oof = predictions.frame({"id": [f"r{i}" for i in range(len(y))]}, np.c_[1 - p, p], columns, fold=folds,
                            target={"target": np.asarray(y).astype(str)})
    test = predictions.frame({"id": [f"t{i}" for i in range(len(test_p))]}, np.c_[1 - test_p, test_p], columns)
    return oof, test


def spouse_run(runs_dir: Path, name: str, data_dir: Path, p: np.ndarray, y: np.ndarray, folds: np.ndarray,
               models: dict[str, np.ndarray] | None = None, status: str = "ok") -> Path:
    """A finished ``spouse`` run submitting the probabilities ``p`` (its test predictions ``p`` of the first
    :data:`N_TEST` rows); ``models``: name -> probabilities, each kept under ``models/<name>/``."""
    folder = runs_dir / name
    folder.mkdir(parents=True)
    predictions.write(folder, *tables(p, p[:N_TEST], y, folds))
    for model, q in (models or {}).items():
        (folder / "models" / model).mkdir(parents=True)
        predictions.write(folder / "models" / model, *tables(q, q[:N_TEST], y, folds))
    data = [{"path": str(f), "sha256": file_sha256(f)} for f in sorted(data_dir.iterdir()) if f.is_file()]
    run.update_manifest(folder, run_id=name, competition="spouse", status=status, data_dir=str(data_dir), data=data,
                        params={"fold_seed": 0, "seed": 0, "smoke": False},
                        models={m: {"cv": {"mean": 0.5}, "score": 0.5} for m in models or {}})
    return folder


def probability(logit: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logit))
