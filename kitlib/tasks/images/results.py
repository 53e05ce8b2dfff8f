"""What the image template shows and keeps of its models: the run folder's tables, the figures of the results.

:func:`prediction_tables` is :func:`kitlib.tasks.tabular.prediction_tables` without the labelled rows no model
predicted (the folds a CNN cut short by the time budget left out): ``oof.parquet`` keeps one row per row that was
validated. :func:`plot_results` draws every model's fold scores beside the confusion matrix of the final
out-of-fold prediction (its first target), or its predicted values against the truth for a regression.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..tabular.final_prediction import prediction_tables as tabular_tables
from ..tabular.problem import Problem
from .data import ImageData

__all__ = ["prediction_tables", "plot_results"]


def prediction_tables(data: ImageData, problem: Problem, folds: np.ndarray, oof: np.ndarray, test: np.ndarray
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(oof, test)`` tables of one prediction (a model's or the final one), the unpredicted labelled rows left
    out."""
    oof_table, test_table = tabular_tables(data, problem, folds, oof, test)
    predicted = np.isfinite(np.asarray(oof, dtype=np.float64)).all(axis=1) & (np.asarray(folds) >= 0)
    return oof_table[predicted].reset_index(drop=True), test_table


def plot_results(final: Any, data: ImageData, problem: Problem, metric: str = ""):
    """Fold scores of every model and the ensemble (``final``: a :class:`kitlib.tasks.tabular.FinalPrediction`)
    beside the final prediction's confusion matrix (or values against truth). Returns the figure."""
    import matplotlib.pyplot as plt

    from ...plots import confusion_matrix, fold_scores

    fig, axes = plt.subplots(1, 2, figsize=(15, 5))
    fold_scores(final.fold_score_table(), title=f"{metric or problem.metric} per fold", ax=axes[0])
    rows = np.flatnonzero(np.isfinite(final.oof).all(axis=1))
    target, cols, labels = problem.blocks()[0]
    if labels:
        names = np.asarray([str(label) for label in labels], dtype=object)
        confusion_matrix(names[data.y[rows, 0].astype(int)], names[final.oof[rows][:, cols].argmax(axis=1)],
                         title=f"{final.name}, out of fold: {target}", ax=axes[1], rotate=45 if len(labels) > 6 else 0)
    else:
        axes[1].scatter(data.y[rows, 0], final.oof[rows][:, cols][:, 0], s=4, alpha=0.5)
        axes[1].set(xlabel=f"{target} (truth)", ylabel="out-of-fold prediction", title=final.name)
    fig.tight_layout()
    return fig
