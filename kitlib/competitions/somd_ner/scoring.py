"""The SOMD score and the choices made out of fold: O-threshold, gazetteer weight, relation source.

The shared task scores entities (exact-match IOB2 spans) and relations (exact ``(type, subject start, object
start)``); its score is their mean. ``average`` is ``"micro"`` (pooled over types, the default) or ``"macro"``
(the mean over types); every choice here maximises the score with the aggregate it is given.

The gazetteer combination is an ensemble: the gazetteer's labels as one-hot word probabilities mixed into the
model's, ``(1 - w) * P_model + w * onehot(gazetteer)``, with ``w`` and the O-threshold chosen out of fold
(:func:`choose_combination`); ``w = 0`` is the model alone, so the choice can only pick the combination where it
helps on held-out sentences.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...tasks.token_classification import decode
from .labels import LABELS

__all__ = ["entity_score", "somd_scores", "one_hot", "combine", "choose_threshold", "choose_combination",
           "somd_cv_summary", "fold_entity_scores"]

THRESHOLDS = (0.0, *np.round(np.arange(0.30, 0.951, 0.05), 2).tolist())
WEIGHTS = (0.0, 0.2, 0.35, 0.5, 0.65, 0.8)


def entity_score(true: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], average: str = "micro") -> float:
    """Exact-match entity F1, micro (seqeval) or macro (the mean of the per-type F1 over the types in the
    truth or the predictions; 0 when there is none)."""
    from ...metrics import AGGREGATES, entity_f1, entity_report

    if average not in AGGREGATES:
        raise ValueError(f"Unknown average {average!r}; expected one of {list(AGGREGATES)}")
    if average == "micro":
        return float(entity_f1(true, pred))
    report = entity_report(true, pred).drop(index="micro")
    return float(report["f1"].mean()) if len(report) else 0.0


def somd_scores(true_labels, pred_labels, true_relations, pred_relations) -> dict[str, float]:
    """``entity_f1_<agg>``, ``relation_f1_<agg>`` and ``somd_<agg>`` for both aggregates (micro, macro)."""
    from ...metrics import relation_f1, somd_score

    out = {}
    for agg in ("micro", "macro"):
        ent, rel = entity_score(true_labels, pred_labels, agg), relation_f1(true_relations, pred_relations, agg)
        out.update({f"entity_f1_{agg}": ent, f"relation_f1_{agg}": rel, f"somd_{agg}": somd_score(ent, rel)})
    return out


def one_hot(labels: Sequence[Sequence[str]]) -> list[np.ndarray]:
    """BIO labels as word probabilities (1 for the label, 0 elsewhere), one ``(n_words, n_labels)`` array
    per sentence."""
    index = {lab: i for i, lab in enumerate(LABELS)}
    out = []
    for labs in labels:
        a = np.zeros((len(labs), len(LABELS)), np.float32)
        a[np.arange(len(labs)), [index[lab] for lab in labs]] = 1.0
        out.append(a)
    return out


def combine(probs: Sequence[np.ndarray], gazetteer: Sequence[Sequence[str]], weight: float) -> list[np.ndarray]:
    """``(1 - weight) * probs + weight * one_hot(gazetteer)``, sentence by sentence."""
    if weight == 0:
        return [np.asarray(p) for p in probs]
    return [(1 - weight) * np.asarray(p) + weight * g for p, g in zip(probs, one_hot(gazetteer))]


def choose_threshold(probs, true, average: str = "micro", grid: Sequence[float] = THRESHOLDS):
    """The O-threshold with the best entity F1 (``average``) on held-out probabilities: ``(threshold, curve)``;
    ties go to the threshold closest to 0.5."""
    curve = {float(t): entity_score(true, decode(probs, LABELS, float(t)), average) for t in grid}
    return max(curve, key=lambda t: (round(curve[t], 12), -abs(t - 0.5))), curve


def choose_combination(probs, gazetteer, true, average: str = "micro", weights: Sequence[float] = WEIGHTS,
                       thresholds: Sequence[float] = THRESHOLDS):
    """The gazetteer weight and O-threshold with the best entity F1 (``average``) on held-out sentences.

    Out: ``(weight, threshold, {weight: (best threshold, F1)})``; ties go to the smaller weight.
    """
    curve = {}
    for w in weights:
        t, c = choose_threshold(combine(probs, gazetteer, float(w)), true, average, thresholds)
        curve[float(w)] = (t, c[t])
    best = max(curve, key=lambda w: (round(curve[w][1], 12), -w))
    return best, curve[best][0], curve


def somd_cv_summary(folds: Sequence[int], true_labels, pred_labels, true_relations, pred_relations, metric: str,
                    average: str = "micro") -> dict:
    """The manifest's ``cv`` record of the SOMD score: ``{metric, mean, std, folds, fold_ids, n_rows, n_sentences,
    score, average}`` from the held-out sentences (their fold in ``folds``); ``score`` is the pooled SOMD score,
    ``mean``/``std`` over the folds; rows are sentences."""
    from ...metrics import relation_f1, somd_score

    folds = np.asarray(folds)

    def score(idx):
        ent = entity_score([true_labels[i] for i in idx], [pred_labels[i] for i in idx], average)
        rel = relation_f1([true_relations[i] for i in idx], [pred_relations[i] for i in idx], average)
        return somd_score(ent, rel)

    ids = sorted({int(k) for k in folds})
    values = [score(np.flatnonzero(folds == k)) for k in ids]
    return {"metric": metric, "mean": float(np.mean(values)) if values else float("nan"),
            "std": float(np.std(values)) if values else float("nan"), "folds": values, "fold_ids": ids,
            "n_rows": int(len(folds)), "n_sentences": int(len(folds)), "score": score(np.arange(len(folds))),
            "average": average}


def fold_entity_scores(folds: Sequence[int], fold_ids: Sequence[int], true, predictions: dict,
                       average: str = "micro") -> dict[str, list[float]]:
    """Entity F1 (``average``) of each fold in ``fold_ids`` for each named prediction (name -> labels aligned
    with ``true``; ``folds`` gives each sentence's fold): ``{name: [F1 of fold k, ...]}``."""
    folds = np.asarray(folds)
    return {name: [entity_score([true[n] for n in np.flatnonzero(folds == k)],
                                [pred[n] for n in np.flatnonzero(folds == k)], average) for k in fold_ids]
            for name, pred in predictions.items()}
