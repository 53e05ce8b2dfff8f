"""The text template's data plots: text lengths (training and test) and the label balance of each target."""
from __future__ import annotations

from ..tabular.data import plot_targets
from ..tabular.problem import Problem
from .data import TextData, text_lengths

__all__ = ["plot_summary"]


def plot_summary(data: TextData, problem: Problem):
    """One row of plots: a histogram of words per text (training and test rows), then each target's label counts
    (or its histogram for a regression). Returns the figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 1 + len(problem.targets), figsize=(5 * (1 + len(problem.targets)), 3.5),
                             squeeze=False)
    train, test = text_lengths(data.texts)["words"], text_lengths(data.test_texts)["words"]
    top = max(1, int(max(train.quantile(0.99), test.quantile(0.99) if len(test) else 0)))
    bins = min(60, top + 1)
    axes[0, 0].hist(train.clip(upper=top), bins=bins, alpha=0.6, label=f"train ({len(train)})")
    axes[0, 0].hist(test.clip(upper=top), bins=bins, alpha=0.6, label=f"test ({len(test)})")
    axes[0, 0].set(title=f"words per text (median {train.median():.0f}; clipped at {top})", xlabel="words",
                   ylabel="texts")
    axes[0, 0].legend()
    plot_targets(data, problem, axes=axes[0, 1:])
    fig.tight_layout()
    return fig
