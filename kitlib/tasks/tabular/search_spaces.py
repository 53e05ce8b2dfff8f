"""Optuna search spaces for the tabular models, sized for about 20 trials on a time budget.

``suggest(model, trial)`` returns library parameters (the library's own names) to lay over the kit's defaults,
e.g. ``settings.with_params("lightgbm", suggest("lightgbm", trial))``. The spaces keep to the knobs that matter
on a few thousand to tens of thousands of rows (step size, tree size, leaf size, subsampling, L1/L2) and keep the
learning rate at 0.02 or more, so a trial's rounds stay affordable; TPE needs few trials over six or seven knobs.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...errors import check_choice


def _lightgbm(trial) -> dict[str, Any]:
    return {"learning_rate": trial.suggest_float("learning_rate", 0.02, 0.15, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 8, 128, log=True),
            "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 5, 100, log=True),
            "feature_fraction": trial.suggest_float("feature_fraction", 0.4, 1.0),
            "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
            "lambda_l1": trial.suggest_float("lambda_l1", 1e-8, 10.0, log=True),
            "lambda_l2": trial.suggest_float("lambda_l2", 1e-8, 30.0, log=True)}


def _xgboost(trial) -> dict[str, Any]:
    return {"eta": trial.suggest_float("eta", 0.02, 0.15, log=True),
            "max_depth": trial.suggest_int("max_depth", 3, 10),
            "min_child_weight": trial.suggest_float("min_child_weight", 0.5, 30.0, log=True),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.4, 1.0),
            "alpha": trial.suggest_float("alpha", 1e-8, 10.0, log=True),
            "lambda": trial.suggest_float("lambda", 1e-3, 30.0, log=True)}


def _catboost(trial) -> dict[str, Any]:
    return {"learning_rate": trial.suggest_float("learning_rate", 0.02, 0.15, log=True),
            "depth": trial.suggest_int("depth", 4, 9),
            "l2_leaf_reg": trial.suggest_float("l2_leaf_reg", 0.5, 30.0, log=True),
            "random_strength": trial.suggest_float("random_strength", 0.1, 10.0, log=True),
            "border_count": trial.suggest_categorical("border_count", [64, 128, 254])}


def _hgb(trial) -> dict[str, Any]:
    return {"learning_rate": trial.suggest_float("learning_rate", 0.02, 0.15, log=True),
            "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 8, 128, log=True),
            "min_samples_leaf": trial.suggest_int("min_samples_leaf", 5, 100, log=True),
            "l2_regularization": trial.suggest_float("l2_regularization", 1e-6, 30.0, log=True),
            "max_features": trial.suggest_float("max_features", 0.4, 1.0)}


def _linear(trial) -> dict[str, Any]:
    return {"C": trial.suggest_float("C", 1e-3, 100.0, log=True)}


SPACES: dict[str, Callable[[Any], dict[str, Any]]] = {"linear": _linear, "lightgbm": _lightgbm,
                                                      "catboost": _catboost, "xgboost": _xgboost, "hgb": _hgb}


def suggest(model: str, trial) -> dict[str, Any]:
    """Parameters for ``model`` drawn from ``trial`` (an ``optuna.Trial``; its parameter names are the library's).
    Raises ``ParameterError`` for a model without a search space (listing those with one)."""
    check_choice("model to search", model, SPACES)
    return SPACES[model](trial)
