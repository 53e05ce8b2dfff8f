"""Retrieved context for the questions: the query of a question (its prompt and options), its best passages
from a fitted retriever (:func:`add_context`), the context of external questions (:func:`extra_context`), and
the whole step for the notebook's question tables (:func:`retrieve_contexts`)."""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pandas as pd

from ...data import writable_cache_dir
from ...tasks import retrieval
from .questions import option_matrix

__all__ = ["QuestionContexts", "question_queries", "add_context", "extra_context", "retrieve_contexts"]


class QuestionContexts(NamedTuple):
    """The retrieved context of every question of each table (one text per question), in table order."""

    train: list[str]
    test: list[str]
    extra: list[str] | None  # None without external questions


def question_queries(df: pd.DataFrame) -> list[str]:
    """The retrieval query of each question: its prompt followed by its five options."""
    return [" ".join([p, *opts]) for p, opts in zip(df["prompt"].astype(str), option_matrix(df))]


def add_context(df: pd.DataFrame, retriever: retrieval.PassageRetriever, *, top_k: int = 2,
                max_words: int = 150) -> list[str]:
    """The retrieved context of each question: its ``top_k`` best passages (best first), joined and cut to
    ``max_words`` words. ``retriever`` must be fitted."""
    return retrieval.retrieve_context(retriever, question_queries(df), top_k=top_k, max_words=max_words)


def extra_context(extra: pd.DataFrame, retriever: retrieval.PassageRetriever | None, *, top_k: int = 2,
                  max_words: int = 150) -> list[str]:
    """The context of each external question: its own ``context`` when not empty, else (with a fitted
    ``retriever``) its retrieved passages as :func:`add_context` gives them, else ``""``."""
    given = extra["context"].astype(str).tolist() if "context" in extra else [""] * len(extra)
    missing = [i for i, c in enumerate(given) if not c.strip()]
    if retriever is not None and missing:
        for i, text in zip(missing, add_context(extra.iloc[missing], retriever, top_k=top_k, max_words=max_words)):
            given[i] = text
    return given


def retrieve_contexts(corpus_path: Path, train_df: pd.DataFrame, test_df: pd.DataFrame,
                      extra_df: pd.DataFrame | None = None, *, method: str = "tfidf", model: str | None = None,
                      top_k: int = 2, cache_dir: Path | None = None,
                      embed_kwargs: dict | None = None) -> QuestionContexts:
    """Fit a :class:`~kitlib.tasks.retrieval.PassageRetriever` (``method``, ``model``: see there) on the chunked
    corpus at ``corpus_path`` (its index kept in ``cache_dir``, default a writable cache beside the corpus),
    print what it holds and the first training question's context, and return the :class:`QuestionContexts`
    of ``train_df``, ``test_df`` and ``extra_df`` (``extra`` None without external questions; their own
    ``context`` column wins). Raises what :func:`~kitlib.tasks.retrieval.chunk_corpus` and the retriever raise
    (``DataError`` for a corpus that cannot be read, ``ParameterError`` for an unknown method)."""
    chunks = retrieval.chunk_corpus(corpus_path)
    index_cache = cache_dir or writable_cache_dir(corpus_path if corpus_path.is_dir() else corpus_path.parent,
                                                  "retrieval")
    retriever = retrieval.PassageRetriever(method, model=model, cache_dir=index_cache, embed_kwargs=embed_kwargs or {})
    retriever.fit(chunks["text"])
    train_ctx, test_ctx = add_context(train_df, retriever, top_k=top_k), add_context(test_df, retriever, top_k=top_k)
    extra_ctx = extra_context(extra_df, retriever, top_k=top_k) if extra_df is not None else None
    print(f"{len(chunks)} passages from {chunks['doc'].nunique()} documents; index "
          f"{'reused from' if retriever.cached_ else 'saved in'} {retriever.index_dir_}")
    print(f"Q: {train_df.prompt.iat[0]}\nContext: {train_ctx[0][:300]}...")
    return QuestionContexts(train_ctx, test_ctx, extra_ctx)
