"""Tabular competitions (a ``train.csv``, a ``test.csv`` and a ``sample_submission.csv``): the problem, the files,
the models. What ``kit new`` competitions and their template notebook use; nothing here knows a competition.

- :mod:`.problem`: :class:`Problem` (id, targets, task, metric, labels, features; score and submission);
- :mod:`.data`: :func:`load` the files into :class:`TabularData`, :func:`summary`, :func:`plot_targets`;
- :mod:`.models`: the linear baseline and HistGradientBoosting pipelines, :func:`model_fold` for
  :func:`kitlib.folds.cross_validate`, :func:`suggest_hgb` for Optuna, :func:`permutation_importance`.
"""
from .data import TabularData, load, plot_targets, read_csv, summary
from .models import DEFAULTS, MODELS, fit_models, make_model, model_fold, permutation_importance, predict, suggest_hgb
from .problem import FILES, HOLDS, TASKS, Problem, metric_of

__all__ = ["Problem", "TabularData", "load", "read_csv", "summary", "plot_targets", "make_model", "fit_models",
           "predict", "model_fold", "suggest_hgb", "permutation_importance", "metric_of", "MODELS", "DEFAULTS",
           "FILES", "HOLDS", "TASKS"]
