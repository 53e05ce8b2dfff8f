"""The tabular template: kit new + kit run on competitions the code never saw, speed, memory and the time budget.

Parts (``--parts``, all by default; the heavy ones take their lock: run the whole bench under
``flock /tmp/kit-heavy.lock`` on a shared machine):

- ``kit-new``: a binary competition in Kaggle's layout (tests/tabular_sets.py, 4,000 training rows) through `kit new`
  and `kit run` with the defaults: every model's CV, the final choice, the submission validated. Target: the best
  booster beats the linear baseline.
- ``overhead``: the kit's LightGBM fold path (:func:`kitlib.tasks.tabular.fold_functions.fold_function`) against
  bare LightGBM on the same folds, rows, parameters, early-stopping split and refit rule (``--overhead-rows``
  generated rows, 5 folds, best of 3 alternating repeats). Target: kit / bare wall time <= 1.05.
- ``memory``: a generated ``--rows`` x 50 set (10 categorical columns, missing values; 1,000,000 by default) read
  as the template reads it, each model's fold function on one fold in a child process: wall time and peak memory
  (the largest RSS of the process tree, sampled every 0.5 s) against 3x the train + test frames'
  ``memory_usage(deep=True)`` with categoricals as ``category``. ``--model-budget`` bounds each fit's seconds.
- ``budget``: the default `kit run` (time_limit 900) on the same set in Kaggle's layout: its wall time against
  900 s + 5%, its peak memory, what it cut.
- ``baseline``: the competitor's LightGBM baseline (bench/competitor_baseline.py) beside the kit's default run on
  generated sets (tests/tabular_generated.py: ``--tasks`` x ``--sets-rows``, a quarter as many test rows) scored
  on the held-out test labels. Target: the kit beats the baseline on every set.
- ``autogluon``: the kit's default run, the competitor's baseline and AutoGluon's ``best_quality`` preset given
  ``--autogluon-seconds`` (300) on each folder of ``--sets`` (Kaggle's layout in ``DIR/data`` and the test rows'
  truth in ``DIR/labels.csv``, as bench/real_sets.py writes the README's six real sets; without ``--sets``, the
  generated sets of ``baseline``), scored on the held-out labels. AutoGluon runs under ``--autogluon-python``
  (an interpreter of its own virtual environment, e.g. ``python -m venv ag && ag/bin/pip install
  "autogluon.tabular[all]"``; bench/autogluon_run.py); the part is skipped, saying so, without it. Target: the
  kit beats the baseline on every set and AutoGluon on at least 60% of them, never trailing it by more than 0.5%.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from competitor_baseline import baseline_predictions, held_out_score, submission_matrix  # noqa: E402
from tabular_generated import write_realistic_set  # noqa: E402
from tabular_sets import write_kaggle_set  # noqa: E402

KIT = [sys.executable, "-m", "kitlib.cli"]
PARTS = ("kit-new", "overhead", "memory", "budget", "baseline", "autogluon")
MODELS = ("linear", "lightgbm", "catboost", "xgboost", "hgb", "mlp")
LIMIT = 900
MEMORY_NAME = "bench-memory"  # the competition kit new writes for the memory part


# --------------------------------------------------------------------------------------------- helpers
class PeakRSS:
    """The largest RSS (bytes) of a process and its children, sampled every 0.5 s in a thread."""

    def __init__(self, pid: int):
        import psutil

        self.process, self.peak, self._done = psutil.Process(pid), 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        import psutil

        while not self._done.is_set():
            with contextlib.suppress(psutil.Error):
                tree = [self.process, *self.process.children(recursive=True)]
                total = 0
                for p in tree:
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_info().rss
                self.peak = max(self.peak, total)
            self._done.wait(0.5)

    def stop(self) -> int:
        self._done.set()
        self._thread.join()
        return self.peak


def run_watched(cmd: list[str], env: dict | None = None) -> tuple[float, int, str]:
    """``(wall seconds, peak RSS bytes of the process tree, stdout)``; exits naming the command when it fails."""
    start = time.perf_counter()
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watch = PeakRSS(child.pid)
    out, err = child.communicate()
    peak = watch.stop()
    if child.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{out[-3000:]}\n{err[-3000:]}")
    return time.perf_counter() - start, peak, out


def project_env(root: Path) -> dict:
    env = {**os.environ, "KIT_PROJECT_DIR": str(root), "KIT_RUNS_DIR": str(root / "runs"),
           "KIT_SUBMISSIONS_DIR": str(root / "submissions"), "MPLBACKEND": "Agg"}
    os.environ.update({k: env[k] for k in ("KIT_PROJECT_DIR", "KIT_RUNS_DIR", "KIT_SUBMISSIONS_DIR")})
    return env


def latest_manifest(root: Path, name: str) -> dict:
    paths = sorted((root / "runs").glob(f"{name}-*/manifest.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(paths[-1].read_text())


def kit_new_and_run(root: Path, name: str, data: Path, *params: str) -> tuple[dict, float, int]:
    """`kit new` then `kit run` (defaults and ``params``) in the project ``root``: ``(manifest, wall s, peak RSS)``."""
    env = project_env(root)
    run_watched([*KIT, "new", name, "--data-dir", str(data)], env)
    seconds, peak, _ = run_watched([*KIT, "run", name, "-q", *params], env)
    return latest_manifest(root, name), seconds, peak


def models_said(manifest: dict) -> str:
    lines = [f"    {name:16s} cv {m['cv']['mean']:.4f} +- {m['cv']['std']:.4f}  {m['seconds']:6.1f} s"
             for name, m in manifest.get("models", {}).items()]
    final = manifest.get("final", {})
    said = final.get("model") if final.get("kind") == "model" else \
        "ensemble " + ", ".join(f"{k} {v:.2f}" for k, v in final.get("weights", {}).items())
    lines.append(f"    final: {said}; cv {manifest['cv']['mean']:.4f} +- {manifest['cv']['std']:.4f}"
                 f"{' (nested)' if manifest['cv'].get('nested') else ''}; cut: {manifest.get('cut') or 'nothing'}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ parts
def part_kit_new(tmp: Path, args) -> bool:
    from kitlib import submit

    root = tmp / "kit-new"
    data = write_kaggle_set(root / "data", "binary", n_train=4000, n_test=1000, seed=7)
    manifest, seconds, _ = kit_new_and_run(root, "bench-tabular", data)
    submit.validate_submission(manifest["submission"]["path"], "bench-tabular", data)
    print(f"kit new + kit run (defaults): {seconds:.1f} s wall, run {manifest['seconds']:.1f} s; submission valid")
    print(models_said(manifest))
    models = manifest["models"]
    booster = max(m["cv"]["mean"] for name, m in models.items() if name not in ("linear", "mlp"))
    ratio = booster / models["linear"]["cv"]["mean"]
    print(f"  best booster / linear cv mean = {ratio:.3f} (target > 1)")
    return ratio > 1


def bare_lightgbm(data, problem, folds, settings) -> float:
    """Bare LightGBM on the kit's folds, parameters, early-stopping split and refit rule; seconds."""
    import lightgbm
    import numpy as np
    import pandas as pd

    from kitlib.tasks.tabular.boosters import library_params, targets_of
    from kitlib.tasks.tabular.early_stopping import inner_split, refit_rounds

    params, cap, patience = library_params("lightgbm", targets_of(problem)[0], settings)
    y = data.y[:, 0]
    start = time.perf_counter()
    for k in sorted(set(folds)):
        tr, va = np.flatnonzero(folds != k), np.flatnonzero(folds == k)
        X = data.X.iloc[tr]
        cats = {c: sorted(X[c].dropna().unique().tolist()) for c in problem.categorical}

        def frame(part, cats=cats):
            return pd.DataFrame({c: pd.Categorical(part[c], categories=cats[c]) if c in cats else
                                 part[c].astype(np.float64) for c in part.columns}, index=part.index)

        Xtr, Xva, Xte = frame(X), frame(data.X.iloc[va]), frame(data.X_test)
        fit, stop = inner_split(len(tr), y[tr].astype(np.int64) if problem.classification else None,
                                settings.inner_fraction, settings.seed)
        train_set = lightgbm.Dataset(Xtr.iloc[fit], y[tr][fit])
        valid = lightgbm.Dataset(Xtr.iloc[stop], y[tr][stop], reference=train_set)
        booster = lightgbm.train(params, train_set, cap, valid_sets=[valid],
                                 callbacks=[lightgbm.early_stopping(patience, first_metric_only=True, verbose=False)])
        if len(tr) < settings.refit_below:
            rounds = refit_rounds(booster.best_iteration, len(tr), len(fit))
            booster = lightgbm.train(params, lightgbm.Dataset(Xtr, y[tr]), rounds)
        booster.predict(Xva), booster.predict(Xte)
    return time.perf_counter() - start


def part_overhead(tmp: Path, args) -> bool:
    from kitlib import folds as kfolds
    from kitlib.scaffold import infer
    from kitlib.tasks import tabular
    from kitlib.tasks.tabular.fold_functions import fold_function

    folder = write_realistic_set(tmp / "overhead", "binary", args.overhead_rows, args.overhead_rows // 4, seed=3)
    data = tabular.load(infer(folder).problem, folder, report=False)
    problem = data.problem
    folds = kfolds.assign_folds(len(data.y), 5, stratify=problem.stratify(data.y), seed=0)
    settings = tabular.ModelSettings(threads=args.threads)
    kit_times, bare_times = [], []
    for _ in range(3):
        start = time.perf_counter()
        kfolds.cross_validate(fold_function("lightgbm", problem, data.X, data.y, data.X_test, settings), folds)
        kit_times.append(time.perf_counter() - start)
        bare_times.append(bare_lightgbm(data, problem, folds, settings))
    ratio = min(kit_times) / min(bare_times)
    print(f"LightGBM fold path, {args.overhead_rows} rows, 5 folds: kit {min(kit_times):.2f} s, bare "
          f"{min(bare_times):.2f} s (best of 3); kit / bare = {ratio:.3f} (target <= 1.05)")
    return ratio <= 1.05


def one_fold(args) -> None:
    """Child process of the memory part: read the set as the template does, fit ``args.one_fold`` on fold 0."""
    from kitlib import folds as kfolds
    from kitlib.budget import Budget
    from kitlib.competitions import get_competition
    from kitlib.tasks import tabular
    from kitlib.tasks.tabular.fold_functions import fold_function

    folder = Path(args.data)  # the problem from the spec kit new wrote, as the template takes it
    data = tabular.load(get_competition(MEMORY_NAME).tabular, folder, report=False)
    problem = data.problem
    folds = kfolds.assign_folds(len(data.y), 5, stratify=problem.stratify(data.y), seed=0)
    budget = Budget(args.model_budget)
    settings = tabular.ModelSettings(threads=args.threads, budget=budget)
    start = time.perf_counter()
    import numpy as np

    result = fold_function(args.one_fold, problem, data.X, data.y, data.X_test, settings)(
        0, np.flatnonzero(folds != 0), np.flatnonzero(folds == 0))
    score = problem.score(data.y[folds == 0], result.val)
    print(json.dumps({"seconds": time.perf_counter() - start, "score": score, "cut": budget.cuts,
                      "rounds": result.info.get("rounds")}))


def frames_bytes(folder: Path) -> int:
    import pandas as pd

    total = 0
    for name in ("train.csv", "test.csv"):
        frame = pd.read_csv(folder / name)
        for column in frame.columns:
            if not pd.api.types.is_numeric_dtype(frame[column]):
                frame[column] = frame[column].astype("category")
        total += int(frame.memory_usage(deep=True).sum())
    return total


def big_set(tmp: Path, args) -> Path:
    folder = tmp / "big"
    if not (folder / "data" / "train.csv").is_file():
        start = time.perf_counter()
        write_realistic_set(folder, "binary", args.rows, args.rows // 4, seed=5, extra_numeric=28,
                            extra_categorical=4)
        print(f"generated {args.rows:,} x 50 (10 categorical, missing values) + {args.rows // 4:,} test rows in "
              f"{time.perf_counter() - start:.0f} s")
    return folder


def part_memory(tmp: Path, args) -> bool:
    folder = big_set(tmp, args) / "data"
    size = frames_bytes(folder)
    print(f"train + test frames (categoricals as category): {size / 2**20:.0f} MiB; target peak < "
          f"{3 * size / 2**20:.0f} MiB")
    # kit new once (its inference reads every value as text: its own peak, printed, is not the run's); each child
    # then reads the set as the template does, the problem taken from the spec
    seconds, peak, _ = run_watched([*KIT, "new", MEMORY_NAME, "--data-dir", str(folder)], project_env(tmp / "memory"))
    print(f"  kit new (inference) {seconds:.0f} s, peak {peak / 2**20:.0f} MiB (not counted against the target)")
    ok = True
    for model in args.models.split(","):
        cmd = [sys.executable, __file__, "--one-fold", model, "--data", str(folder), "--threads", str(args.threads),
               "--model-budget", str(args.model_budget)]
        seconds, peak, out = run_watched(cmd)
        done = json.loads(out.strip().splitlines()[-1])
        cut = f"; cut: {done['cut'][0]['reason']}" if done["cut"] else ""
        print(f"  {model:9s} one fold {done['seconds']:7.1f} s (process {seconds:6.1f} s), peak {peak / 2**20:6.0f} "
              f"MiB = {peak / size:.2f}x, fold score {done['score']:.4f}{cut}")
        ok = ok and peak < 3 * size
    return ok


def part_budget(tmp: Path, args) -> bool:
    folder = big_set(tmp, args) / "data"
    root = tmp / "budget"
    manifest, seconds, peak = kit_new_and_run(root, "bench-big", folder)
    ok = seconds <= LIMIT * 1.05
    print(f"default kit run on {args.rows:,} rows: {seconds:.0f} s wall (kit run), run record {manifest['seconds']:.0f}"
          f" s, limit {LIMIT} s + 5% -> {'within' if ok else 'OVER'}; peak {peak / 2**20:.0f} MiB")
    print(models_said(manifest))
    return ok


def part_baseline(tmp: Path, args) -> bool:
    import pandas as pd

    from kitlib.scaffold import infer

    ok = True
    for task in args.tasks.split(","):
        for rows in (int(r) for r in args.sets_rows.split(",")):
            folder = tmp / f"{task}-{rows}"
            data = write_realistic_set(folder, task, rows, rows // 4, seed=11)
            problem = infer(data).problem
            train, test = pd.read_csv(data / "train.csv"), pd.read_csv(data / "test.csv")
            labels = pd.read_csv(folder / "labels.csv", dtype=str)
            start = time.perf_counter()
            base = held_out_score(problem, baseline_predictions(train, test, problem, args.threads), test["id"],
                                  labels)
            base_s = time.perf_counter() - start
            manifest, seconds, _ = kit_new_and_run(folder / "project", f"gen-{task}-{rows}", data)
            sub = pd.read_csv(manifest["submission"]["path"], dtype=str)
            kit = held_out_score(problem, submission_matrix(sub, problem), sub[problem.id], labels)
            better = kit > base if problem.mode == "max" else kit < base
            print(f"{task} {rows} rows ({problem.metric}): kit {kit:.4f} ({seconds:.0f} s) vs baseline {base:.4f} "
                  f"({base_s:.1f} s): {'kit better' if better else 'BASELINE BETTER'}")
            print(models_said(manifest))
            ok = ok and better
    return ok


def autogluon_score(folder: Path, problem, labels, args) -> tuple[float, float]:
    """AutoGluon's held-out score on the competition in ``folder`` and its wall seconds."""
    import pandas as pd

    out = folder / "autogluon"
    out.mkdir(parents=True, exist_ok=True)
    cmd = [args.autogluon_python, str(ROOT / "bench" / "autogluon_run.py"), str(folder / "data"), str(out),
           problem.targets[0], problem.id, problem.metric, problem.holds, str(args.autogluon_seconds)]
    seconds, _, printed = run_watched(cmd)
    print("    " + "\n    ".join(printed.strip().splitlines()[:6]))
    sub = pd.read_csv(out / "submission.csv", dtype=str)
    return held_out_score(problem, submission_matrix(sub, problem), sub[problem.id], labels), seconds


def part_autogluon(tmp: Path, args) -> bool:
    import shutil

    import pandas as pd

    from kitlib.scaffold import infer

    if not args.autogluon_python:
        print("skipped: --autogluon-python names no interpreter with AutoGluon (see the module docstring)")
        return True
    folders = [Path(f) for f in args.sets.split(",")] if args.sets else []
    if not folders:
        for task in args.tasks.split(","):
            for rows in (int(r) for r in args.sets_rows.split(",")):
                write_realistic_set(tmp / f"{task}-{rows}", task, rows, rows // 4, seed=11)
                folders.append(tmp / f"{task}-{rows}")
    wins, within, beats_baseline = 0, True, True
    for given in folders:
        folder = tmp / "autogluon-sets" / given.name
        if not folder.exists():
            shutil.copytree(given, folder, ignore=shutil.ignore_patterns("project", "autogluon"))
        data = folder / "data"
        problem = infer(data).problem
        train, test = pd.read_csv(data / "train.csv"), pd.read_csv(data / "test.csv")
        labels = pd.read_csv(folder / "labels.csv", dtype=str)
        base = held_out_score(problem, baseline_predictions(train, test, problem, args.threads), test[problem.id],
                              labels)
        manifest, seconds, _ = kit_new_and_run(folder / "project", f"ag-{folder.name}", data)
        sub = pd.read_csv(manifest["submission"]["path"], dtype=str)
        kit = held_out_score(problem, submission_matrix(sub, problem), sub[problem.id], labels)
        ag, ag_seconds = autogluon_score(folder, problem, labels, args)
        sign = 1.0 if problem.mode == "max" else -1.0
        relative = sign * (kit - ag) / abs(ag)  # > 0: the kit is better
        wins += relative > 0
        within = within and relative >= -0.005
        beats_baseline = beats_baseline and sign * (kit - base) > 0
        print(f"{folder.name} ({problem.metric}, {len(train)} rows): kit {kit:.4f} ({seconds:.0f} s), autogluon "
              f"{ag:.4f} ({ag_seconds:.0f} s), baseline {base:.4f}: kit {100 * relative:+.2f}% against autogluon")
        print(models_said(manifest))
    print(f"kit better than autogluon on {wins} of {len(folders)} sets; never more than 0.5% behind: {within}; "
          f"better than the baseline on every set: {beats_baseline}")
    return beats_baseline and within and wins >= 0.6 * len(folders)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {list(PARTS)}")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the memory and budget set")
    parser.add_argument("--overhead-rows", type=int, default=20_000)
    parser.add_argument("--sets-rows", default="1000,50000", help="training rows of the baseline sets")
    parser.add_argument("--tasks", default="binary,multiclass,regression")
    parser.add_argument("--models", default=",".join(MODELS), help="models of the memory part")
    parser.add_argument("--model-budget", type=float, default=600.0, help="seconds per fit in the memory part")
    parser.add_argument("--threads", type=int, default=0, help="threads of the bench's own fits (0: every core)")
    parser.add_argument("--sets", default="", help="autogluon part: comma-separated folders (DIR/data, DIR/labels.csv)")
    parser.add_argument("--autogluon-python", default="", help="autogluon part: a Python interpreter with AutoGluon")
    parser.add_argument("--autogluon-seconds", type=int, default=300, help="autogluon part: its time_limit")
    parser.add_argument("--one-fold", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one_fold:
        one_fold(args)
        return 0
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        parser.error(f"Unknown part(s) {unknown}; expected some of {list(PARTS)}")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for part in parts:
            print(f"-- {part}", flush=True)
            ok = globals()[f"part_{part.replace('-', '_')}"](Path(tmp), args) and ok
            sys.stdout.flush()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
