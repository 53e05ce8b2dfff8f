"""The text template as a user meets it, scored on held-out labels: ``kit new`` (template inferred) then ``kit run``
with defaults in a temporary project, against the competitor's baseline (scikit-learn's ``TfidfVectorizer()`` +
``LogisticRegression()`` with their defaults, fitted on every training row) on the same test rows.

Not part of ``make bench`` (a default run takes up to its 900 s budget). Run::

    python bench/text_quality.py [--kind binary] [--n-train 3000] [--n-test 1000] [-p NAME VALUE ...]
    python bench/text_quality.py --data-dir DIR --solution FILE   # a folder in Kaggle's layout and its labels

Generated sets come from tests/text_sets.py (held-out labels in ``<folder>.solution.csv``). Printed: the run's CV
of every model and of the ensemble, its cuts and wall time, and the held-out ROC AUC (binary targets; the mean over
targets for several) or the metric's value of the submission and of the baseline.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def baseline(train: pd.DataFrame, test: pd.DataFrame, text_columns: list[str], target: str) -> np.ndarray:
    """The competitor's TF-IDF + logistic regression: the positive class's probability for each test row."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from kitlib.tasks.text import join_texts

    vectorizer = TfidfVectorizer()
    X = vectorizer.fit_transform(join_texts(train, text_columns))
    model = LogisticRegression(max_iter=1000).fit(X, train[target].astype(str))
    return model.predict_proba(vectorizer.transform(join_texts(test, text_columns)))[:, -1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", default="binary")
    parser.add_argument("--n-train", type=int, default=3000)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir")
    parser.add_argument("--solution")
    parser.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    args = parser.parse_args()
    from sklearn.metrics import roc_auc_score

    work = Path(tempfile.mkdtemp(prefix="text-quality-"))
    if args.data_dir:
        folder, solution = Path(args.data_dir), Path(args.solution)
    else:
        from text_sets import write_text_set

        folder = write_text_set(work / args.kind, args.kind, args.n_train, args.n_test, seed=args.seed)
        solution = folder.with_name(folder.name + ".solution.csv")
    env = {**os.environ, "KIT_PROJECT_DIR": str(work / "project"), "KIT_RUNS_DIR": str(work / "runs"),
           "KIT_SUBMISSIONS_DIR": str(work / "submissions")}
    kit = [str(Path(sys.executable).parent / "kit")]
    subprocess.run([*kit, "new", "quality", "--data-dir", str(folder), "--platform", "local"], env=env, check=True)
    started = time.perf_counter()
    params = [x for name, value in args.param for x in ("-p", name, value)]
    subprocess.run([*kit, "run", "quality", "-q", *params], env=env, check=True)
    wall = time.perf_counter() - started
    (manifest_path,) = (work / "runs").glob("quality-*/manifest.json")
    manifest = json.loads(manifest_path.read_text())
    print(f"\nrun {manifest['run_id']}: status {manifest['status']}, wall {wall:.0f} s")
    for name, record in manifest.get("models", {}).items():
        cv = record["cv"]
        print(f"  {name:12s} CV {cv['mean']:.4f} +- {cv['std']:.4f}  out of fold {record['score']:.4f}  "
              f"{record['seconds']:.0f} s")
    print(f"  final {manifest['final']}: CV {manifest['cv']['mean']:.4f} +- {manifest['cv']['std']:.4f}")
    for cut in manifest.get("cut", []):
        print(f"  cut: {cut['what']}: {cut['reason']}")
    spec = (work / "project" / "competitions" / "quality.toml").read_text()
    import tomllib

    doc = tomllib.loads(spec)
    text_columns, targets = doc["inputs"]["text_columns"], doc["columns"]["targets"]
    train, test = pd.read_csv(folder / "train.csv", dtype=str), pd.read_csv(folder / "test.csv", dtype=str)
    truth = pd.read_csv(solution, dtype=str).set_index(doc["columns"]["id"]).loc[test[doc["columns"]["id"]]]
    submitted = pd.read_csv(manifest["submission"]["path"], dtype=str).set_index(doc["columns"]["id"])
    submitted = submitted.loc[test[doc["columns"]["id"]]]
    if doc["task"] != "binary":
        print(f"held-out: task {doc['task']}: see the run's CV (the held-out comparison is for binary targets)")
        return 0
    ours, theirs = [], []
    for target in targets:
        positive = doc["labels"][target][-1]
        y = (truth[target].astype(str) == positive).astype(int).to_numpy()
        ours.append(roc_auc_score(y, submitted[target].astype(float)))
        theirs.append(roc_auc_score(y, baseline(train, test, text_columns, target)))
    print(f"held-out ROC AUC: submission {np.mean(ours):.4f}, TF-IDF + logistic regression {np.mean(theirs):.4f}, "
          f"difference {np.mean(ours) - np.mean(theirs):+.4f} (target >= +0.01)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
