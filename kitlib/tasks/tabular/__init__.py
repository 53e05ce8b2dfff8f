"""Tabular competitions (a ``train.csv``, a ``test.csv`` and a ``sample_submission.csv``): the problem, the files,
the features, the models. What ``kit new`` competitions and their template notebook use; nothing here knows a
competition.

- :mod:`.problem`: :class:`Problem` (id, targets, task, metric, labels, features; score and submission) and its
  :class:`FeatureRules` (the spec's ``[features]``);
- :mod:`.data`: :func:`load` the files into :class:`TabularData` (through the features step), :func:`summary`,
  :func:`plot_targets`;
- :mod:`.feature_code`: :func:`features_of`, the competitor's features step (``competitions/<name>_features.py`` or
  the notebook cell's function) as a :class:`FeatureCode`;
- :mod:`.feature_lists`: which columns the models use and why the others are left out;
- :mod:`.feature_encoding`: :func:`count_encode` (features step), :func:`target_encode_fold` (inside a fold);
- :mod:`.models`: the linear baseline and HistGradientBoosting pipelines, :func:`model_fold` for
  :func:`kitlib.folds.cross_validate`, :func:`suggest_hgb` for Optuna, :func:`permutation_importance`;
- the run's model loop, in the template's order: :mod:`.run_plan` (:class:`Plan`: the parameters checked),
  :mod:`.evaluation` (:func:`evaluate_models` in order within the time budget, :class:`ModelResult`),
  :mod:`.search` (:func:`search_models`: Optuna, one study per model), :mod:`.final_prediction`
  (:func:`choose_final`: the best model or the hill-climbed ensemble), :mod:`.importance` (the best booster's);
  the fold functions of every model are :mod:`.fold_functions`, their settings :class:`ModelSettings`.
"""
from .data import TabularData, load, plot_targets, read_csv, summary
from .evaluation import Inputs, ModelResult, evaluate_models
from .feature_code import FeatureCode, features_of, features_path
from .feature_encoding import (
    count_encode,
    target_encode_columns,
    target_encode_fold,
    target_encoded_names,
    with_target_encoding,
)
from .feature_lists import feature_report
from .final_prediction import FinalPrediction, choose_final, prediction_tables
from .importance import best_booster, booster_importance
from .model_settings import MODEL_ORDER, ModelSettings
from .models import DEFAULTS, MODELS, fit_models, make_model, model_fold, permutation_importance, predict, suggest_hgb
from .problem import FILES, HOLDS, TASKS, FeatureRules, Problem, metric_of
from .run_plan import Plan, parse_model_params
from .search import StudyPlace, search_models

__all__ = ["Problem", "FeatureRules", "TabularData", "load", "read_csv", "summary", "plot_targets", "make_model",
           "fit_models", "predict", "model_fold", "suggest_hgb", "permutation_importance", "metric_of", "MODELS",
           "DEFAULTS", "FILES", "HOLDS", "TASKS", "FeatureCode", "features_of", "features_path", "feature_report",
           "count_encode", "target_encode_fold", "target_encode_columns", "target_encoded_names",
           "with_target_encoding", "Plan", "parse_model_params", "Inputs", "ModelResult", "evaluate_models",
           "StudyPlace", "search_models", "FinalPrediction", "choose_final", "prediction_tables", "best_booster",
           "booster_importance", "MODEL_ORDER", "ModelSettings"]
