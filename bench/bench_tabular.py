"""kit new + kit run on a tabular competition the code never saw: gradient boosting against the linear baseline.

A binary competition in Kaggle's layout (tests/tabular_sets.py: 4,000 training and 1,000 test rows, five numeric
features and a categorical one, missing values, a non-linear signal) is written into a temporary project folder;
`kit new` infers the spec, `kit run` executes the tabular template with its defaults (5 folds, no search) and then
with a 10-trial Optuna search. Printed: the CV of each model (ROC AUC, mean +- std over the folds), the ratio of
gradient boosting's CV mean to the baseline's (measured in the same run), whether the submission validates, and
the wall times. Target (issue 12): gradient boosting beats the linear baseline on CV.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from tabular_sets import write_kaggle_set  # noqa: E402

KIT = [sys.executable, "-m", "kitlib.cli"]


def kit(*args: str, env: dict) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([*KIT, *args], env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"kit {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - start, done.stdout


def main() -> int:
    from kitlib import run, submit

    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        env = {**os.environ, "KIT_PROJECT_DIR": str(project), "KIT_RUNS_DIR": str(project / "runs"),
               "KIT_SUBMISSIONS_DIR": str(project / "submissions"), "MPLBACKEND": "Agg"}
        os.environ.update({k: env[k] for k in ("KIT_PROJECT_DIR", "KIT_RUNS_DIR", "KIT_SUBMISSIONS_DIR")})
        data = write_kaggle_set(Path(tmp) / "data", "binary", n_train=4000, n_test=1000, seed=7)
        seconds, out = kit("new", "bench-tabular", "--data-dir", str(data), env=env)
        print(f"kit new: {seconds:.1f} s\n" + "\n".join("  " + line for line in out.splitlines()[:4]))
        ok = True
        for params in ([], ["-p", "n_trials", "10"]):
            seconds, _ = kit("run", "bench-tabular", "-q", *params, env=env)
            manifest = max(run.list_runs("bench-tabular", include_all=True), key=lambda m: m["started"])
            m = manifest["metrics"]
            submit.validate_submission(manifest["submission"]["path"], "bench-tabular", data)
            print(f"kit run {' '.join(params) or '(defaults)'}: {seconds:.1f} s wall, run {manifest['seconds']:.1f} s; "
                  f"submission valid")
            for name in ("linear", "hgb", "hgb_optuna"):
                if f"val_roc_auc_{name}_cv_mean" in m:
                    print(f"  {name:10s} ROC AUC out of fold {m[f'val_roc_auc_{name}']:.4f}, "
                          f"cv mean {m[f'val_roc_auc_{name}_cv_mean']:.4f}")
            ratio = m["val_roc_auc_hgb_cv_mean"] / m["val_roc_auc_linear_cv_mean"]
            print(f"  chosen: cv {manifest['cv']['mean']:.4f} +- {manifest['cv']['std']:.4f}; "
                  f"hgb / linear cv mean = {ratio:.3f} (target > 1)")
            ok = ok and ratio > 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
