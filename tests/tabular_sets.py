"""Generated tabular competitions in Kaggle's layout (train.csv, test.csv, sample_submission.csv), for the
``kit new`` tests and bench/bench_tabular.py.

The signal is non-linear on purpose: a sine of one feature, a product of two others, a threshold on a fourth
and an effect per category, plus noise; one feature is pure noise. A linear model sees the categories and part
of the threshold; gradient-boosted trees see most of it. ``x2`` and ``colour`` have missing values.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

KINDS = ("binary", "binary-labels", "multiclass", "integer-multiclass", "per-class", "regression", "multi-target",
         "ranked")
COLOUR_EFFECT = {"red": 1.0, "green": -1.0, "blue": 0.5, "black": 0.0}


def features(n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """``(features, signal)``: x1..x5 and a categorical ``colour``; the signal before noise."""
    X = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(1, 6)})
    X["colour"] = rng.choice(list(COLOUR_EFFECT), size=n)
    signal = (1.5 * np.sin(2 * X.x1) + 1.2 * X.x2 * X.x3 + 1.0 * (X.x4 > 0.5) + X.colour.map(COLOUR_EFFECT)).to_numpy()
    X.loc[rng.random(n) < 0.05, "x2"] = np.nan
    X.loc[rng.random(n) < 0.05, "colour"] = np.nan
    return X, signal


def targets(kind: str, signal: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    noisy = signal + 0.5 * rng.normal(size=len(signal))
    cuts = np.quantile(noisy, [0.25, 0.5, 0.75])
    if kind in ("binary", "binary-labels"):
        return pd.DataFrame({"target": (noisy > np.median(noisy)).astype(int)})
    if kind in ("multiclass", "ranked"):
        names = np.array(["low", "mid", "high", "top"])
        return pd.DataFrame({"grade": names[np.searchsorted(cuts, noisy)]})
    if kind == "integer-multiclass":
        return pd.DataFrame({"quality": 3 + np.searchsorted(cuts, noisy)})
    if kind == "per-class":
        return pd.DataFrame({"target": [f"Class_{i + 1}" for i in np.searchsorted(cuts, noisy)]})
    if kind == "regression":
        return pd.DataFrame({"price": np.round(20 + 3 * noisy, 3)})
    if kind == "multi-target":
        other = -signal + 0.5 * rng.normal(size=len(signal))
        return pd.DataFrame({"a": (noisy > 0).astype(int), "b": (other > 0.3).astype(int)})
    raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")


def sample_for(kind: str, ids: np.ndarray, y: pd.DataFrame) -> pd.DataFrame:
    """The sample submission Kaggle would ship for ``kind``."""
    sample = pd.DataFrame({"id": ids})
    if kind == "per-class":
        for label in sorted(y["target"].unique()):
            sample[label] = 0.25
    elif kind == "binary":
        sample["target"] = 0.5
    elif kind == "multi-target":
        sample["a"], sample["b"] = 0.5, 0.5
    elif kind == "ranked":
        sample["grade"] = "low mid high"
    else:
        sample[y.columns[0]] = y.iloc[0, 0]
    return sample


def write_kaggle_set(folder: str | Path, kind: str = "binary", n_train: int = 600, n_test: int = 200,
                     seed: int = 0) -> Path:
    """Write ``train.csv`` (id, features, targets), ``test.csv`` (id, features) and ``sample_submission.csv``
    into ``folder``; the same arguments give the same bytes. Returns the folder."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    X, signal = features(n_train + n_test, rng)
    y = targets(kind, signal, rng)
    ids = np.arange(n_train + n_test)
    train = pd.concat([pd.DataFrame({"id": ids[:n_train]}), X.iloc[:n_train].reset_index(drop=True),
                       y.iloc[:n_train].reset_index(drop=True)], axis=1)
    test = pd.concat([pd.DataFrame({"id": ids[n_train:]}), X.iloc[n_train:].reset_index(drop=True)], axis=1)
    train.to_csv(out / "train.csv", index=False, float_format="%.5f")
    test.to_csv(out / "test.csv", index=False, float_format="%.5f")
    sample_for(kind, ids[n_train:], y).to_csv(out / "sample_submission.csv", index=False)
    return out
