"""Which features a run's boosters lean on: each library's own importance, averaged over the fold models.

:func:`best_booster` picks the booster (LightGBM, XGBoost, CatBoost, tuned or not) with the best CV mean among a
run's kept models; :func:`booster_importance` reads its fold models' importances (LightGBM's and XGBoost's total
gain, CatBoost's prediction-value change), scales each fold's to shares summing to 1 and averages them over the
folds (and the targets). Nothing is refit or predicted again, so it costs nothing against the time budget.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .evaluation import ModelResult
from .model_settings import BOOSTERS

__all__ = ["best_booster", "booster_importance"]


def best_booster(results: Mapping[str, ModelResult], mode: str) -> str | None:
    """The name of the kept booster with the best CV mean (``mode``: ``"max"`` or ``"min"``), ``None`` when the
    run kept none."""
    boosters = [name for name, r in results.items() if r.model in BOOSTERS]
    if not boosters:
        return None
    sign = 1.0 if mode == "max" else -1.0
    return max(boosters, key=lambda name: sign * results[name].mean)


def _shares(fitted) -> pd.Series:
    """One fitted booster's importance per feature, as shares of its total."""
    model, library = fitted.model, fitted.library
    if library == "lightgbm":
        values = pd.Series(model.feature_importance(importance_type="gain"), index=model.feature_name())
    elif library == "xgboost":
        scores = model.get_score(importance_type="total_gain")
        values = pd.Series({name: scores.get(name, 0.0) for name in model.feature_names})
    else:
        values = pd.Series(model.get_feature_importance(), index=model.feature_names_)
    values = values.astype(np.float64).clip(lower=0.0)
    total = values.sum()
    return values / total if total > 0 else values


def booster_importance(result: ModelResult, top: int | None = 20) -> pd.DataFrame:
    """The features of ``result`` (a booster's cross-validation) by ``importance`` (mean share over the fold models
    and targets) with its ``std`` over them, most important first; ``top`` rows (``None``: all)."""
    per_fit = [_shares(fitted) for fold_models in result.fold_models for fitted in fold_models]
    table = pd.concat(per_fit, axis=1).fillna(0.0)
    out = pd.DataFrame({"importance": table.mean(axis=1), "std": table.std(axis=1, ddof=0)})
    out = out.sort_values("importance", ascending=False, kind="stable")
    return out if top is None else out.head(top)
