"""The plots the notebooks draw: learning curves, image grids, a confusion matrix, per-fold scores, CV against
the public leaderboard.

Each function draws into new axes (or the ``ax`` given), returns the matplotlib ``Figure`` and leaves
showing it to the notebook (``plt.show()``, or Jupyter's inline display). matplotlib is imported inside
the functions.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

History = Sequence[Mapping[str, float]]  # one dict of logs per epoch, as FitResult.history


def _frame(history: Any):
    import pandas as pd

    return history if isinstance(history, pd.DataFrame) else pd.DataFrame(list(history))


def learning_curves(
    histories: Mapping[str, Any],
    panels: Mapping[str, Sequence[str]],
    *,
    baselines: Mapping[str, Mapping[str, float]] | None = None,
    x: str = "epoch",
    logy: Sequence[str] = (),
    axes: Sequence[Any] | None = None,
):
    """One panel per entry of ``panels`` (title -> history columns), one line per history and column.

    ``histories`` maps a name (a model, a fold) to its per-epoch logs (``FitResult.history`` or a
    DataFrame); a column a history lacks is skipped. Columns after the first of a panel are dashed
    (``["train_loss", "val_loss"]``: validation dashed). ``baselines`` maps a panel title to
    ``{label: value}`` drawn as grey horizontal lines; ``logy`` names panels with a log y axis.
    Returns the figure.
    """
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 3.8), squeeze=False)
        axes = axes[0]
    fig = axes[0].figure
    styles = ["-", "--", ":", "-."]
    for ax, (title, columns) in zip(axes, panels.items()):
        for i, (name, history) in enumerate(histories.items()):
            frame = _frame(history)
            for j, column in enumerate(columns):
                if column in frame:
                    label = name if len(columns) == 1 else f"{name} {column}"
                    ax.plot(frame[x], frame[column], styles[j % len(styles)], color=f"C{i}", marker=".",
                            label=label)
        for k, (label, value) in enumerate((baselines or {}).get(title, {}).items()):
            ax.axhline(value, color="grey", ls=styles[(k + 2) % len(styles)], label=label)
        ax.set(title=title, xlabel=x)
        if title in logy:
            ax.set_yscale("log")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def image_grid(
    images: Sequence[np.ndarray] | np.ndarray,
    titles: Sequence[str] | None = None,
    *,
    colors: Sequence[str] | None = None,
    cols: int = 8,
    size: float = 2.0,
    cmap: str = "gray",
    vmin: float | None = None,
    vmax: float | None = None,
):
    """A grid of grey images, ``cols`` a row, each with its title (in its colour). Returns the figure."""
    import matplotlib.pyplot as plt

    n = len(images)
    rows = max(1, int(np.ceil(n / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, (size + 0.5) * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i in range(n):
        ax = axes.flat[i]
        ax.imshow(np.asarray(images[i]), cmap=cmap, vmin=vmin, vmax=vmax)
        if titles is not None:
            ax.set_title(titles[i], fontsize=9, color="black" if colors is None else colors[i])
    fig.tight_layout()
    return fig


def confusion_matrix(y_true: Sequence, y_pred: Sequence, labels: Sequence[str] | None = None, *,
                     title: str = "", ax: Any = None, rotate: int = 0):
    """scikit-learn's confusion matrix display of ``y_true`` against ``y_pred``. Returns the figure."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5))
    ConfusionMatrixDisplay.from_predictions(y_true, y_pred, display_labels=labels, ax=ax, colorbar=False,
                                            xticks_rotation=rotate)
    ax.set_title(title)
    ax.figure.tight_layout()
    return ax.figure


def fold_scores(scores: Mapping[str, Sequence[float]], *, chance: float | None = None, title: str = "",
                ax: Any = None):
    """Bars of each model's mean fold score with the fold standard deviation as error bars, and each fold
    as a dot; ``chance`` draws a grey line. Returns the figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(max(4, 1.6 * len(scores)), 3.8))
    names = list(scores)
    means = [float(np.mean(scores[n])) for n in names]
    stds = [float(np.std(scores[n])) for n in names]
    ax.bar(names, means, yerr=stds, capsize=4, color="C0", alpha=0.7)
    for i, name in enumerate(names):
        ax.plot(np.full(len(scores[name]), i), scores[name], "k.", ms=6)
    if chance is not None:
        ax.axhline(chance, color="grey", ls=":", label="chance")
        ax.legend(fontsize=8)
    ax.set_title(title)
    ax.figure.tight_layout()
    return ax.figure


def cv_vs_public(table: Any, *, title: str = "", metric: str = "score", ax: Any = None):
    """Each scored upload as a point: its run's CV mean (x, with the fold standard deviation as an error bar)
    against the public leaderboard score (y), the identity line dashed and, with two CV values or more, the
    least-squares line. ``table`` is :func:`kitlib.leaderboard.current_table`'s (columns ``cv_mean``,
    ``cv_std``, ``public``, ``state``); in a notebook:
    ``plots.cv_vs_public(leaderboard.current_table(COMPETITION))``. Returns the figure (an empty one, saying so,
    when no scored upload has a CV)."""
    import matplotlib.pyplot as plt
    import pandas as pd

    if ax is None:
        _, ax = plt.subplots(figsize=(4.8, 4.4))
    public = pd.to_numeric(table["public"].where(table["state"] == "scored"), errors="coerce")
    cv = pd.to_numeric(table["cv_mean"], errors="coerce")
    keep = public.notna() & cv.notna()
    x, y = cv[keep].to_numpy(float), public[keep].to_numpy(float)
    if not len(x):
        ax.text(0.5, 0.5, "no scored upload with a CV yet", ha="center", va="center", transform=ax.transAxes)
    else:
        err = pd.to_numeric(table["cv_std"], errors="coerce")[keep].fillna(0).to_numpy(float)
        ax.errorbar(x, y, xerr=err, fmt="o", color="C0", ecolor="C0", alpha=0.8, capsize=3, label="uploads")
        low, high = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        pad = (high - low) * 0.1 or 0.01
        ax.plot([low - pad, high + pad], [low - pad, high + pad], "k--", lw=1, label="public = CV")
        if len(x) >= 2 and np.ptp(x) > 0:
            slope, intercept = np.polyfit(x, y, 1)
            ends = np.array([low - pad, high + pad])
            sign = "+" if intercept >= 0 else "-"
            ax.plot(ends, slope * ends + intercept, color="C1", lw=1,
                    label=f"fit: {slope:.2f} x CV {sign} {abs(intercept):.3f}")
        ax.legend(fontsize=8)
    ax.set_xlabel(f"CV mean ({metric})")
    ax.set_ylabel("public leaderboard score")
    ax.set_title(title)
    ax.figure.tight_layout()
    return ax.figure
