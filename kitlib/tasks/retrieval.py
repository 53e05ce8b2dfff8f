"""Passage retrieval from a local corpus: cut it into chunks, index them, find the best ones per query.

The flow, a corpus in and one context string per query out::

    folder of .txt | .parquet | .csv ──chunk_corpus──> passages (doc, chunk, text)
        ──PassageRetriever.fit──> index ──search(queries)──> best passages ──retrieve_context──> text

- :func:`chunk_corpus` splits each paragraph into sentences and packs whole sentences into chunks of
  about ``chunk_words`` words, consecutive chunks sharing ``overlap`` sentences;
- :class:`PassageRetriever` indexes the chunks with TF-IDF (scikit-learn) or sentence embeddings
  (:func:`kitlib.embed.embed_texts`) and returns the ``top_k`` most similar per query;
- :func:`retrieve_context` joins each query's best passages and cuts them to a word budget.

scikit-learn and the embedding model are imported inside the functions that need them.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, ParameterError

__all__ = ["RETRIEVAL_METHODS", "chunk_corpus", "pack_sentences", "PassageRetriever", "retrieve_context"]

RETRIEVAL_METHODS = ("tfidf", "embedding")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def chunk_corpus(source: str | Path, *, chunk_words: int = 80, overlap: int = 1,
                 text_column: str | None = None, title_column: str | None = None) -> pd.DataFrame:
    """Cut a local corpus into passages of about ``chunk_words`` words for retrieval.

    ``source`` is a folder (every ``*.txt`` below it, sorted), one ``.txt`` file, or a ``.parquet``/``.csv``
    table with one document per row (``text_column``: default ``"text"``; ``title_column``: default
    ``"title"`` when present, prepended to every chunk of its row). Each paragraph is split into
    sentences, which are packed into chunks of at most ``chunk_words`` words (a longer sentence is a chunk
    of its own); consecutive chunks of a paragraph share ``overlap`` sentences.

    Out: a DataFrame ``doc, chunk, text`` (doc = file name or row title/index). Raises ``DataError`` for a
    missing source, a table without the text column, or a corpus with no text; ``ParameterError`` for
    ``chunk_words < 10`` or a negative ``overlap``.
    """
    if chunk_words < 10:
        raise ParameterError(f"chunk_words must be >= 10; got {chunk_words}")
    if overlap < 0:
        raise ParameterError(f"overlap must be >= 0 sentences; got {overlap}")
    source = Path(source)
    docs: list[tuple[str, str, str]] = []  # (doc name, title prefix, text)
    if source.is_dir():
        files = sorted(source.rglob("*.txt"))
        if not files:
            raise DataError(f"{source}: no .txt files in this folder; expected a corpus of text files")
        docs = [(str(f.relative_to(source)), "", f.read_text(encoding="utf-8", errors="replace")) for f in files]
    elif source.is_file() and source.suffix == ".txt":
        docs = [(source.name, "", source.read_text(encoding="utf-8", errors="replace"))]
    elif source.is_file() and source.suffix in (".parquet", ".csv"):
        table = pd.read_parquet(source) if source.suffix == ".parquet" else pd.read_csv(source, dtype=str,
                                                                                      keep_default_na=False)
        col = text_column or "text"
        if col not in table.columns:
            raise DataError(f"{source}: no text column {col!r}; found {list(table.columns)} (pass text_column=...)")
        tcol = title_column or ("title" if "title" in table.columns else None)
        if tcol is not None and tcol not in table.columns:
            raise DataError(f"{source}: no title column {tcol!r}; found {list(table.columns)}")
        titles = table[tcol].fillna("").astype(str) if tcol else pd.Series([""] * len(table))
        for i, (title, text) in enumerate(zip(titles, table[col].fillna("").astype(str))):
            docs.append((title or f"row {i}", f"{title}. " if title else "", text))
    else:
        raise DataError(f"{source}: not found or not a corpus; expected a folder of .txt files, a .txt, "
                        ".parquet or .csv file")
    rows = []
    for name, prefix, text in docs:
        n = 0
        for paragraph in re.split(r"\n\s*\n", text):
            for chunk in pack_sentences(paragraph, chunk_words, overlap):
                rows.append((name, n, prefix + chunk))
                n += 1
    if not rows:
        raise DataError(f"{source}: the corpus holds no text")
    return pd.DataFrame(rows, columns=["doc", "chunk", "text"])


def pack_sentences(paragraph: str, chunk_words: int, overlap: int) -> list[str]:
    """Split ``paragraph`` into sentences and pack them into chunks of at most ``chunk_words`` words (a
    longer sentence is a chunk of its own); consecutive chunks share ``overlap`` sentences."""
    sentences = [s.strip() for s in _SENTENCE_END.split(" ".join(paragraph.split())) if s.strip()]
    chunks, start = [], 0
    while start < len(sentences):
        end, words = start, 0
        while end < len(sentences) and (end == start or words + len(sentences[end].split()) <= chunk_words):
            words += len(sentences[end].split())
            end += 1
        chunks.append(" ".join(sentences[start:end]))
        if end >= len(sentences):
            break
        start = max(start + 1, end - overlap)
    return chunks


class PassageRetriever:
    """Find the passages most similar to each query (scikit-learn style: ``fit`` then ``search``).

    ``method="tfidf"``: scikit-learn ``TfidfVectorizer`` (word 1-2 grams, English stop words, sublinear tf)
    and cosine similarity. ``method="embedding"``: :func:`kitlib.embed.embed_texts` with ``model`` and
    ``embed_kwargs`` (e.g. ``cache_dir``), dot product of unit vectors. ``__init__`` only stores the
    arguments; ``fit(passages)`` builds ``index_`` and stores ``passages_``.
    """

    def __init__(self, method: str = "tfidf", top_k: int = 3, model: str | None = None,
                 embed_kwargs: dict | None = None, ngram_range: tuple[int, int] = (1, 2),
                 stop_words: str | None = "english"):
        self.method = method
        self.top_k = top_k
        self.model = model
        self.embed_kwargs = embed_kwargs
        self.ngram_range = ngram_range
        self.stop_words = stop_words

    def fit(self, passages: Sequence[str]) -> PassageRetriever:
        """Index ``passages``; raises ``ParameterError`` for an unknown method, ``DataError`` when empty."""
        if self.method not in RETRIEVAL_METHODS:
            raise ParameterError(f"Unknown retrieval method {self.method!r}; expected one of {list(RETRIEVAL_METHODS)}")
        self.passages_ = [str(p) for p in passages]
        if not self.passages_:
            raise DataError("no passages to index; the corpus is empty")
        if self.method == "tfidf":
            from sklearn.feature_extraction.text import TfidfVectorizer

            self.vectorizer_ = TfidfVectorizer(ngram_range=tuple(self.ngram_range), stop_words=self.stop_words,
                                               sublinear_tf=True, strip_accents="unicode")
            self.index_ = self.vectorizer_.fit_transform(self.passages_)
        else:
            self.index_ = self._embed(self.passages_)
        return self

    def _embed(self, texts: list[str]) -> np.ndarray:
        from ..embed import embed_texts

        kwargs = {"progress": False, **(self.embed_kwargs or {})}
        return embed_texts(texts, self.model, normalize=True, **kwargs)

    def search(self, queries: Sequence[str], top_k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Indices and similarities ``(n_queries, k)`` of the best passages for each query, best first.

        Raises ``ParameterError`` when the retriever is not fitted."""
        if not hasattr(self, "index_"):
            raise ParameterError("PassageRetriever is not fitted; call fit(passages) first")
        k = min(int(top_k or self.top_k), len(self.passages_))
        queries = [str(q) for q in queries]
        q = self.vectorizer_.transform(queries) if self.method == "tfidf" else self._embed(queries)
        idx = np.zeros((len(queries), k), dtype=np.int64)
        sims = np.zeros((len(queries), k), dtype=np.float32)
        for start in range(0, len(queries), 512):  # blocks keep memory flat for big corpora
            block = q[start:start + 512] @ self.index_.T
            block = block.toarray() if hasattr(block, "toarray") else np.asarray(block)
            part = np.argpartition(-block, k - 1, axis=1)[:, :k]
            order = np.argsort(-np.take_along_axis(block, part, axis=1), axis=1, kind="stable")
            top = np.take_along_axis(part, order, axis=1)
            idx[start:start + len(block)] = top
            sims[start:start + len(block)] = np.take_along_axis(block, top, axis=1)
        return idx, sims


def retrieve_context(retriever: PassageRetriever, queries: Sequence[str], *, top_k: int = 2,
                     max_words: int = 150) -> list[str]:
    """The retrieved context of each query: its ``top_k`` best passages (best first), joined and cut to
    ``max_words`` words. ``retriever`` must be fitted (else ``ParameterError``)."""
    idx, _ = retriever.search(queries, top_k=top_k)
    out = []
    for row in idx:
        words = " ".join(retriever.passages_[j] for j in row).split()
        out.append(" ".join(words[:max_words]))
    return out
