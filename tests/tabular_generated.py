"""Generated tabular competitions with the structure of real ones, in Kaggle's layout, with held-out labels: for
the quality checks of the tabular template (bench/bench_tabular.py) and the tests that need a realistic set.

:func:`realistic` draws one table: twelve numeric columns (normal, skewed, counts, a correlated pair, four of pure
noise), six categorical ones (3 to 200 values with Zipf-like frequencies, one of pure noise) and a signal with
non-linear effects, interactions (a number with a number, a category with a number), a missing value that says
something, values missing at random and depending on another column. :func:`write_realistic_set` writes it as a
competition (``train.csv``, ``test.csv``, ``sample_submission.csv``) and the test rows' labels beside it
(``labels.csv``, outside the competition's folder), so a run's submission can be scored as a leaderboard would.

Tasks (:data:`TASKS`): ``binary`` (0/1, probabilities in the sample: ROC AUC), ``binary-labels`` (text labels
``yes``/``no`` in the sample: accuracy), ``multiclass`` (three text labels of unequal shares: accuracy),
``multiclass-proba`` (five classes, one probability column per class: log loss) and ``regression`` (values, with
missing values in more columns: RMSE). :func:`generated` gives one set as frames, for the bench's 1,000,000-row
timing (any number of extra columns).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

TASKS = ("binary", "binary-labels", "multiclass", "multiclass-proba", "regression")
CLASS_NAMES = {"binary-labels": ("no", "yes"), "multiclass": ("Dropout", "Enrolled", "Graduate"),
               "multiclass-proba": ("A", "B", "C", "D", "E")}


def _categorical(rng: np.random.Generator, n: int, levels: int, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """``(values, codes)``: ``levels`` text values with Zipf-like frequencies."""
    p = 1.0 / np.arange(1, levels + 1) ** 0.9
    codes = rng.choice(levels, size=n, p=p / p.sum())
    return np.array([f"{prefix}{i}" for i in range(levels)], dtype=object)[codes], codes


def realistic(n: int, seed: int = 0, extra_numeric: int = 0, extra_categorical: int = 0
              ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """``(features, signal, second)``: ``n`` rows of the columns the module docstring lists (plus
    ``extra_numeric`` noise numbers and ``extra_categorical`` noise categories), the signal before noise, and a
    second signal (multiclass logits). The same arguments give the same values."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({f"num_{i}": rng.normal(size=n) for i in range(4)})
    X["num_4"] = np.exp(rng.normal(1.0, 0.8, size=n))  # skewed, like an amount
    X["num_5"] = rng.poisson(2.5, size=n).astype(np.float64)  # a count
    X["num_6"] = rng.uniform(0, 100, size=n)
    X["num_7"] = 0.8 * X.num_0 + 0.6 * rng.normal(size=n)  # correlated with num_0
    for i in range(8, 12):
        X[f"num_{i}"] = rng.normal(size=n) * rng.uniform(0.5, 20)  # noise on several scales
    cats = {}
    for name, levels in (("cat_a", 3), ("cat_b", 8), ("cat_c", 30), ("cat_d", 200), ("cat_e", 12), ("cat_f", 5)):
        X[name], cats[name] = _categorical(rng, n, levels, name[-1].upper())
    effects = {name: rng.normal(0, scale, size=int(codes.max()) + 1) for (name, codes), scale in
               zip(cats.items(), (0.8, 0.6, 0.7, 0.5, 0.0, 0.0))}
    slope = np.array([-1.0, -0.4, 0.2, 0.7, 1.2])[cats["cat_f"]]  # cat_f changes num_1's effect
    signal = (1.0 * np.sin(1.5 * X.num_0) + 0.7 * X.num_1 * X.num_2 + 0.5 * np.log(X.num_4) + 0.4 * (X.num_5 >= 4)
              + 0.3 * X.num_3 ** 2 + slope * X.num_1 + 0.01 * (X.num_6 - 50) * (cats["cat_a"] == 1)
              + sum(effects[name][codes] for name, codes in cats.items())).to_numpy()
    second = (0.8 * np.cos(X.num_2) + 0.6 * X.num_3 - 0.5 * X.num_0 * (cats["cat_b"] < 3)
              + effects["cat_c"][cats["cat_c"]] * -1.0).to_numpy()
    missing_6 = rng.random(n) < 0.12
    signal = signal + 0.6 * missing_6  # a missing value that says something
    X.loc[missing_6, "num_6"] = np.nan
    X.loc[rng.random(n) < 0.08, "num_1"] = np.nan
    X.loc[(rng.random(n) < 0.25) & (cats["cat_a"] == 0), "num_4"] = np.nan  # missing depending on another column
    X.loc[rng.random(n) < 0.05, "cat_b"] = np.nan
    X.loc[rng.random(n) < 0.08, "cat_c"] = np.nan
    for i in range(extra_numeric):
        X[f"extra_{i}"] = rng.normal(size=n)
    for i in range(extra_categorical):
        X[f"extra_cat_{i}"] = _categorical(rng, n, 20, "V")[0]
    return X, signal, second


def targets(task: str, signal: np.ndarray, second: np.ndarray, seed: int = 0) -> pd.Series:
    """The target column of ``task`` from the two signals, with noise."""
    rng = np.random.default_rng(seed + 1000)
    z = (signal - signal.mean()) / signal.std()
    if task in ("binary", "binary-labels"):
        p = 1.0 / (1.0 + np.exp(-(1.8 * z - 0.6)))
        y = (rng.random(len(z)) < p).astype(int)
        return pd.Series(y if task == "binary" else np.array(CLASS_NAMES[task], dtype=object)[y], name="target")
    if task in ("multiclass", "multiclass-proba"):
        k = len(CLASS_NAMES[task])
        w = (second - second.mean()) / second.std()
        logits = np.stack([1.6 * np.cos(j * np.pi / k) * z + 1.6 * np.sin(j * np.pi / k) * w + 0.3 * j
                           for j in range(k)], axis=1)
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        y = (p.cumsum(axis=1) > rng.random(len(z))[:, None]).argmax(axis=1)
        return pd.Series(np.array(CLASS_NAMES[task], dtype=object)[y], name="label" if task == "multiclass"
                         else "class")
    if task == "regression":
        return pd.Series(np.round(50 + 8 * z + (2 + 1.5 * np.abs(z)) * rng.normal(size=len(z)), 3), name="value")
    raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")


def generated(task: str, n: int, seed: int = 0, extra_numeric: int = 0,
              extra_categorical: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """``(features, target)`` of ``n`` rows for ``task`` (regression also loses values in more columns)."""
    X, signal, second = realistic(n, seed, extra_numeric, extra_categorical)
    y = targets(task, signal, second, seed)
    if task == "regression":
        rng = np.random.default_rng(seed + 7)
        for column in ("num_0", "num_2", "num_5", "cat_a"):
            X.loc[rng.random(n) < 0.1, column] = np.nan
    return X, y


def write_realistic_set(folder: str | Path, task: str, n_train: int, n_test: int, seed: int = 0,
                        extra_numeric: int = 0, extra_categorical: int = 0) -> Path:
    """Write ``folder/data/{train,test,sample_submission}.csv`` and ``folder/labels.csv`` (the test rows' id and
    target: the held-out truth), with ``extra_numeric`` and ``extra_categorical`` noise columns; the same arguments
    give the same bytes. Returns ``folder/data``."""
    out = Path(folder)
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    X, y = generated(task, n_train + n_test, seed, extra_numeric, extra_categorical)
    ids = pd.Series(np.arange(100_000, 100_000 + n_train + n_test), name="id")
    frame = pd.concat([ids, X, y], axis=1)
    train, test = frame.iloc[:n_train], frame.iloc[n_train:]
    train.to_csv(data / "train.csv", index=False, float_format="%.6g")
    test.drop(columns=[y.name]).to_csv(data / "test.csv", index=False, float_format="%.6g")
    test[["id", y.name]].to_csv(out / "labels.csv", index=False)
    sample = test[["id"]].copy()
    if task == "binary":
        sample[y.name] = 0.5
    elif task == "multiclass-proba":
        for label in CLASS_NAMES[task]:
            sample[label] = 1.0 / len(CLASS_NAMES[task])
    elif task == "regression":
        sample[y.name] = 50.0
    else:
        sample[y.name] = CLASS_NAMES[task][0]
    sample.to_csv(data / "sample_submission.csv", index=False)
    return data
