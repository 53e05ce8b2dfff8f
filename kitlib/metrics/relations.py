"""Relation metrics (SOMD 2025 Subtask II): exact match on ``(type, subject start, object start)``.

A relation of one sentence is a tuple ``(type, subject, object)``: the relation type (``"Version_of"``)
and the indices of the first token of the subject and of the object entity. A predicted relation counts
only when all three equal a true relation of the same sentence; repeats within a sentence count once.
``micro`` pools the counts over all types; ``macro`` averages the per-type F1 over the types that occur
in the truth or the predictions. The SOMD score is the mean of the entity F1 and the relation F1, both
with the same aggregate.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

__all__ = ["AGGREGATES", "relation_counts", "relation_prf", "relation_f1", "relation_report", "somd_score"]

Relations = Sequence[Sequence[tuple[str, int, int]]]
AGGREGATES = ("micro", "macro")


def _check_average(average: str) -> None:
    if average not in AGGREGATES:
        raise ValueError(f"Unknown average {average!r}; expected one of {list(AGGREGATES)}")


def relation_counts(y_true: Relations, y_pred: Relations) -> dict[str, dict[str, int]]:
    """Per relation type: ``{"tp", "predicted", "support"}`` (support = true relations of that type).

    Raises ``ValueError`` when the sentence counts differ.
    """
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} true sentences but {len(y_pred)} predicted sentences")
    counts: dict[str, Counter] = {}
    for true, pred in zip(y_true, y_pred):
        t = {(str(r[0]), int(r[1]), int(r[2])) for r in true}
        p = {(str(r[0]), int(r[1]), int(r[2])) for r in pred}
        for rel in t:
            counts.setdefault(rel[0], Counter())["support"] += 1
        for rel in p:
            c = counts.setdefault(rel[0], Counter())
            c["predicted"] += 1
            c["tp"] += rel in t
    return {k: {"tp": c["tp"], "predicted": c["predicted"], "support": c["support"]} for k, c in sorted(counts.items())}


def _prf(tp: int, n_pred: int, n_true: int) -> dict[str, float]:
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def relation_prf(y_true: Relations, y_pred: Relations, average: str = "micro") -> dict[str, float]:
    """Relation precision, recall and F1 (``average`` ``"micro"`` or ``"macro"``) and the true count.

    Micro: pooled counts; macro: the mean of each type's precision, recall and F1 over the types found in
    ``y_true`` or ``y_pred`` (0 for all three when there is none). Raises ``ValueError`` for an unknown
    ``average`` or different sentence counts.
    """
    _check_average(average)
    counts = relation_counts(y_true, y_pred)
    support = float(sum(c["support"] for c in counts.values()))
    if average == "micro":
        out = _prf(sum(c["tp"] for c in counts.values()), sum(c["predicted"] for c in counts.values()), int(support))
    else:
        per = [_prf(c["tp"], c["predicted"], c["support"]) for c in counts.values()]
        out = {k: (sum(p[k] for p in per) / len(per) if per else 0.0) for k in ("precision", "recall", "f1")}
    return {**out, "support": support}


def relation_f1(y_true: Relations, y_pred: Relations, average: str = "micro") -> float:
    """Exact-match relation F1, see :func:`relation_prf`."""
    return relation_prf(y_true, y_pred, average)["f1"]


def relation_report(y_true: Relations, y_pred: Relations):
    """Per-type relation scores, then ``micro`` and ``macro`` rows (a pandas DataFrame with columns
    ``precision``, ``recall``, ``f1``, ``support``, ``predicted``)."""
    import pandas as pd

    counts = relation_counts(y_true, y_pred)
    rows = {k: {**_prf(c["tp"], c["predicted"], c["support"]), "support": c["support"], "predicted": c["predicted"]}
            for k, c in counts.items()}
    total = {"support": sum(c["support"] for c in counts.values()),
             "predicted": sum(c["predicted"] for c in counts.values())}
    micro, macro = relation_prf(y_true, y_pred, "micro"), relation_prf(y_true, y_pred, "macro")
    rows["micro"] = {**{k: micro[k] for k in ("precision", "recall", "f1")}, **total}
    rows["macro"] = {**{k: macro[k] for k in ("precision", "recall", "f1")}, **total}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    return frame[["precision", "recall", "f1", "support", "predicted"]] if len(frame) else frame


def somd_score(entity_f1: float, relation_f1: float) -> float:
    """The SOMD 2025 score: the mean of the entity F1 and the relation F1 (same aggregate for both)."""
    return (float(entity_f1) + float(relation_f1)) / 2.0
