"""Parsing list-valued CSV columns: kitlib.data.read_list_csv against per-row ast.literal_eval.

Real-sized AIcrowd Sentiment Classification train file (5,000 rows x 512 numbers), generated in a temp
folder. Targets (issue 2): uncached parse >= 8x faster than literal_eval; cached load >= 100x.
"""
from __future__ import annotations

import ast
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from kitlib.competitions.sentiment_classification import LABELS, _write, make_embeddings
from kitlib.data import read_list_csv


def timed(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.csv"
        X, y = make_embeddings(5000, seed=0)
        _write(path, X, [LABELS[i] for i in y])

        def baseline():
            frame = pd.read_csv(path)
            return np.array(frame["embeddings"].map(ast.literal_eval).tolist(), dtype=np.float32), frame["label"]

        def parse():
            return read_list_csv(path, {"embeddings": 512}, cache=False)

        expected = baseline()[0]
        np.testing.assert_array_equal(parse()[1]["embeddings"], expected)
        read_list_csv(path, {"embeddings": 512})  # fills the cache
        np.testing.assert_array_equal(read_list_csv(path, {"embeddings": 512})[1]["embeddings"], expected)

        t_base, t_parse = timed(baseline), timed(parse)
        t_cached = timed(lambda: read_list_csv(path, {"embeddings": 512}), repeat=5)
    parse_ratio, cache_ratio = t_base / t_parse, t_base / t_cached
    print(f"file: 5000 rows x 512 numbers ({path.name}); identical arrays")
    print(f"ast.literal_eval per row : {t_base:7.3f} s")
    print(f"read_list_csv (parse)    : {t_parse:7.3f} s   ratio {parse_ratio:6.1f}x  (target >= 8x)")
    print(f"read_list_csv (cached)   : {t_cached:7.3f} s   ratio {cache_ratio:6.1f}x  (target >= 100x)")
    ok = parse_ratio >= 8 and cache_ratio >= 100
    print("PASS" if ok else "BELOW TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
