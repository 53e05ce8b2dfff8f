"""The notebook's longer steps as functions: external questions with their summary, retrieved contexts for
every question table, question and option embeddings, and the record of where a predict-only run's models
came from. Each prints what a competitor wants to see and returns plain values."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["load_extra_train", "retrieve_contexts", "embed_questions", "models_record"]


def load_extra_train(sources: Any, official: pd.DataFrame, *, limit: int | None = None) -> tuple[pd.DataFrame, dict]:
    """External questions (:func:`~.external.read_extra_questions`), at most ``limit`` of them (smoke runs),
    and the summary for the manifest (``files``, ``dropped_official``, ``dropped_repeats``, ``used``)."""
    from .external import read_extra_questions

    extra, info = read_extra_questions(sources, official)
    extra = extra.head(limit) if limit else extra
    info = {**info, "used": len(extra)}
    print(f"extra_train: {len(extra)} external questions from {len(info['files'])} file(s); dropped "
          f"{info['dropped_official']} repeating an official prompt, {info['dropped_repeats']} repeats")
    return extra, info


def retrieve_contexts(corpus_path: Path, train_df: pd.DataFrame, test_df: pd.DataFrame,
                      extra_df: pd.DataFrame | None = None, *, method: str = "tfidf", model: str | None = None,
                      top_k: int = 2, cache_dir: Path | None = None, embed_kwargs: dict | None = None):
    """Fit a :class:`~kitlib.tasks.retrieval.PassageRetriever` on the chunked corpus at ``corpus_path`` (its
    index kept in a writable cache beside it) and return the contexts ``(train, test, extra)`` (``extra``
    None without external questions; their own ``context`` column wins)."""
    from ...data import writable_cache_dir
    from ...tasks.retrieval import PassageRetriever, chunk_corpus
    from . import add_context, extra_context

    chunks = chunk_corpus(corpus_path)
    index_cache = cache_dir or writable_cache_dir(corpus_path if corpus_path.is_dir() else corpus_path.parent,
                                                  "retrieval")
    retriever = PassageRetriever(method, model=model, cache_dir=index_cache, embed_kwargs=embed_kwargs or {})
    retriever.fit(chunks["text"])
    train_ctx, test_ctx = add_context(train_df, retriever, top_k=top_k), add_context(test_df, retriever, top_k=top_k)
    extra_ctx = extra_context(extra_df, retriever, top_k=top_k) if extra_df is not None else None
    print(f"{len(chunks)} passages from {chunks['doc'].nunique()} documents; index "
          f"{'reused from' if retriever.cached_ else 'saved in'} {retriever.index_dir_}")
    print(f"Q: {train_df.prompt.iat[0]}\nContext: {train_ctx[0][:300]}...")
    return train_ctx, test_ctx, extra_ctx


def embed_questions(df: pd.DataFrame, context: list[str] | None, context_weight: float = 1.0,
                    **embed_kwargs) -> tuple[np.ndarray, np.ndarray]:
    """``(question vectors (n, d), option vectors (n, 5, d))`` by :func:`kitlib.embed.embed_texts`: the
    prompt plus ``context_weight`` x its context (:func:`~kitlib.competitions.llm_science_exam.question_vectors`)."""
    from ...embed import embed_texts
    from . import option_matrix, question_vectors

    prompts = embed_texts(df["prompt"].tolist(), **embed_kwargs)
    options = embed_texts(option_matrix(df).ravel().tolist(), **embed_kwargs).reshape(len(df), 5, -1)
    ctx = embed_texts(context, **embed_kwargs) if context is not None else None
    return question_vectors(prompts, ctx, context_weight), options


def models_record(checkpoint_dir: Path, record: dict, cross_encoder) -> dict:
    """What the manifest of a ``-p checkpoints`` run says of its models: the folder, the run that trained
    them, the approach that run chose, every cross-encoder fold model and their base model."""
    return {"checkpoints": str(checkpoint_dir), "trained_by": record["run_id"], "approach_then": record["approach"],
            "cross_encoder": [m for info in cross_encoder.infos for m in info["models"]],
            "base_model": cross_encoder.infos[0]["base_model"]}
