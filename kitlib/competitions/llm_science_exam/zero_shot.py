"""Approach a of the LLM Science Exam, zero-shot: options ranked by the similarity of their embedding to the
question's (the prompt's plus the retrieved context's), nothing trained; and the question and option
embeddings the contrastive network (:mod:`.contrastive`) trains on."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ...errors import ParameterError
from .questions import option_matrix

__all__ = ["QuestionEmbeddings", "question_vectors", "option_scores", "embed_questions"]


class QuestionEmbeddings(NamedTuple):
    """One vector per question ``(n, d)`` and one per option ``(n, 5, d)``."""

    questions: np.ndarray
    options: np.ndarray


def question_vectors(prompt_emb: np.ndarray, context_emb: np.ndarray | None = None,
                     context_weight: float = 1.0) -> np.ndarray:
    """One vector per question: the prompt embedding plus ``context_weight`` x the context embedding.

    With unit option vectors, ``option_scores(question_vectors(p, c, w), o)`` is
    ``cos(prompt, option) + w * cos(context, option)`` for unit-length ``p`` and ``c``.
    """
    q = np.asarray(prompt_emb, dtype=np.float32)
    if context_emb is not None:
        q = q + float(context_weight) * np.asarray(context_emb, dtype=np.float32)
    return q


def option_scores(question_emb: np.ndarray, option_emb: np.ndarray) -> np.ndarray:
    """Dot products ``(n, 5)`` of each question vector ``(n, d)`` with its options ``(n, 5, d)``."""
    question_emb, option_emb = np.asarray(question_emb), np.asarray(option_emb)
    if option_emb.ndim != 3 or option_emb.shape[0] != question_emb.shape[0]:
        raise ParameterError(f"option embeddings must have shape (n, 5, d) with n={question_emb.shape[0]}; "
                             f"got {option_emb.shape}")
    return np.einsum("nd,nkd->nk", question_emb, option_emb)


def embed_questions(df: pd.DataFrame, context: list[str] | None, context_weight: float = 1.0,
                    embed_kwargs: Mapping[str, Any] | None = None) -> QuestionEmbeddings:
    """The :class:`QuestionEmbeddings` of the questions ``df`` by :func:`kitlib.embed.embed_texts` (given
    ``embed_kwargs``: ``model``, ``device``, ``cache_dir``...): the prompt plus ``context_weight`` x its
    ``context`` (:func:`question_vectors`; no context when None), and each option. Raises what ``embed_texts``
    raises (``ParameterError`` for a model that is not on disk)."""
    from ...embed import embed_texts

    embed_kwargs = dict(embed_kwargs or {})

    prompts = embed_texts(df["prompt"].tolist(), **embed_kwargs)
    options = embed_texts(option_matrix(df).ravel().tolist(), **embed_kwargs).reshape(len(df), 5, -1)
    ctx = embed_texts(context, **embed_kwargs) if context is not None else None
    return QuestionEmbeddings(question_vectors(prompts, ctx, context_weight), options)
