"""Array-level ensembling: M inputs' predictions ``(M, n, c)`` -> one ``(n, c)``, chosen and scored by nested CV.

Imports numpy, ``kitlib.metrics`` and ``kitlib.errors`` only (scikit-learn and LightGBM lazily, for ``stack``), so
``kitlib.tasks`` and notebooks may use it; ``kit blend`` wraps it over run folders::

    from kitlib.ensemble import metric_scorer, nested_cv, Settings

    scorer = metric_scorer("roc_auc")                        # or metric_scorer(problem.metric, problem.score)
    result = nested_cv("hill", oof_stack, y, folds, scorer)  # oof_stack: (M, n, c); folds: (n,) fold ids
    result.cv.mean, result.cv.std, result.cv.score           # nested CV: chosen on K-1 folds, scored on the K-th
    result.final.weights, result.in_sample                   # chosen on every row; in-sample (optimistic)
    test_blend = result.predict(test_stack)                  # (M, n_test, c) -> (n_test, c)

Methods (:data:`METHODS`): ``mean``, ``rank``, ``weights`` (simplex grid), ``hill`` (Caruana's greedy forward
selection with replacement, optionally bagged), ``stack`` (a level-2 model); each is also a function returning an
:class:`Ensemble`.
"""
from .methods import (
                      STACKERS,
                      Ensemble,
                      HillStep,
                      Settings,
                      as_stack,
                      candidate_weights,
                      hill_climb,
                      mean_blend,
                      rank_blend,
                      rank_scale,
                      simplex_weights,
)
from .nested import CHOOSING, METHODS, FoldScores, Method, NestedCV, choose, nested_cv, score_inputs
from .scoring import MODES, ORDERS, Batch, Scorer, average_ranks, metric_scorer, roc_auc_many
from .stacking import KINDS, TASKS, Stacker, stack

__all__ = ["CHOOSING", "KINDS", "METHODS", "MODES", "ORDERS", "STACKERS", "TASKS", "Batch", "Ensemble", "FoldScores",
           "HillStep", "Method", "NestedCV", "Scorer", "Settings", "Stacker", "as_stack", "average_ranks",
           "candidate_weights", "choose", "hill_climb", "mean_blend", "metric_scorer", "nested_cv", "rank_blend",
           "rank_scale", "roc_auc_many", "score_inputs", "simplex_weights", "stack"]
