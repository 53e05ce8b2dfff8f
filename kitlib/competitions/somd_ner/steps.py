"""The notebook's longer steps as functions: the training data at a glance, the out-of-fold choices for
entities (O-threshold, gazetteer weight) and relations (rule or classifier, threshold), their figures, the
run's metrics and the test relations. Each returns plain values (a namespace where there are several) so
the notebook stays a sequence of short, readable cells; every choice is made on out-of-fold predictions."""
from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

import pandas as pd

__all__ = ["describe_training", "choose_entities", "plot_entity_choices", "choose_relations",
           "plot_relation_choice", "run_metrics", "link_test_relations"]


def describe_training(data, words, labels, relations):
    """Print and plot the training sentences (mentions and relations per type, sentence lengths); returns
    ``(sentence table, entity-free mask)``."""
    import matplotlib.pyplot as plt

    from . import mentions, sentence_table

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
    return table, negative


def choose_entities(probs_oof, gazetteer_oof, true_oof, aggregate: str = "micro", gazetteer_weight: float = -1.0,
                    o_threshold: float = -1.0) -> SimpleNamespace:
    """The out-of-fold entity choices: the model's O-threshold (``curve``), the gazetteer weight and the
    combination's threshold (``combination_curve``), each fixed instead where the parameter is >= 0; with
    the decoded ``model_oof`` and ``pred_oof`` (the combination) labels."""
    from ...tasks import token_classification as tc
    from . import LABELS, scoring

    model_threshold, curve = scoring.choose_threshold(probs_oof, true_oof, aggregate)
    weight, threshold, combination_curve = scoring.choose_combination(probs_oof, gazetteer_oof, true_oof, aggregate)
    if gazetteer_weight >= 0:
        weight = gazetteer_weight
        threshold = scoring.choose_threshold(scoring.combine(probs_oof, gazetteer_oof, weight), true_oof, aggregate)[0]
    if o_threshold >= 0:
        model_threshold = threshold = o_threshold
    return SimpleNamespace(
        model_threshold=model_threshold, curve=curve, weight=weight, threshold=threshold,
        combination_curve=combination_curve, model_oof=tc.decode(probs_oof, LABELS, model_threshold),
        pred_oof=tc.decode(scoring.combine(probs_oof, gazetteer_oof, weight), LABELS, threshold))


def plot_entity_choices(choice: SimpleNamespace, cv, per_fold: dict, aggregate: str = "micro", by_step: bool = False):
    """Four panels: F1 against the O-threshold, against the gazetteer weight, the folds' learning curves and
    the per-fold entity F1 of each approach."""
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


def choose_relations(infos, words, labels, relations, fold_of, rows, pred_oof, aggregate: str = "micro",
                     relations_from: str = "auto") -> SimpleNamespace:
    """Relations out of fold on the out-of-fold *predicted* entities: the rule baseline (``rule_oof``) and the
    classifier (``clf_oof``, its "no relation" threshold and one-per-subject choice from ``curve``), their F1
    (``rule_f1``, ``clf_f1``; ``clf_gold_f1`` on the true entities for reference), which one is submitted
    (``source``, ``rel_oof``) and the per-type ``table``."""
    from ...metrics import relation_f1, relation_report
    from . import mentions
    from . import relation_model as rm

    true = [relations[i] for i in rows]
    ents_oof = [mentions(words[i], p) for i, p in zip(rows, pred_oof)]
    rule_oof = rm.rule_oof_relations(words, labels, relations, fold_of, rows, ents_oof)
    scored, classes = rm.oof_relation_scores(infos, rows, ents_oof)
    threshold, one_per_subject, curve = rm.choose_relation_threshold(scored, classes, true, aggregate)
    clf_oof = rm.decode_relations(scored, classes, threshold, one_per_subject)
    scored_gold = rm.oof_relation_scores(infos, rows, [mentions(words[i], labels[i]) for i in rows])[0]
    clf_gold_f1 = relation_f1(true, rm.decode_relations(scored_gold, classes, threshold, one_per_subject), aggregate)
    rule_f1, clf_f1 = relation_f1(true, rule_oof, aggregate), relation_f1(true, clf_oof, aggregate)
    source = relations_from if relations_from != "auto" else ("classifier" if clf_f1 > rule_f1 else "rule")
    table = relation_report(true, rule_oof)[["f1"]].rename(columns={"f1": "rule_f1"}).join(
        relation_report(true, clf_oof).rename(columns=lambda c: f"classifier_{c}"), how="outer").fillna(0.0)
    return SimpleNamespace(rule_oof=rule_oof, clf_oof=clf_oof, threshold=threshold, one_per_subject=one_per_subject,
                           curve=curve, rule_f1=rule_f1, clf_f1=clf_f1, clf_gold_f1=clf_gold_f1, source=source,
                           rel_oof=clf_oof if source == "classifier" else rule_oof, table=table)


def plot_relation_choice(rel: SimpleNamespace, aggregate: str = "micro") -> None:
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


def run_metrics(scores: dict, summary: dict, entities: SimpleNamespace, rel: SimpleNamespace, entity_table,
                *, true_oof, gazetteer_oof, true_rel_oof, argmax_score: float, aggregate: str = "micro",
                folds_trained: int, train_seconds: float) -> dict[str, float]:
    """The run's metrics: the SOMD score out of fold (the run score) and its parts, every approach's figure,
    the choices made, and the per-type F1 of what is submitted."""
    from ...metrics import relation_report
    from . import scoring

    metrics = {
        "val_somd_score": scores[f"somd_{aggregate}"], "val_entity_f1": scores[f"entity_f1_{aggregate}"],
        "val_relation_f1": scores[f"relation_f1_{aggregate}"], **{f"val_{k}": v for k, v in scores.items()},
        "val_somd_score_cv_mean": summary["mean"], "val_somd_score_cv_std": summary["std"],
        "val_entity_f1_gazetteer": scoring.entity_score(true_oof, gazetteer_oof, aggregate),
        "val_entity_f1_model": scoring.entity_score(true_oof, entities.model_oof, aggregate),
        "val_entity_f1_combination": scores[f"entity_f1_{aggregate}"], "val_relation_f1_rule": rel.rule_f1,
        "val_relation_f1_classifier": rel.clf_f1, "val_relation_f1_classifier_true_entities": rel.clf_gold_f1,
        "val_somd_score_argmax": argmax_score, "o_threshold": entities.threshold,
        "o_threshold_model": entities.model_threshold, "gazetteer_weight": entities.weight,
        "relation_threshold": rel.threshold, "relation_one_per_subject": rel.one_per_subject,
        "relations_from_classifier": rel.source == "classifier", "folds_trained": folds_trained,
        "train_minutes": train_seconds / 60}
    metrics.update({f"val_entity_f1_{t}": entity_table.loc[t, "combination"] for t in entity_table.index
                    if t not in ("micro", "macro")})
    metrics.update({f"val_relation_f1_{t}": f for t, f in relation_report(true_rel_oof, rel.rel_oof)["f1"].items()
                    if t not in ("micro", "macro")})
    return metrics


def link_test_relations(rel: SimpleNamespace, infos, test_entities: Sequence, words, labels, relations) -> list:
    """The test sentences' relations from what was chosen out of fold: the fold classifiers averaged (their
    threshold) or the rule fitted on every training sentence."""
    from . import RuleLinker, mentions
    from . import relation_model as rm

    if rel.source == "classifier":
        return rm.decode_relations(*rm.test_relation_scores(infos, test_entities), rel.threshold, rel.one_per_subject)
    gold = [mentions(w, lab) for w, lab in zip(words, labels)]
    return RuleLinker().fit(gold, relations).predict(test_entities)

