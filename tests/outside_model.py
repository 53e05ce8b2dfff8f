"""A teammate's model made outside the kit, on the kit's folds: what ``kit import`` takes (the README's "Teams and
outside models" shows it; a test runs it).

    kit folds sentiment-classification --n-folds 3 --out folds.csv
    python tests/outside_model.py DATA_DIR folds.csv OUT_DIR [C]
    kit import sentiment-classification --oof OUT_DIR/oof.csv --test OUT_DIR/test.csv --n-folds 3

Plain pandas and scikit-learn, no kitlib: a logistic regression on the standardised embeddings, trained on the other
folds for each fold's rows (its out-of-fold predictions) and averaged over the folds for the test rows. Writes
``oof.csv`` (``file, row, fold, p_negative, p_neutral, p_positive``) and ``test.csv`` (``file, row`` and the
probabilities).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

LABELS = ["negative", "neutral", "positive"]


def embeddings(path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return frame, np.array([json.loads(text) for text in frame["embeddings"]], dtype=np.float64)


def main(data_dir: str, folds_csv: str, out_dir: str, c: float = 0.05) -> None:
    data, out = Path(data_dir), Path(out_dir)
    parts = [(name, *embeddings(data / name)) for name in ("train.csv", "val.csv")]
    keys = pd.concat([pd.DataFrame({"file": name, "row": np.arange(1, len(f) + 1)}) for name, f, _ in parts])
    x = np.concatenate([e for _, _, e in parts])
    y = np.concatenate([f["label"].map(LABELS.index).to_numpy() for _, f, _ in parts])
    rows = keys.reset_index(drop=True).merge(pd.read_csv(folds_csv), on=["file", "row"], how="left")
    fold = rows["fold"].to_numpy()
    _, x_test = embeddings(data / "sample_submission.csv")
    oof, test = np.zeros((len(x), 3)), np.zeros((len(x_test), 3))
    for k in sorted(set(fold[fold >= 0].tolist())):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
        model.fit(x[fold != k], y[fold != k])
        oof[fold == k] = model.predict_proba(x[fold == k])
        test += model.predict_proba(x_test) / len(set(fold[fold >= 0].tolist()))
    columns = [f"p_{label}" for label in LABELS]
    out.mkdir(parents=True, exist_ok=True)
    pd.concat([rows, pd.DataFrame(oof, columns=columns)], axis=1).to_csv(out / "oof.csv", index=False)
    test_keys = pd.DataFrame({"file": "sample_submission.csv", "row": np.arange(1, len(x_test) + 1)})
    pd.concat([test_keys, pd.DataFrame(test, columns=columns)], axis=1).to_csv(out / "test.csv", index=False)


if __name__ == "__main__":
    main(*sys.argv[1:4], *[float(v) for v in sys.argv[4:5]])
