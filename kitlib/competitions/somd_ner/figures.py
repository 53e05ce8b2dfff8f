"""What a person would rather look at than read in a SOMD run: the training sentences at a glance
(:func:`describe_training`), the out-of-fold entity and relation choices (:func:`plot_entity_choices`,
:func:`plot_relation_choice`) and a sentence with its mentions marked (:func:`highlight_html`). matplotlib is
imported by the functions that draw."""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from ...folds import CVResult
from .choices import EntityChoice, RelationChoice
from .dataset import SomdData, sentence_table
from .labels import ENTITY_TYPES, mentions
from .relations import Relation

__all__ = ["TrainingOverview", "describe_training", "plot_entity_choices", "plot_relation_choice",
           "highlight_html"]


class TrainingOverview(NamedTuple):
    """The training sentences at a glance."""

    sentences: pd.DataFrame  # one row per sentence: :func:`~.dataset.sentence_table`
    entity_free: np.ndarray  # True for a sentence without any entity


def describe_training(data: SomdData, words: Sequence[Sequence[str]], labels: Sequence[Sequence[str]],
                      relations: Sequence[Sequence[Relation]]) -> TrainingOverview:
    """Print and plot the training sentences ``words`` with their ``labels`` and ``relations`` (the sentences
    of ``data`` the run trains on): mentions and relations per type, sentence lengths, beside the test
    sentences of ``data``; returns their :class:`TrainingOverview`."""
    import matplotlib.pyplot as plt

    print(f"{data.phase} files {data.files}; {len(data.relation_problems)} relation entries skipped")
    print("\n".join(f"  {p}" for p in data.relation_problems[:5]))
    table = sentence_table(words, labels)
    negative = (table.n_entities == 0).to_numpy()
    counts = pd.Series([m[0] for w, lab in zip(words, labels) for m in mentions(w, lab)], dtype=object).value_counts()
    rel_counts = pd.Series([r[0] for rels in relations for r in rels], dtype=object).value_counts()
    print(f"{len(words)} training sentences ({negative.mean():.0%} without any entity), {table.n_words.sum()} words, "
          f"{counts.sum()} mentions, {rel_counts.sum()} relations; {len(data.test_words)} test sentences")
    fig, axes = plt.subplots(1, 3, figsize=(18, 4))
    if len(counts):
        counts.sort_values().plot.barh(ax=axes[0], title="mentions per entity type (training)")
    if len(rel_counts):
        rel_counts.sort_values().plot.barh(ax=axes[1], title="relations per type (training)")
    axes[2].hist([table.n_words, [len(w) for w in data.test_words]], bins=40, label=["train", "test"])
    axes[2].set(title="sentence length", xlabel="words", ylabel="sentences")
    axes[2].legend()
    plt.tight_layout()
    plt.show()
    return TrainingOverview(table, negative)


def plot_entity_choices(choice: EntityChoice, cv: CVResult, per_fold: dict[str, list[float]], aggregate: str = "micro",
                        by_step: bool = False) -> None:
    """Four panels: F1 against the O-threshold, against the gazetteer weight, the folds' learning curves (the
    ``history`` of each fold info of ``cv``; against optimiser steps when ``by_step``) and the per-fold entity
    F1 of each approach (``per_fold``, :func:`~.scoring.fold_entity_scores`)."""
    import matplotlib.pyplot as plt

    from ... import plots

    fig, axes = plt.subplots(1, 4, figsize=(22, 4))
    axes[0].plot(list(choice.curve), list(choice.curve.values()), marker="o", label="model")
    axes[0].axvline(choice.model_threshold, color="grey", ls=":", label=f"used: {choice.model_threshold:.2f}")
    axes[0].set(title=f"out-of-fold entity F1 ({aggregate})", xlabel="O-threshold")
    axes[0].legend()
    axes[1].plot(list(choice.combination_curve), [v[1] for v in choice.combination_curve.values()], marker="o")
    axes[1].axvline(choice.weight, color="grey", ls=":")
    axes[1].set(title="model + gazetteer", xlabel="gazetteer weight")
    histories = {f"fold {k}": info["history"] for k, info in zip(cv.fold_ids, cv.infos)}
    plots.learning_curves(histories, {"validation entity F1": ["val_entity_f1"]}, axes=axes[2:3],
                          x="step" if by_step else "epoch")
    plots.fold_scores(per_fold, ax=axes[3], title="out-of-fold entity F1 per fold")
    plt.show()


def plot_relation_choice(rel: RelationChoice, aggregate: str = "micro") -> None:
    """Relation F1 against the classifier's "no relation" threshold (one relation per subject or any), the
    rule's F1 as a line; then the one-line summary of which relations are submitted."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for one in (True, False):
        ax.plot([t for t, o in rel.curve if o == one], [v for (t, o), v in rel.curve.items() if o == one],
                marker="o", label="one relation per subject" if one else "any number")
    ax.axhline(rel.rule_f1, color="red", ls="--", label="rule")
    ax.axvline(rel.threshold, color="grey", ls=":")
    ax.set(title=f"out-of-fold relation F1 ({aggregate}) on predicted entities", xlabel="P(none) threshold")
    ax.legend()
    plt.show()
    print(f"relation F1 ({aggregate}) on predicted entities: rule {rel.rule_f1:.4f}, classifier {rel.clf_f1:.4f} "
          f"(on the true entities {rel.clf_gold_f1:.4f}); submitting the {rel.source}'s")


_COLOURS = ("#ffd166", "#a0e7a0", "#9ecbff", "#f4a6c0", "#d5b8ff", "#ffb38a", "#b8f0f0", "#e0e0a0",
            "#c9c9ff", "#ffc9c9", "#c0e0c0", "#f0d0a0", "#d0d0d0", "#a0d0f0")


def highlight_html(words: Sequence[str], labels: Sequence[str]) -> str:
    """One sentence as HTML: each mention in a ``<mark>`` coloured by its type, the type in small
    capitals after it. Words are HTML-escaped."""
    import html

    spans = {start: (typ, end) for typ, start, end, _ in mentions(words, labels)}
    parts, i = [], 0
    while i < len(words):
        if i in spans:
            typ, end = spans[i]
            colour = _COLOURS[ENTITY_TYPES.index(typ) % len(_COLOURS)] if typ in ENTITY_TYPES else "#eeeeee"
            text = html.escape(" ".join(words[i:end + 1]))
            parts.append(f'<mark style="background:{colour}">{text} <sub>{html.escape(typ)}</sub></mark>')
            i = end + 1
        else:
            parts.append(html.escape(words[i]))
            i += 1
    return " ".join(parts)
