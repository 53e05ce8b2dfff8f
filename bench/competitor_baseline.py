"""The competitor's LightGBM baseline (issue 23), and held-out scoring of a submission, for the tabular benches.

The baseline, in full: string columns as pandas ``category``, ``lightgbm.LGBMClassifier`` (or ``LGBMRegressor``)
with default parameters and ``random_state=0``, 5-fold ``StratifiedKFold`` (``KFold`` for regression, shuffled,
seed 0), each fold's model predicting the test rows, the five averaged. Its predictions and a submission are
scored the same way: as a prediction matrix in the kit's column order (``problem.columns``) against the test
rows' labels, with ``problem.score``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from kitlib.tasks.tabular import Problem


def as_categories(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text column as pandas ``category``."""
    out = frame.copy()
    for column in out.columns:
        if not pd.api.types.is_numeric_dtype(out[column]):
            out[column] = out[column].astype("category")
    return out


def baseline_predictions(train: pd.DataFrame, test: pd.DataFrame, problem: Problem, threads: int = 0) -> np.ndarray:
    """The baseline's averaged test predictions ``(len(test), len(problem.columns))`` for the one target of
    ``problem``: class probabilities in label order, or values. ``train`` holds the features and the target
    column; ``test`` the features (the id columns are dropped)."""
    import lightgbm
    from sklearn.model_selection import KFold, StratifiedKFold

    target = problem.targets[0]
    drop = [c for c in (problem.id, target) if c in train.columns]
    X = as_categories(train.drop(columns=drop))
    X_test = as_categories(test[X.columns])
    y = problem.encode(train[[target]])[:, 0]
    params = {"random_state": 0, "verbose": -1, "n_jobs": threads or None}
    if problem.classification:
        splitter, model = StratifiedKFold(5, shuffle=True, random_state=0), lightgbm.LGBMClassifier(**params)
        y = y.astype(np.int64)
    else:
        splitter, model = KFold(5, shuffle=True, random_state=0), lightgbm.LGBMRegressor(**params)
    out = np.zeros((len(X_test), len(problem.columns)))
    for train_idx, _ in splitter.split(X, y):
        fitted = model.fit(X.iloc[train_idx], y[train_idx])
        if problem.classification:
            probs = np.zeros_like(out)
            probs[:, fitted.classes_.astype(np.int64)] = fitted.predict_proba(X_test)
            out += probs / 5
        else:
            out[:, 0] += fitted.predict(X_test) / 5
    return out


def submission_matrix(submission: pd.DataFrame, problem: Problem) -> np.ndarray:
    """A submission (as written by the kit, read as text) as a prediction matrix in ``problem.columns`` order."""
    target = problem.targets[0]
    if problem.holds == "values":
        return submission[target].astype(float).to_numpy()[:, None]
    labels = list(problem.labels[target])
    if problem.holds == "labels":
        codes = problem.encode(submission[[target]], "the submission")[:, 0].astype(np.int64)
        return np.eye(len(labels))[codes]
    if problem.class_columns:
        return submission[[problem.class_columns[label] for label in labels]].astype(float).to_numpy()
    p = submission[target].astype(float).to_numpy()
    return np.stack([1.0 - p, p], axis=1)


def held_out_score(problem: Problem, predictions: np.ndarray, test_ids: pd.Series, labels: pd.DataFrame) -> float:
    """``problem.score`` of ``predictions`` (rows in ``test_ids`` order) against ``labels`` (``id`` and the
    target column, for every test row)."""
    truth = labels.assign(id=labels[problem.id].astype(str)).set_index(problem.id).loc[test_ids.astype(str)]
    y = problem.encode(truth.reset_index()[[problem.targets[0]]], "labels.csv")
    return problem.score(y, predictions)
