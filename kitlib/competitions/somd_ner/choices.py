"""The choices a SOMD run makes out of fold, and what follows from them: the entity O-threshold and gazetteer
weight (:func:`choose_entities` -> :class:`EntityChoice`), the relation source and threshold
(:func:`choose_relations` -> :class:`RelationChoice`), the run's metrics (:func:`run_metrics`) and the test
relations (:func:`link_test_relations`). Every choice is made on out-of-fold predictions."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...tasks import token_classification as tc
from .labels import LABELS, mentions
from .relation_model import (
    choose_relation_threshold,
    decode_relations,
    oof_relation_scores,
    rule_oof_relations,
    test_relation_scores,
)
from .relations import Relation, RuleLinker
from .scoring import choose_combination, choose_threshold, combine, entity_score

__all__ = ["EntityChoice", "RelationChoice", "choose_entities", "choose_relations", "run_metrics",
           "link_test_relations"]


@dataclass(frozen=True)
class EntityChoice:
    """The entity choices made out of fold, and the labels they give the held-out sentences."""

    model_threshold: float  # the model's own O-threshold
    curve: dict[float, float]  # O-threshold -> out-of-fold entity F1 of the model alone
    weight: float  # the gazetteer weight of the combination
    threshold: float  # the combination's O-threshold
    combination_curve: dict[float, tuple[float, float]]  # gazetteer weight -> (its best threshold, entity F1)
    model_oof: list[list[str]]  # the model's labels, decoded at model_threshold
    pred_oof: list[list[str]]  # the combination's labels: what is submitted


@dataclass(frozen=True)
class RelationChoice:
    """The relation choice made out of fold on the predicted entities: rule or classifier, and their figures."""

    rule_oof: list[list[Relation]]  # the rule baseline's relations
    clf_oof: list[list[Relation]]  # the classifier's relations
    threshold: float  # the classifier's "no relation" threshold
    one_per_subject: bool  # at most one relation per subject entity
    curve: dict[tuple[float, bool], float]  # (threshold, one per subject) -> relation F1
    rule_f1: float
    clf_f1: float
    clf_gold_f1: float  # the classifier on the true entities, for reference
    source: str  # "classifier" or "rule": which relations are submitted
    rel_oof: list[list[Relation]]  # the submitted source's relations
    table: pd.DataFrame  # per relation type: rule_f1 and the classifier's report


def choose_entities(probs_oof: Sequence[np.ndarray], gazetteer_oof: Sequence[Sequence[str]],
                    true_oof: Sequence[Sequence[str]], aggregate: str = "micro", gazetteer_weight: float = -1.0,
                    o_threshold: float = -1.0) -> EntityChoice:
    """The out-of-fold entity choices (an :class:`EntityChoice`) from the model's word probabilities
    ``probs_oof``, the gazetteer's labels ``gazetteer_oof`` and the true labels ``true_oof`` of the held-out
    sentences: the model's O-threshold, the gazetteer weight and the combination's threshold, each maximising
    the entity F1 (``aggregate``) or fixed instead where ``gazetteer_weight``/``o_threshold`` is >= 0. Raises
    ``ValueError`` for an unknown ``aggregate``."""
    model_threshold, curve = choose_threshold(probs_oof, true_oof, aggregate)
    weight, threshold, combination_curve = choose_combination(probs_oof, gazetteer_oof, true_oof, aggregate)
    if gazetteer_weight >= 0:
        weight = gazetteer_weight
        threshold = choose_threshold(combine(probs_oof, gazetteer_oof, weight), true_oof, aggregate)[0]
    if o_threshold >= 0:
        model_threshold = threshold = o_threshold
    return EntityChoice(
        model_threshold=model_threshold, curve=curve, weight=weight, threshold=threshold,
        combination_curve=combination_curve, model_oof=tc.decode(probs_oof, LABELS, model_threshold),
        pred_oof=tc.decode(combine(probs_oof, gazetteer_oof, weight), LABELS, threshold))


def choose_relations(infos: Sequence[dict], words: Sequence[Sequence[str]], labels: Sequence[Sequence[str]],
                     relations: Sequence[Sequence[Relation]], fold_of: np.ndarray, rows: Sequence[int],
                     pred_oof: Sequence[Sequence[str]], aggregate: str = "micro",
                     relations_from: str = "auto") -> RelationChoice:
    """Relations out of fold on the out-of-fold *predicted* entities (a :class:`RelationChoice`): the rule
    baseline (fitted per fold on the training sentences ``words``, ``labels``, ``relations`` of the other folds,
    ``fold_of`` giving each sentence's fold) and the fold classifiers of ``infos`` (the token classifier's fold
    infos) on the held-out sentences ``rows`` labelled ``pred_oof``; ``relations_from`` ("auto", "classifier",
    "rule") says which one is submitted, "auto" the one with the better relation F1 (``aggregate``)."""
    from ...metrics import relation_f1, relation_report

    true = [relations[i] for i in rows]
    ents_oof = [mentions(words[i], p) for i, p in zip(rows, pred_oof)]
    rule_oof = rule_oof_relations(words, labels, relations, fold_of, rows, ents_oof)
    scored, classes = oof_relation_scores(infos, rows, ents_oof)
    threshold, one_per_subject, curve = choose_relation_threshold(scored, classes, true, aggregate)
    clf_oof = decode_relations(scored, classes, threshold, one_per_subject)
    scored_gold = oof_relation_scores(infos, rows, [mentions(words[i], labels[i]) for i in rows])[0]
    clf_gold_f1 = relation_f1(true, decode_relations(scored_gold, classes, threshold, one_per_subject), aggregate)
    rule_f1, clf_f1 = relation_f1(true, rule_oof, aggregate), relation_f1(true, clf_oof, aggregate)
    source = relations_from if relations_from != "auto" else ("classifier" if clf_f1 > rule_f1 else "rule")
    table = relation_report(true, rule_oof)[["f1"]].rename(columns={"f1": "rule_f1"}).join(
        relation_report(true, clf_oof).rename(columns=lambda c: f"classifier_{c}"), how="outer").fillna(0.0)
    return RelationChoice(rule_oof=rule_oof, clf_oof=clf_oof, threshold=threshold, one_per_subject=one_per_subject,
                          curve=curve, rule_f1=rule_f1, clf_f1=clf_f1, clf_gold_f1=clf_gold_f1, source=source,
                          rel_oof=clf_oof if source == "classifier" else rule_oof, table=table)


def run_metrics(scores: dict, summary: dict, entities: EntityChoice, rel: RelationChoice, entity_table: pd.DataFrame,
                *, true_oof: Sequence[Sequence[str]], gazetteer_oof: Sequence[Sequence[str]],
                true_rel_oof: Sequence[Sequence[Relation]], argmax_score: float, aggregate: str = "micro",
                folds_trained: int, train_seconds: float) -> dict[str, float]:
    """The run's metrics, ``name -> value`` as ``run.log_metrics`` takes them: the SOMD score out of fold (the
    run score, from ``scores``, :func:`~.scoring.somd_scores`, and ``summary``,
    :func:`~.scoring.somd_cv_summary`) and its parts, every approach's figure, the choices made, and the
    per-type F1 of what is submitted (``entity_table``: one row per type, a ``combination`` column)."""
    from ...metrics import relation_report

    metrics = {
        "val_somd_score": scores[f"somd_{aggregate}"], "val_entity_f1": scores[f"entity_f1_{aggregate}"],
        "val_relation_f1": scores[f"relation_f1_{aggregate}"], **{f"val_{k}": v for k, v in scores.items()},
        "val_somd_score_cv_mean": summary["mean"], "val_somd_score_cv_std": summary["std"],
        "val_entity_f1_gazetteer": entity_score(true_oof, gazetteer_oof, aggregate),
        "val_entity_f1_model": entity_score(true_oof, entities.model_oof, aggregate),
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


def link_test_relations(rel: RelationChoice, infos: Sequence[dict], test_entities: Sequence[Sequence[tuple]],
                        words: Sequence[Sequence[str]], labels: Sequence[Sequence[str]],
                        relations: Sequence[Sequence[Relation]]) -> list[list[Relation]]:
    """The test sentences' relations from what was chosen out of fold (``rel``): the fold classifiers of
    ``infos`` averaged (their threshold) or the rule fitted on every training sentence (``words``, ``labels``,
    ``relations``), linking ``test_entities`` (the :func:`~.labels.mentions` of each test sentence)."""
    if rel.source == "classifier":
        return decode_relations(*test_relation_scores(infos, test_entities), rel.threshold, rel.one_per_subject)
    gold = [mentions(w, lab) for w, lab in zip(words, labels)]
    return RuleLinker().fit(gold, relations).predict(test_entities)
