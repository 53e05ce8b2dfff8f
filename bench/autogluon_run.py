"""AutoGluon's ``best_quality`` preset on a competition folder in Kaggle's layout, for ``bench_tabular.py --parts
autogluon``. It runs under an interpreter that has AutoGluon (its own virtual environment: AutoGluon pins its own
versions of LightGBM, scikit-learn and pandas), imports nothing of the kit, and writes ``OUT/submission.csv`` in the
layout the kit's submission has, then prints AutoGluon's leaderboard.

    python autogluon_run.py DATA_DIR OUT TARGET ID METRIC HOLDS SECONDS
"""
import sys
import time

import pandas as pd
from autogluon.tabular import TabularPredictor

METRICS = {"accuracy": "accuracy", "roc_auc": "roc_auc", "log_loss": "log_loss", "rmse": "root_mean_squared_error",
           "mae": "mean_absolute_error", "rmsle": "root_mean_squared_log_error", "f1": "f1", "r2": "r2",
           "f1_macro": "f1_macro", "f1_weighted": "f1_weighted", "balanced_accuracy": "balanced_accuracy"}


def main(data: str, out: str, target: str, id_column: str, metric: str, holds: str, seconds: str) -> None:
    train = pd.read_csv(f"{data}/train.csv").drop(columns=[id_column])
    test = pd.read_csv(f"{data}/test.csv")
    started = time.time()
    predictor = TabularPredictor(label=target, eval_metric=METRICS[metric], path=f"{out}/autogluon",
                                 verbosity=1).fit(train, presets="best_quality", time_limit=int(seconds))
    features = test.drop(columns=[id_column])
    submission = test[[id_column]].copy()
    if holds in ("values", "labels"):
        submission[target] = predictor.predict(features).to_numpy()
    else:
        proba = predictor.predict_proba(features)
        if proba.shape[1] == 2:  # a binary target: the positive class's probability
            submission[target] = proba[predictor.positive_class].to_numpy()
        else:
            for label in proba.columns:
                submission[label] = proba[label].to_numpy()
    submission.to_csv(f"{out}/submission.csv", index=False)
    print(f"autogluon best_quality: {time.time() - started:.0f} s")
    print(predictor.leaderboard(silent=True).head(10).to_string())


if __name__ == "__main__":
    main(*sys.argv[1:8])
