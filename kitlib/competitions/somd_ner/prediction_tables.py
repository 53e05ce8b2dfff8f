"""SOMD prediction tables: one row per word, the scores and the submission read from them.

A run keeps its word probabilities in the long format of the run folder (see :mod:`kitlib.predictions`)::

    oof.parquet               sentence, token, fold, label (the gold BIO label), relations (the sentence's gold
                              relations line), p_O, p_B-Application, ...
    test_predictions.parquet  sentence, token, p_O, p_B-Application, ...

``sentence`` is the sentence's line index (from 0) in ``train_texts.txt`` or ``test_texts.txt``, ``token``
the word's index in it. Labels are decoded per sentence as :func:`kitlib.tasks.token_classification.decode`
does: the argmax, or with an ``o_threshold`` the best entity label wherever ``P(O)`` is below it; then BIO
repair. The blend's score and submission (:data:`COMPETITION.predictions`) decode threshold-free (plain
argmax), so a blend needs nothing but the probabilities; a notebook may pass the O-threshold it chose. Word
tables carry no relation scores: a blend's score and zip link its entities with the rule baseline.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ... import predictions
from ...errors import DataError
from ...tasks.token_classification import decode
from .dataset import read_somd
from .files import TEST_TEXTS, read_texts
from .labels import LABELS, mentions
from .relations import RuleLinker, format_relations, parse_relations_line
from .submission import submission_zip

__all__ = ["PROBABILITIES", "word_frame", "sentence_probs", "sentence_labels", "decode_frame", "score_predictions",
           "fold_scores", "cv_summary", "predictions_to_submission"]


#: The prediction columns, ``p_<label>`` for every label in :data:`LABELS` order.
PROBABILITIES: tuple[str, ...] = tuple(predictions.columns("p_", LABELS))


def word_frame(probs: Sequence[np.ndarray], sentences: Sequence[int], *, fold: Sequence[int] | None = None,
               labels: Sequence[Sequence[str]] | None = None,
               relations: Sequence[Sequence[tuple[str, int, int]]] | None = None) -> pd.DataFrame:
    """A long predictions table: one row per word of ``sentences`` (their indices in the file).

    In: ``probs[i]``, an ``(n_words, n_labels)`` array for sentence ``sentences[i]``; ``fold[i]`` its fold
    (for out-of-fold tables); ``labels[i]`` its gold labels (column ``label``); ``relations[i]`` its gold
    relations (column ``relations``: the sentence's line of the relations file, on each of its rows).
    Out: columns ``sentence``, ``token``, [``fold``], [``label``], [``relations``], then :data:`PROBABILITIES`.
    Raises ``ParameterError`` when an array's width is not the label count, ``DataError`` when a sentence's
    labels and probabilities differ in length.
    """
    sentences = np.asarray(sentences, dtype=np.int64)
    arrays = [np.asarray(p, dtype=np.float64).reshape(len(p), -1) for p in probs]
    if len(arrays) != len(sentences):
        raise DataError(f"{len(arrays)} probability arrays for {len(sentences)} sentences")
    counts = np.array([len(a) for a in arrays], dtype=np.int64)
    keys = {"sentence": np.repeat(sentences, counts),
            "token": np.concatenate([np.arange(n) for n in counts]) if len(counts) else np.zeros(0, np.int64)}
    target = None
    if labels is not None:
        for s, labs, n in zip(sentences, labels, counts):
            if len(labs) != n:
                raise DataError(f"sentence {s}: {len(labs)} labels for {n} words with probabilities")
        target = {"label": [lab for labs in labels for lab in labs]}
    if relations is not None:
        target = {**(target or {}), "relations": np.repeat(np.array([format_relations(r) for r in relations],
                                                                    dtype=object), counts)}
    values = np.concatenate(arrays) if arrays else np.zeros((0, len(PROBABILITIES)))
    return predictions.frame(keys, values, PROBABILITIES, target=target,
                             fold=None if fold is None else np.repeat(np.asarray(fold, dtype=np.int64), counts))


def _ordered(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """``frame`` sorted by sentence and token, its sentence ids and the start row of each sentence;
    ``DataError`` when a column is missing or a sentence's tokens are not 0, 1, ..., n-1."""
    missing = [c for c in ("sentence", "token", *PROBABILITIES) if c not in frame.columns]
    if missing:
        raise DataError(f"SOMD predictions lack the columns {missing[:4]}{' ...' if len(missing) > 4 else ''}; "
                        "expected sentence, token and p_<label> for every label")
    ordered = frame.sort_values(["sentence", "token"], kind="stable")
    sentence = ordered["sentence"].to_numpy()
    starts = np.flatnonzero(np.r_[True, sentence[1:] != sentence[:-1]]) if len(sentence) else np.zeros(0, np.int64)
    expected = np.arange(len(sentence)) - np.repeat(starts, np.diff(np.r_[starts, len(sentence)]))
    bad = np.flatnonzero(ordered["token"].to_numpy() != expected)
    if len(bad):
        s = sentence[bad[0]]
        tokens = ordered["token"].to_numpy()[sentence == s].tolist()
        raise DataError(f"sentence {s}: tokens {tokens[:8]}{' ...' if len(tokens) > 8 else ''}; expected one row "
                        "per word, numbered 0, 1, 2, ...")
    return ordered, sentence[starts], starts


def sentence_probs(frame: pd.DataFrame) -> tuple[np.ndarray, list[np.ndarray]]:
    """``(sentence ids, one (n_words, n_labels) array per sentence)`` from a long table, in sentence order.

    Raises ``DataError`` for a missing column or tokens that are not numbered 0..n-1 within a sentence.
    """
    ordered, ids, starts = _ordered(frame)
    values = ordered[list(PROBABILITIES)].to_numpy(dtype=np.float64)
    return ids, np.split(values, starts[1:]) if len(starts) else []


def sentence_labels(frame: pd.DataFrame, column: str = "label") -> list[list[str]]:
    """The ``column`` values of a long table as one label list per sentence, in sentence order."""
    ordered, _, starts = _ordered(frame)
    if column not in ordered.columns:
        raise DataError(f"SOMD predictions lack the column {column!r} (the gold BIO label of each word)")
    if not len(starts):
        return []
    return [part.tolist() for part in np.split(ordered[column].to_numpy(dtype=object), starts[1:])]


def decode_frame(frame: pd.DataFrame, o_threshold: float | None = None) -> list[list[str]]:
    """BIO labels per sentence (in sentence order) decoded from the ``p_`` columns; ``o_threshold`` None or
    0: argmax, then BIO repair."""
    return decode(sentence_probs(frame)[1], LABELS, o_threshold)


def _gold_relations(frame: pd.DataFrame) -> list[list[tuple[str, int, int]]]:
    ordered, _, starts = _ordered(frame)
    return [parse_relations_line(str(line), "relations")[0] for line in ordered["relations"].to_numpy()[starts]]


def score_predictions(frame: pd.DataFrame, o_threshold: float | None = None) -> float:
    """The score of a word table: with a ``relations`` column, the micro SOMD score (the mean of the entity F1
    of the labels decoded from the ``p_`` columns against ``label`` and the relation F1 of the rule baseline,
    fitted on the table's gold entities and relations, applied to the decoded entities); without it the
    exact-match entity F1 (seqeval) alone. Threshold-free (argmax and BIO repair) unless ``o_threshold`` is
    given; 0.0 for a table without rows.
    """
    from ...metrics import entity_f1, relation_f1, somd_score

    if len(frame) == 0:
        return 0.0
    true, pred = sentence_labels(frame), decode_frame(frame, o_threshold)
    ent = float(entity_f1(true, pred))
    if "relations" not in frame.columns:
        return ent
    words = [[""] * len(t) for t in true]
    gold = _gold_relations(frame)
    rule = RuleLinker().fit([mentions(w, t) for w, t in zip(words, true)], gold)
    return somd_score(ent, relation_f1(gold, rule.predict([mentions(w, p) for w, p in zip(words, pred)])))


def fold_scores(frame: pd.DataFrame, o_threshold: float | None = None) -> dict[int, float]:
    """Entity F1 of each fold of an out-of-fold table (fold id -> score), decoded as :func:`score_predictions`."""
    if "fold" not in frame.columns:
        raise DataError("SOMD out-of-fold predictions lack the column 'fold'")
    return {int(k): score_predictions(part, o_threshold) for k, part in frame.groupby("fold", sort=True)}


def cv_summary(frame: pd.DataFrame, metric: str, o_threshold: float | None = None) -> dict:
    """The manifest's ``cv`` record of an out-of-fold table: ``{metric, mean, std, folds, fold_ids, n_rows,
    n_sentences, score, o_threshold}``; ``score`` is the pooled entity F1, ``mean``/``std`` over the folds,
    ``n_rows`` the table's rows (words)."""
    per_fold = fold_scores(frame, o_threshold)
    values = list(per_fold.values())
    return {"metric": metric, "mean": float(np.mean(values)) if values else float("nan"),
            "std": float(np.std(values)) if values else float("nan"), "folds": values, "fold_ids": list(per_fold),
            "n_rows": int(len(frame)), "n_sentences": int(frame["sentence"].nunique()),
            "score": score_predictions(frame, o_threshold), "o_threshold": o_threshold}


def predictions_to_submission(test: pd.DataFrame, data_dir: Path, o_threshold: float | None = None) -> bytes:
    """The submission zip (:func:`~.submission.submission_zip`) from test word probabilities:
    the labels decoded as :func:`decode_frame`, the relations by the rule baseline fitted on ``data_dir``'s
    training entities and relations (what a blend of runs submits: word tables carry no relation scores).

    Raises ``DataError`` when the table's sentences or word counts are not those of ``test_texts.txt``.
    """
    sentences = read_texts(Path(data_dir) / TEST_TEXTS)
    ids, probs = sentence_probs(test)
    if ids.tolist() != list(range(len(sentences))):
        missing = sorted(set(range(len(sentences))) - set(ids.tolist()))
        raise DataError(f"test predictions cover {len(ids)} sentences but {TEST_TEXTS} has {len(sentences)}"
                        + (f"; sentences {missing[:5]} have none" if missing else
                           f"; expected sentences 0..{len(sentences) - 1}"))
    for s, (p, words) in enumerate(zip(probs, sentences)):
        if len(p) != len(words):
            raise DataError(f"test predictions: sentence {s} ({TEST_TEXTS} line {s + 1}) has {len(p)} rows "
                            f"for {len(words)} words")
    labels = decode(probs, LABELS, o_threshold)
    data = read_somd(data_dir)
    rule = RuleLinker().fit([mentions(w, lab) for w, lab in zip(data.train_words, data.train_labels)],
                            data.train_relations)
    return submission_zip(labels, rule.predict([mentions(w, lab) for w, lab in zip(sentences, labels)]))
