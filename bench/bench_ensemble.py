"""kitlib.ensemble at competition size: hill climbing over 50 inputs of 100,000 rows, and hill against the simplex
grid (``kit blend``'s ``weights``) over 3 inputs.

Generated data (no competition's predictions): a binary target from a latent signal; each input is a "model" whose
probability is a sigmoid of the signal plus noise shared within its family of five plus its own noise, of varying
strength. Folds: 5, stratified, seed 0. Metric: ROC AUC. Printed: wall time and nested CV (chosen on 4 folds,
scored on the 5th: mean +- std over folds, pooled), the in-sample score of the final weights, the best single
input's CV; then at 3 inputs hill and the grid side by side with the ratio of their wall times, both measured in
this process. Target (issue 25 item 6): hill over 50 x 100,000 with nested CV under 60 s on 2 cores.

Then the same through ``kit blend`` (``--kit-blend``, on by default): the inputs written as 50 run folders of a
``kit new``-style binary competition scored by ROC AUC (its array path: the problem's metric with the batch score),
blended by ``kitlib.blend.blend`` end to end: reading the tables, checking them, nested CV, each input's CV, the
new run folder with its tables and a validated submission. Timed separately: writing the run folders.

Run: ``.venv/bin/python bench/bench_ensemble.py`` (about three minutes; use ``nice`` on a shared machine);
``--arrays-only`` skips the kit blend part.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from kitlib.ensemble import metric_scorer, nested_cv, roc_auc_many, score_inputs
from kitlib.folds import assign_folds

N_ROWS, N_INPUTS, N_FOLDS = 100_000, 50, 5


def generated(n_rows: int, n_inputs: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(preds (n_inputs, n_rows, 2), y (n_rows,))``: class probabilities ``[1 - p, p]`` of noisy models."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n_rows)
    y = (signal + rng.normal(scale=0.9, size=n_rows) > 0.5).astype(np.int64)
    preds = np.empty((n_inputs, n_rows, 2))
    family = rng.normal(size=((n_inputs + 4) // 5, n_rows))
    for i in range(n_inputs):
        own = rng.uniform(0.4, 1.6)
        logit = 1.5 * (signal + 0.6 * family[i // 5] + own * rng.normal(size=n_rows))
        p = 1.0 / (1.0 + np.exp(-logit))
        preds[i, :, 0], preds[i, :, 1] = 1.0 - p, p
    return preds, y


def line(name: str, seconds: float, result) -> str:
    cv = result.cv
    return (f"{name:<26} {seconds:8.2f} s   nested ROC AUC {cv.mean:.5f} +- {cv.std:.5f} (pooled {cv.score:.5f})   "
            f"in-sample (optimistic) {result.in_sample:.5f}")


def main() -> int:
    print(f"generated data: binary target, {N_ROWS:,} rows, {N_FOLDS} stratified folds, ROC AUC "
          "(no competition's predictions)")
    scorer = metric_scorer("roc_auc")
    preds, y = generated(N_ROWS, N_INPUTS)
    folds = assign_folds(N_ROWS, N_FOLDS, stratify=y, seed=0)

    from sklearn.metrics import roc_auc_score

    probe = preds[:, :, 1]
    fast_s = slow_s = float("inf")
    for _ in range(3):  # best of three: the first call also pays for fresh memory
        start = time.perf_counter()
        fast = roc_auc_many(y, probe)
        fast_s = min(fast_s, time.perf_counter() - start)
        start = time.perf_counter()
        slow = np.array([roc_auc_score(y, row) for row in probe])
        slow_s = min(slow_s, time.perf_counter() - start)
    print(f"ROC AUC of {N_INPUTS} candidates x {N_ROWS:,} rows (best of 3): batch {fast_s * 1e3:.0f} ms, "
          f"scikit-learn one by one {slow_s * 1e3:.0f} ms (ratio {slow_s / fast_s:.1f}x); largest difference "
          f"{np.abs(fast - slow).max():.1e}")

    singles = score_inputs(preds, y, folds, scorer)
    best = max(range(N_INPUTS), key=lambda i: singles[i].mean)
    print(f"best single input ({best}) of {N_INPUTS}: CV {singles[best].mean:.5f} +- {singles[best].std:.5f} "
          f"(pooled {singles[best].score:.5f})")
    start = time.perf_counter()
    hill = nested_cv("hill", preds, y, folds, scorer)
    seconds = time.perf_counter() - start
    print(line(f"hill {N_INPUTS} x {N_ROWS:,}", seconds, hill))
    used = np.flatnonzero(hill.final.weights)
    steps = [len(e.trace) - 1 for e in hill.fold_ensembles]
    print(f"  final weights on {len(used)} inputs ({len(hill.final.trace) - 1} steps; per fold {steps}); target "
          f"< 60 s: {'met' if seconds < 60 else 'MISSED'}")

    three = preds[[best, (best + 5) % N_INPUTS, (best + 10) % N_INPUTS]]
    start = time.perf_counter()
    hill3 = nested_cv("hill", three, y, folds, scorer)
    hill3_s = time.perf_counter() - start
    start = time.perf_counter()
    grid3 = nested_cv("weights", three, y, folds, scorer)
    grid3_s = time.perf_counter() - start
    print(line(f"hill 3 x {N_ROWS:,}", hill3_s, hill3))
    print(line(f"grid 3 x {N_ROWS:,}", grid3_s, grid3))
    print(f"  hill / grid wall time: {hill3_s / grid3_s:.2f}; nested pooled score hill - grid: "
          f"{hill3.cv.score - grid3.cv.score:+.5f}; weights hill {np.round(hill3.final.weights, 3).tolist()}, "
          f"grid {np.round(grid3.final.weights, 3).tolist()}")
    if "--arrays-only" not in sys.argv:
        kit_blend(preds, y, folds, best)
    return 0


def spouse_competition(data_dir: Path):
    """A ``kit new``-style binary competition (``spouse``, ROC AUC) put in the registry, its sample in ``data_dir``."""
    from kitlib.competitions import COMPETITIONS, Competition, Predictions, SubmissionSpec
    from kitlib.tasks.tabular import Problem

    problem = Problem(id="id", targets=("target",), task="binary", metric="roc_auc", holds="probabilities",
                      labels={"target": ("0", "1")}, numeric=("x",))
    pd.DataFrame({"id": [f"t{i}" for i in range(N_TEST)], "target": 0.5}).to_csv(data_dir / "sample_submission.csv",
                                                                                  index=False)

    def to_submission(test: pd.DataFrame, folder: Path) -> pd.DataFrame:
        return problem.to_submission(test, pd.read_csv(folder / "sample_submission.csv", dtype=str))

    COMPETITIONS["spouse"] = Competition(
        name="spouse", title="spouse", platform="local", slug="spouse", metric="val_roc_auc", mode="max",
        tabular=problem, submission=SubmissionSpec("submission.csv", columns=("id", "target"), key=("id",),
                                                   sample="sample_submission.csv", ranges={"target": (0.0, 1.0)}),
        predictions=Predictions(key=("id",), target="target", score=problem.score_frame, to_submission=to_submission))


N_TEST = 1_000


def write_runs(runs: Path, data_dir: Path, preds: np.ndarray, y: np.ndarray, folds: np.ndarray) -> list[str]:
    """One finished ``spouse`` run folder per input (its OOF table and, from its first rows, test predictions)."""
    from kitlib import predictions, run
    from kitlib.data import file_sha256

    ids = pd.DataFrame({"id": [f"r{i}" for i in range(len(y))]})
    test_ids = pd.DataFrame({"id": [f"t{i}" for i in range(N_TEST)]})
    data = [{"path": str(p), "sha256": file_sha256(p)} for p in sorted(data_dir.iterdir())]
    names = []
    for i, p in enumerate(preds):
        folder = runs / f"spouse-{i:02d}"
        folder.mkdir(parents=True)
        oof = predictions.frame(ids, p, ["p_0", "p_1"], fold=folds, target={"target": y.astype(str)})
        predictions.write(folder, oof, predictions.frame(test_ids, p[:N_TEST], ["p_0", "p_1"]))
        run.update_manifest(folder, run_id=folder.name, competition="spouse", status="ok", data_dir=str(data_dir),
                            data=data, params={"fold_seed": 0, "smoke": False})
        names.append(folder.name)
    return names


def blend_line(name: str, seconds: float, manifest: dict) -> str:
    cv = manifest["cv"]
    return (f"{name:<26} {seconds:8.2f} s   nested ROC AUC {cv['mean']:.5f} +- {cv['std']:.5f} (pooled "
            f"{cv['score']:.5f})   in-sample (optimistic) {cv['in_sample']:.5f}")


def kit_blend(preds: np.ndarray, y: np.ndarray, folds: np.ndarray, best: int) -> None:
    """The same inputs through ``kit blend``: hill over all of them, hill and the grid over three."""
    from kitlib import blend, run

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["KIT_RUNS_DIR"], os.environ["KIT_SUBMISSIONS_DIR"] = str(root / "runs"), str(root / "subs")
        data_dir = root / "data"
        data_dir.mkdir()
        spouse_competition(data_dir)
        start = time.perf_counter()
        names = write_runs(root / "runs", data_dir, preds, y, folds)
        print(f"kit blend: {len(names)} run folders of {len(y):,} OOF rows written in "
              f"{time.perf_counter() - start:.1f} s (not counted below)")
        start = time.perf_counter()
        out = blend.blend(names, method="hill")
        seconds = time.perf_counter() - start
        print(blend_line(f"kit blend hill {len(names)}", seconds, run.read_manifest(out)) + f"; target < 60 s: "
              f"{'met' if seconds < 60 else 'MISSED'}")
        three = [names[best], names[(best + 5) % len(names)], names[(best + 10) % len(names)]]
        for method in ("hill", "weights"):
            start = time.perf_counter()
            out = blend.blend(three, method=method)
            print(blend_line(f"kit blend {method} 3", time.perf_counter() - start, run.read_manifest(out)))


if __name__ == "__main__":
    raise SystemExit(main())
