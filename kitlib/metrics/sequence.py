"""Sequence-labelling metrics: entity-level and token-level precision/recall/F1 (SOMD 2025).

Two views of the same BIO predictions, side by side:

- **entity level** (how SOMD is scored): a predicted entity counts only when its type, first and last
  word all equal a true entity's. Computed by ``seqeval`` (conlleval rules: an ``I-X`` that does not
  continue an ``X`` entity starts one), micro-averaged over all entities and per type.
- **token level** (what the public reference notebook reported): every word whose true or predicted
  label is not ``O`` is one decision; micro precision/recall/F1 over the non-``O`` labels, i.e.
  scikit-learn's ``precision_recall_fscore_support(average="micro", labels=<all but O>)`` on the
  flattened labels. It rewards half-found entities, so it reads higher than the entity score.

Inputs are sequences of sentences, each a sequence of label strings (``"B-Application"``, ``"O"``).
"""
from __future__ import annotations

from collections.abc import Sequence

__all__ = ["entity_prf", "entity_f1", "entity_report", "token_prf", "sequence_scores"]

Labels = Sequence[Sequence[str]]


def _check(y_true: Labels, y_pred: Labels) -> tuple[list[list[str]], list[list[str]]]:
    true = [list(s) for s in y_true]
    pred = [list(s) for s in y_pred]
    if len(true) != len(pred):
        raise ValueError(f"{len(true)} true sentences but {len(pred)} predicted sentences")
    for i, (t, p) in enumerate(zip(true, pred)):
        if len(t) != len(p):
            raise ValueError(f"sentence {i}: {len(t)} true labels but {len(p)} predicted labels")
    if not true:
        raise ValueError("cannot score an empty prediction")
    return true, pred


def _check_mode(mode: str) -> None:
    if mode not in ("conlleval", "strict"):
        raise ValueError(f"Unknown mode {mode!r}; expected one of ['conlleval', 'strict']")


def _prf(tp: int, n_pred: int, n_true: int) -> dict[str, float]:
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def _seqeval_prfs(true: list[list[str]], pred: list[list[str]], mode: str, average: str | None):
    """seqeval's per-type (``average=None``) or micro scores, in conlleval or strict IOB2 mode."""
    _check_mode(mode)
    if mode == "conlleval":
        from seqeval.metrics.sequence_labeling import precision_recall_fscore_support

        return precision_recall_fscore_support(true, pred, average=average, zero_division=0)
    from seqeval.metrics.v1 import precision_recall_fscore_support as strict_prfs
    from seqeval.scheme import IOB2

    return strict_prfs(true, pred, average=average, zero_division=0, scheme=IOB2)


def entity_prf(y_true: Labels, y_pred: Labels, mode: str = "conlleval") -> dict[str, float]:
    """Exact-match entity precision, recall and F1, micro-averaged over all entity types (by ``seqeval``).

    In: sentences of true and predicted BIO labels; ``mode`` ``"conlleval"`` (seqeval's default: a stray
    ``I-X`` starts an entity) or ``"strict"`` (IOB2: a stray ``I-X`` is no entity).
    Out: ``{"precision", "recall", "f1", "support"}`` (support = number of true entities). Precision is 0
    when nothing is predicted, recall 0 when nothing is true.
    Raises ``ValueError`` when sentence counts or lengths differ, there is nothing to score, or for an
    unknown ``mode``.
    """
    true, pred = _check(y_true, y_pred)
    p, r, f, s = _seqeval_prfs(true, pred, mode, "micro")
    return {"precision": float(p), "recall": float(r), "f1": float(f), "support": float(s)}


def entity_f1(y_true: Labels, y_pred: Labels, mode: str = "conlleval") -> float:
    """Exact-match entity F1 (micro over types), the SOMD score. See :func:`entity_prf`."""
    return entity_prf(y_true, y_pred, mode=mode)["f1"]


def entity_report(y_true: Labels, y_pred: Labels, mode: str = "conlleval"):
    """Per-type exact-match entity scores through ``seqeval``, plus a ``micro`` row.

    Out: a pandas DataFrame indexed by entity type (sorted, then ``micro``) with columns ``precision``,
    ``recall``, ``f1``, ``support`` (true entities of that type) and ``predicted`` (predicted entities).
    Types that occur only in predictions appear with support 0. Raises ``ValueError`` as
    :func:`entity_prf` does.
    """
    import pandas as pd
    from seqeval.metrics.sequence_labeling import get_entities

    true, pred = _check(y_true, y_pred)
    columns = ["precision", "recall", "f1", "support", "predicted"]
    _check_mode(mode)
    if mode == "conlleval":
        types = sorted({e[0] for s in true + pred for e in get_entities(s)})
    else:
        from seqeval.scheme import IOB2, Entities

        types = sorted(Entities(true, IOB2).unique_tags | Entities(pred, IOB2).unique_tags)
    rows: dict[str, dict[str, float]] = {}
    if types:
        p, r, f, s = _seqeval_prfs(true, pred, mode, None)
        n_pred = _seqeval_prfs(pred, true, mode, None)[3]  # support of the swapped call = predicted entities
        for i, name in enumerate(types):
            rows[name] = dict(zip(columns, (float(p[i]), float(r[i]), float(f[i]), int(s[i]), int(n_pred[i]))))
    micro = entity_prf(true, pred, mode=mode)
    rows["micro"] = {**micro, "support": int(micro["support"]),
                     "predicted": sum(int(v["predicted"]) for v in rows.values())}
    return pd.DataFrame.from_dict(rows, orient="index")[columns]


def token_prf(y_true: Labels, y_pred: Labels, outside: str = "O") -> dict[str, float]:
    """Token-level micro precision/recall/F1 over the non-``outside`` labels (the reference's metric).

    A word is a true positive when its predicted label equals its true label and is not ``outside``;
    precision divides by the words predicted non-``outside``, recall by the words truly non-``outside``.
    Equal to scikit-learn's ``precision_recall_fscore_support(average="micro", labels=<all but O>)``.
    Out: ``{"precision", "recall", "f1", "support"}``. Raises ``ValueError`` as :func:`entity_prf` does.
    """
    true, pred = _check(y_true, y_pred)
    tp = n_pred = n_true = 0
    for t_sent, p_sent in zip(true, pred):
        for t, p in zip(t_sent, p_sent):
            n_true += t != outside
            n_pred += p != outside
            tp += t == p and t != outside
    return {**_prf(tp, n_pred, n_true), "support": float(n_true)}


def sequence_scores(y_true: Labels, y_pred: Labels) -> dict[str, float]:
    """Entity-level and token-level scores side by side, flat, ready for a run record.

    Out: ``entity_precision``, ``entity_recall``, ``entity_f1``, ``token_precision``, ``token_recall``,
    ``token_f1``. Raises ``ValueError`` as :func:`entity_prf` does.
    """
    ent = entity_prf(y_true, y_pred)
    tok = token_prf(y_true, y_pred)
    return {**{f"entity_{k}": ent[k] for k in ("precision", "recall", "f1")},
            **{f"token_{k}": tok[k] for k in ("precision", "recall", "f1")}}
