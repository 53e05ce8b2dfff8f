"""The text template's linear models as fold functions for :func:`kitlib.folds.cross_validate`.

- ``tfidf``: word 1-2-grams and character 2-5-grams inside word boundaries (of each text's first 1,500 characters):
  the strong classic, counted once for every text by hashing (stateless, so no fold sees another's vocabulary),
  weighted per fold by a ``TfidfTransformer`` (sublinear tf, idf from the fold's training rows only), each block
  scaled to unit length; logistic regression per target (liblinear for two classes, multinomial lbfgs for more),
  ridge for values.
- ``embeddings``: the vectors of :func:`kitlib.embed.embed_texts` (computed once: the encoder learns nothing from
  the labels), standardised on the fold's training rows, then the same linear heads.

Predictions are class probabilities per target (columns as ``problem.columns``) or values.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ...folds import FoldResult
from ..tabular.problem import Problem

__all__ = ["TfidfSettings", "hashed_counts", "tfidf_fold", "embedding_fold", "linear_heads"]


@dataclass(frozen=True)
class TfidfSettings:
    """``word_ngrams``/``char_ngrams``: n-gram ranges (``(1, 2)``, ``(2, 5)``; ``(0, 0)`` leaves a block out);
    ``char_limit``: the characters of each text the character block reads (its first ones: the block's cost grows
    with the text, its gain does not); ``bits``: 2**bits hashed columns per block; ``C``: inverse L2 strength of the
    logistic regression (ridge ``alpha`` is ``1 / C``)."""

    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    char_limit: int = 1500
    bits: int = 20
    C: float = 4.0


def hashed_counts(texts: Sequence[str], settings: TfidfSettings) -> list:
    """The word and character n-gram counts of ``texts`` (one sparse CSR matrix per block, rows in text order)."""
    from sklearn.feature_extraction.text import HashingVectorizer

    blocks = []
    for analyzer, ngrams in (("word", settings.word_ngrams), ("char_wb", settings.char_ngrams)):
        if ngrams[1] < 1:
            continue
        hasher = HashingVectorizer(analyzer=analyzer, ngram_range=tuple(ngrams), n_features=2 ** settings.bits,
                                   alternate_sign=False, norm=None, lowercase=True,
                                   token_pattern=r"(?u)\b\w+\b" if analyzer == "word" else None)
        part = list(texts) if analyzer == "word" else [t[:settings.char_limit] for t in texts]
        blocks.append(hasher.transform(part).tocsr())
    return blocks


def _weighted(blocks: list, train_idx: np.ndarray, rows: Sequence[np.ndarray]) -> list:
    """Per set of ``rows``: the blocks tf-idf weighted with idf from ``train_idx`` (sublinear tf, each block's
    rows L2-normalised), stacked side by side."""
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfTransformer

    parts: list[list] = [[] for _ in rows]
    for block in blocks:
        weigh = TfidfTransformer(sublinear_tf=True).fit(block[train_idx])
        for i, r in enumerate(rows):
            parts[i].append(weigh.transform(block[r]))
    return [sparse.hstack(p).tocsr() for p in parts]


def linear_heads(problem: Problem, X, y: np.ndarray, C: float, seed: int) -> list:
    """One fitted scikit-learn model per target of ``problem`` on features ``X`` and ``y`` (``(n, targets)``
    codes or values): logistic regression for classes, ridge (``alpha = 1 / C``) for values."""
    from sklearn.linear_model import LogisticRegression, Ridge

    fitted = []
    for j, (_, _, labels) in enumerate(problem.blocks()):
        if not problem.classification:
            fitted.append(Ridge(alpha=1.0 / C).fit(X, y[:, j]))
            continue
        codes = y[:, j].astype(np.int64)
        solver = "liblinear" if len(labels) == 2 else "lbfgs"
        model = LogisticRegression(C=C, solver=solver, max_iter=2000, random_state=seed)
        fitted.append(model.fit(X, codes))
    return fitted


def _predict(problem: Problem, fitted: list, X) -> np.ndarray:
    """``(n, len(problem.columns))``: each target's class probabilities (every label, absent ones 0) or values."""
    out = []
    for model, (_, _, labels) in zip(fitted, problem.blocks()):
        if not problem.classification:
            out.append(model.predict(X).reshape(-1, 1))
            continue
        proba = np.zeros((X.shape[0], len(labels)))
        proba[:, model.classes_.astype(np.int64)] = model.predict_proba(X)
        out.append(proba)
    return np.hstack(out)


def tfidf_fold(problem: Problem, blocks: list, y: np.ndarray, n_train: int, settings: TfidfSettings,
               seed: int = 0) -> Callable[[int, np.ndarray, np.ndarray], FoldResult]:
    """A fold function over the first ``n_train`` rows of ``blocks`` (:func:`hashed_counts` of the training texts
    followed by the test texts): tf-idf weights and linear heads from the fold's training rows, predictions for its
    validation rows and the test rows. ``info`` holds ``seconds``."""
    test_rows = np.arange(n_train, blocks[0].shape[0])

    def fit_fold(k: int, train_idx: np.ndarray, val_idx: np.ndarray) -> FoldResult:
        started = time.perf_counter()
        X_train, X_val, X_test = _weighted(blocks, train_idx, [train_idx, val_idx, test_rows])
        fitted = linear_heads(problem, X_train, y[train_idx], settings.C, seed)
        test = _predict(problem, fitted, X_test) if len(test_rows) else None
        return FoldResult(val=_predict(problem, fitted, X_val), test=test, model=fitted,
                          info={"seconds": time.perf_counter() - started})

    return fit_fold


def embedding_fold(problem: Problem, vectors: np.ndarray, y: np.ndarray, n_train: int, C: float = 1.0,
                   seed: int = 0) -> Callable[[int, np.ndarray, np.ndarray], FoldResult]:
    """A fold function over the first ``n_train`` rows of ``vectors`` (the training texts' embeddings followed by
    the test texts'): standardised on the fold's training rows, then :func:`linear_heads` with ``C``."""
    from sklearn.preprocessing import StandardScaler

    test_rows = np.arange(n_train, len(vectors))

    def fit_fold(k: int, train_idx: np.ndarray, val_idx: np.ndarray) -> FoldResult:
        started = time.perf_counter()
        scale = StandardScaler().fit(vectors[train_idx])
        fitted = linear_heads(problem, scale.transform(vectors[train_idx]), y[train_idx], C, seed)
        test = _predict(problem, fitted, scale.transform(vectors[test_rows])) if len(test_rows) else None
        return FoldResult(val=_predict(problem, fitted, scale.transform(vectors[val_idx])), test=test, model=fitted,
                          info={"seconds": time.perf_counter() - started})

    return fit_fold
