"""CatBoost for :mod:`.boosters`: its loss and fixed parameters, frames (categories as whole-number codes,
missing and unseen values with codes of their own), training with early stopping and the budget callback,
prediction. Imported only when a CatBoost model is fitted. CatBoost writes its training files under
``<work_dir>/catboost`` (nothing without a folder)."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...memory import release_memory
from .booster_jobs import Fit, as_category, floats

MISSING_CODE = -1  # a missing categorical value: a category of its own, as CatBoost treats one
UNSEEN_CODE = -2  # a value the training rows never had
# Above this many rows CatBoost's categorical statistics are cut down, unless the user set them (LARGE_SET_PARAMS):
# - no combinations of categorical columns (max_ctr_complexity 1): their tables grow with every tree (one fold of
#   200,000 rows x 10 categorical columns, 600 trees: peak 797 MiB with them, 575 MiB and half the time without), and
#   a large set's trees find the interactions from the columns themselves;
# - on a CPU, one random order of the rows for the ordered statistics instead of 4 (permutation_count: one of
#   CatBoost's boosting options, not in its published parameter list; the pinned 1.2.10 takes it): each order keeps
#   its own statistics and row data. One fold of the generated 1,000,000 x 50 set (720,000 rows fitted, 10
#   categorical columns, 2 threads): the fit added 435 MiB with 4 orders and 201 MiB with one at 150 trees, 27% faster,
#   fold ROC AUC 0.8221 and 0.8225; at 240 s the whole fold peaked at 1,461 and 1,203 MiB, 0.8301 (743 trees) and
#   0.8302 (977 trees). Many rows make one order's statistics reliable enough.
LARGE_ROWS = 200_000
LARGE_SET_PARAMS = {"max_ctr_complexity": 1}
LARGE_SET_CPU_PARAMS = {"permutation_count": 1}
# Above this many rows the binned training pool is written out and read back before training: CatBoost keeps the
# raw columns a pool was made from beside its bins for as long as the pool lives; read back from its file, the pool
# holds the bins only (720,000 x 50: 130 MiB less at the peak of training, the same model)
READ_BACK_ROWS = 100_000
QUANTIZATION = ("border_count", "feature_border_type", "per_float_feature_quantization", "nan_mode")  # binning
# (loss, early-stopping metric): for the MAE metric CatBoost fits the squared error and stops on the absolute
# error (its MAE loss scored worse on the generated sets; LightGBM's and XGBoost's L1 objectives scored better)
LOSSES = {"l2": ("RMSE", "RMSE"), "l1": ("RMSE", "MAE")}
ALIASES = {"eta": "learning_rate", "max_depth": "depth", "reg_lambda": "l2_leaf_reg", "n_estimators": "iterations",
           "num_boost_round": "iterations", "num_trees": "iterations", "od_wait": "early_stopping_rounds",
           "random_state": "random_seed", "max_bin": "border_count", "colsample_bylevel": "rsm"}


def fixed_params(target, seed: int, threads: int) -> dict[str, Any]:
    """Loss and metric for ``target``, seed, threads, quiet."""
    if target.n_classes > 2:
        loss = metric = "MultiClass"
    elif target.n_classes:
        loss = metric = "Logloss"
    else:
        loss, metric = LOSSES[target.loss]
    out = {"loss_function": loss, "eval_metric": metric, "random_seed": seed, "thread_count": threads,
           "verbose": False, "allow_writing_files": False}
    if target.n_classes:
        out["class_names"] = list(range(target.n_classes))
    return out


def canonical(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with the aliases CatBoost accepts replaced by its main names."""
    return {ALIASES.get(k, k): v for k, v in params.items()}


def prepare(X: pd.DataFrame, categories: dict[str, list], rows: np.ndarray | None = None) -> pd.DataFrame:
    """The rows ``rows`` (positions; ``None``: all): categorical columns as 32-bit whole-number codes of the training
    rows' categories (a missing value :data:`MISSING_CODE`, a value the training rows lack :data:`UNSEEN_CODE`: no
    text per row, so a 1,000,000-row fold is not turned into ten million strings), numbers as 32-bit floats (CatBoost
    keeps single precision: the same model as from doubles, in half the memory)."""
    out = {}
    for c in X.columns:
        values = X[c] if rows is None else X[c].iloc[rows]
        if c in categories:
            codes = as_category(values, categories[c]).codes.astype(np.int32)
            codes[(codes < 0) & values.notna().to_numpy()] = UNSEEN_CODE
            out[c] = codes
        else:
            out[c] = floats(values).astype(np.float32)  # what CatBoost keeps of a number anyway
    frame = pd.DataFrame(out, index=X.index if rows is None else X.index[rows], copy=False)
    frame.attrs["cat_features"] = [c for c in X.columns if c in categories]
    return frame


def _pool(X: pd.DataFrame, y: np.ndarray | None, target):
    import catboost

    label = None if y is None else (y.astype(np.int64) if target.n_classes else y)
    cats = X.attrs.get("cat_features") or []
    return catboost.Pool(X, label, cat_features=cats)


class _StopOnBudget:
    def __init__(self, stop):
        self.stop = stop

    def after_iteration(self, info) -> bool:
        return not self.stop.should_stop(int(info.iteration))


def train(job):
    """Fit on ``job.X_fit``; with watched rows, stop ``job.patience`` rounds after the best watched loss and keep
    the best round count. Above :data:`LARGE_ROWS` rows, :data:`LARGE_SET_PARAMS` (and on a CPU
    :data:`LARGE_SET_CPU_PARAMS`) apply unless set; above :data:`READ_BACK_ROWS`, the binned pool is read back from a
    file in a temporary folder (in the run folder's ``catboost`` folder when there is one), removed once read. On a
    GPU CatBoost takes no callbacks, so the budget cannot stop it mid-fit."""
    import catboost

    params = {**job.params, "iterations": job.rounds}
    on_gpu = str(params.get("task_type", "CPU")).upper() == "GPU"
    if len(job.y_fit) > LARGE_ROWS:  # unless the user set them
        params = {**LARGE_SET_PARAMS, **({} if on_gpu else LARGE_SET_CPU_PARAMS), **params}
    folder = None if job.work_dir is None else Path(job.work_dir) / "catboost"
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        params.update(allow_writing_files=True, train_dir=str(folder))
    evals = None
    if job.y_stop is not None:
        evals = _pool(job.X_stop, job.y_stop, job.target)
        params.update(od_type="Iter", od_wait=job.patience, use_best_model=True)
    model = catboost.CatBoost(params)
    fit_pool = _pool(job.X_fit, job.y_fit, job.target)
    job.X_fit = None  # the pool holds the columns now
    if not on_gpu:  # binned before training starts
        fit_pool.quantize(**{k: params[k] for k in QUANTIZATION if k in params})
        if len(job.y_fit) > READ_BACK_ROWS:
            with tempfile.TemporaryDirectory(prefix="kit-pool-", dir=folder) as tmp:
                path = str(Path(tmp) / "fit.quantized")
                fit_pool.save(path)
                fit_pool = None  # the raw columns go with it
                release_memory()
                fit_pool = catboost.Pool("quantized://" + path)
    model.fit(fit_pool, eval_set=evals,
              callbacks=None if on_gpu else [_StopOnBudget(job.stop)])
    best = model.get_best_iteration()
    done = len(next(iter(model.get_evals_result().get("validation", {}).values()), [])) or model.tree_count_
    kept = int(best) + 1 if evals is not None and best is not None else model.tree_count_
    return Fit(model, kept, int(done), job.stop.stopped_at is not None)


def predict(model, X: pd.DataFrame, rounds: int, target, threads: int) -> np.ndarray:
    """Every class's probability or the value, from the first ``rounds`` trees."""
    kind = "Probability" if target.n_classes else "RawFormulaVal"
    return model.predict(_pool(X, None, target), prediction_type=kind, ntree_end=rounds, thread_count=threads)


def is_parameter_error(exc: Exception) -> bool:
    """Whether CatBoost raised ``exc`` over a parameter (its options code)."""
    import catboost

    text = str(exc).lower()
    return isinstance(exc, catboost.CatBoostError) and ("option" in text or "param" in text)
