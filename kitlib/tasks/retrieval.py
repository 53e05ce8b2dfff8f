"""Passage retrieval from a local corpus: cut it into chunks, index them, find the best ones per query.

The flow, a corpus in and one context string per query out::

    folder of .txt | .parquet | .csv ──chunk_corpus──> passages (doc, chunk, text)
        ──PassageRetriever.fit──> index (cached on disk) ──search(queries)──> best passages
        ──retrieve_context──> text

- :func:`chunk_corpus` splits each paragraph into sentences and packs whole sentences into chunks of
  about ``chunk_words`` words, consecutive chunks sharing ``overlap`` sentences;
- :class:`PassageRetriever` indexes the chunks and returns the ``top_k`` best per query, at Wikipedia scale
  without ever holding a dense queries x passages matrix:

  - ``"tfidf"``: scikit-learn ``TfidfVectorizer``; the cosine of sparse query and passage vectors is a
    sparse product, and each query's top k is taken from its non-zero entries only;
  - ``"bm25"``: ``bm25s`` (Okapi BM25, English stop words; a sparse index of precomputed scores);
  - ``"embedding"``: :func:`kitlib.embed.embed_texts` vectors in a FAISS index (``faiss-cpu``): exact inner
    product (``IndexFlatIP``) up to 100,000 passages, above that an inverted file with 8-bit scalar
    quantisation (``IVF<n>,SQ8``, a quarter of the float32 memory) searched over ``nprobe`` lists; any FAISS
    factory string can be given as ``faiss_index``;

  with ``cache_dir`` the built index is stored under a key made of the method, its settings and every
  passage's text, and loaded from there by the next fit of the same corpus (a folder that cannot be
  written only costs the rebuild; entries are :mod:`kitlib.cache` entries: verified on read, never a
  pickle); :func:`kitlib.data.writable_cache_dir` picks a writable place beside a
  read-only data folder (Kaggle's ``/kaggle/input``);
- :func:`retrieve_context` joins each query's best passages and cuts them to a word budget.

scikit-learn, bm25s, FAISS and the embedding model are imported inside the functions that need them.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..cache import read_entry, write_entry, write_json
from ..errors import DataError, ParameterError, require

__all__ = ["RETRIEVAL_METHODS", "chunk_corpus", "pack_sentences", "PassageRetriever", "build_faiss_index",
           "sparse_top_k", "retrieve_context"]

RETRIEVAL_METHODS = ("tfidf", "bm25", "embedding")
FLAT_UP_TO = 100_000  # passages: exact FAISS search up to here, IVF + SQ8 above ("auto")
CORPUS_SUFFIXES = (".txt", ".parquet", ".csv")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_INDEX_VERSION = "2"  # bump when a saved index changes layout (2: kitlib.cache entries, no pickled vectorizer)


def chunk_corpus(source: str | Path, *, chunk_words: int = 80, overlap: int = 1,
                 text_column: str | None = None, title_column: str | None = None) -> pd.DataFrame:
    """Cut a local corpus into passages of about ``chunk_words`` words for retrieval.

    ``source`` is a folder (every ``*.txt``, ``*.parquet`` and ``*.csv`` below it, sorted by path: a Wikipedia
    dump as parquet shards works as it is), one ``.txt`` file, or a ``.parquet``/``.csv`` table with one
    document per row (``text_column``: default ``"text"``; ``title_column``: default ``"title"`` when present,
    prepended to every chunk of its row). Each paragraph is split into sentences, which are packed into
    chunks of at most ``chunk_words`` words (a longer sentence is a chunk of its own); consecutive chunks of a
    paragraph share ``overlap`` sentences.

    Out: a DataFrame ``doc, chunk, text`` (doc = file name, relative to a folder, or row title/index). Raises
    ``DataError`` for a missing source, a table without the text column (naming the file), or a corpus with
    no text; ``ParameterError`` for ``chunk_words < 10`` or a negative ``overlap``.
    """
    if chunk_words < 10:
        raise ParameterError(f"chunk_words must be >= 10; got {chunk_words}")
    if overlap < 0:
        raise ParameterError(f"overlap must be >= 0 sentences; got {overlap}")
    source = Path(source)
    if source.is_dir():
        files = sorted(f for f in source.rglob("*") if f.is_file() and f.suffix in CORPUS_SUFFIXES
                       and not any(part.startswith(".") for part in f.relative_to(source).parts))
        if not files:
            raise DataError(f"{source}: no .txt, .parquet or .csv files in this folder; expected a corpus")
    elif source.is_file() and source.suffix in CORPUS_SUFFIXES:
        files = [source]
    else:
        raise DataError(f"{source}: not found or not a corpus; expected a folder of .txt/.parquet/.csv files, or "
                        "one such file")
    rows = []
    for file in files:
        name = str(file.relative_to(source)) if source.is_dir() else file.name
        for doc, prefix, text in _documents(file, name, text_column, title_column):
            n = 0
            for paragraph in re.split(r"\n\s*\n", text):
                for chunk in pack_sentences(paragraph, chunk_words, overlap):
                    rows.append((doc, n, prefix + chunk))
                    n += 1
    if not rows:
        raise DataError(f"{source}: the corpus holds no text")
    return pd.DataFrame(rows, columns=["doc", "chunk", "text"])


def _documents(file: Path, name: str, text_column: str | None, title_column: str | None):
    """``(doc name, title prefix, text)`` of each document in one corpus file."""
    if file.suffix == ".txt":
        yield name, "", file.read_text(encoding="utf-8", errors="replace")
        return
    table = pd.read_parquet(file) if file.suffix == ".parquet" else pd.read_csv(file, dtype=str, keep_default_na=False)
    col = text_column or "text"
    if col not in table.columns:
        raise DataError(f"{file}: no text column {col!r}; found {list(table.columns)} (pass text_column=...)")
    tcol = title_column or ("title" if "title" in table.columns else None)
    if tcol is not None and tcol not in table.columns:
        raise DataError(f"{file}: no title column {tcol!r}; found {list(table.columns)}")
    titles = table[tcol].fillna("").astype(str) if tcol else pd.Series([""] * len(table))
    for i, (title, text) in enumerate(zip(titles, table[col].fillna("").astype(str))):
        yield title or f"{name} row {i}", f"{title}. " if title else "", text


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

    ``method``: ``"tfidf"`` (``TfidfVectorizer``: word ``ngram_range`` grams, ``stop_words``, sublinear tf;
    cosine), ``"bm25"`` (``bm25s``, English stop words, ``k1``/``b``) or ``"embedding"``
    (:func:`kitlib.embed.embed_texts` with ``model`` and ``embed_kwargs``, unit vectors in a FAISS index:
    ``faiss_index`` ``"auto"`` = ``"flat"`` up to 100,000 passages, ``IVF<sqrt n>,SQ8`` above, or any FAISS
    factory string; ``nprobe`` lists searched). No method builds a dense queries x passages matrix.
    ``cache_dir``: a folder where the index is kept under a content key and reused (see the module).
    ``__init__`` only stores the arguments; ``fit(passages)`` builds or loads ``index_``, stores ``passages_``
    and sets ``cached_`` (True when the index came from the cache).
    """

    def __init__(self, method: str = "tfidf", top_k: int = 3, model: str | None = None,
                 embed_kwargs: dict | None = None, ngram_range: tuple[int, int] = (1, 2),
                 stop_words: str | None = "english", cache_dir: str | os.PathLike | None = None,
                 faiss_index: str = "auto", nprobe: int = 16, k1: float = 1.5, b: float = 0.75):
        self.method = method
        self.top_k = top_k
        self.model = model
        self.embed_kwargs = embed_kwargs
        self.ngram_range = ngram_range
        self.stop_words = stop_words
        self.cache_dir = cache_dir
        self.faiss_index = faiss_index
        self.nprobe = nprobe
        self.k1 = k1
        self.b = b

    # ------------------------------------------------------------------------------------------ fit
    def fit(self, passages: Sequence[str]) -> PassageRetriever:
        """Index ``passages`` (or load their index from ``cache_dir``); raises ``ParameterError`` for an unknown
        method, ``DataError`` when empty, ``MissingDependencyError`` (with the pip command) when ``bm25s`` or
        ``faiss-cpu`` is needed and missing."""
        if self.method not in RETRIEVAL_METHODS:
            raise ParameterError(f"Unknown retrieval method {self.method!r}; expected one of {list(RETRIEVAL_METHODS)}")
        self.passages_ = [str(p) for p in passages]
        if not self.passages_:
            raise DataError("no passages to index; the corpus is empty")
        folder = Path(self.cache_dir) / f"{self.method}-{self._cache_key()}" if self.cache_dir else None
        self.cached_ = folder is not None and (folder / "index.json").is_file() and self._load(folder)
        if not self.cached_:
            self._build()
            if folder is not None:
                self._save(folder)
        self.index_dir_ = folder
        return self

    def _settings(self) -> dict:
        settings = {"version": _INDEX_VERSION, "method": self.method}
        if self.method == "tfidf":
            settings.update(ngram_range=list(self.ngram_range), stop_words=self.stop_words)
        elif self.method == "bm25":
            settings.update(k1=self.k1, b=self.b)
        else:
            from ..pretrained import resolve_model

            kept = {k: v for k, v in (self.embed_kwargs or {}).items()
                    if k not in ("device", "cache_dir", "progress", "amp_dtype", "batch_size")}
            settings.update(model=str(resolve_model(self.model)), embed=repr(sorted(kept.items())),
                            faiss_index=self._faiss_factory(len(self.passages_)))
        return settings

    def _cache_key(self) -> str:
        digest = hashlib.sha256(json.dumps(self._settings(), sort_keys=True).encode())
        for text in self.passages_:
            digest.update(text.encode("utf-8", "surrogatepass"))
            digest.update(b"\0")
        return digest.hexdigest()[:20]

    def _faiss_factory(self, n: int) -> str:
        if self.faiss_index not in ("auto", "flat"):
            return str(self.faiss_index)
        if self.faiss_index == "flat" or n <= FLAT_UP_TO:
            return "Flat"
        return f"IVF{int(min(65536, max(1, round(np.sqrt(n)))))},SQ8"

    def _new_vectorizer(self):
        """The TF-IDF vectorizer of these settings, not fitted."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        return TfidfVectorizer(ngram_range=tuple(self.ngram_range), stop_words=self.stop_words, sublinear_tf=True,
                               strip_accents="unicode", dtype=np.float32)

    def _build(self) -> None:
        if self.method == "tfidf":
            self.vectorizer_ = self._new_vectorizer()
            index = self.vectorizer_.fit_transform(self.passages_)
            self.vectorizer_.stop_words_ = None  # sklearn: only kept for introspection, can be large
            self.index_ = index.T.tocsr()  # term-major: a query's product touches only its terms' rows
        elif self.method == "bm25":
            bm25s = require("bm25s", "pip install bm25s")
            self.index_ = bm25s.BM25(k1=self.k1, b=self.b)
            self.index_.index(bm25s.tokenize(self.passages_, stopwords="en", show_progress=False), show_progress=False)
        else:
            self.index_ = build_faiss_index(self._embed(self.passages_), self._faiss_factory(len(self.passages_)))

    def _save(self, folder: Path) -> None:
        """Write the index to ``folder`` as a :mod:`kitlib.cache` entry (verified on read, never a pickle: a
        TF-IDF vectorizer is kept as its vocabulary in JSON and its idf in ``.npy``); a cache that cannot be
        written is skipped."""
        def write(tmp: Path) -> None:
            if self.method == "tfidf":
                from scipy import sparse

                sparse.save_npz(tmp / "index.npz", self.index_, compressed=False)
                write_json(tmp / "vocabulary.json", {k: int(v) for k, v in self.vectorizer_.vocabulary_.items()})
                np.save(tmp / "idf.npy", np.asarray(self.vectorizer_.idf_), allow_pickle=False)
            elif self.method == "bm25":
                self.index_.save(str(tmp), show_progress=False)
            else:
                require("faiss", "pip install faiss-cpu").write_index(self.index_, str(tmp / "index.faiss"))
            write_json(tmp / "index.json", {**self._settings(), "n_passages": len(self.passages_)})

        write_entry(folder, write)

    def _load(self, folder: Path) -> bool:
        """Load the index from its cache entry (:func:`kitlib.cache.read_entry` verifies every file first); False
        (rebuild) when there is none or it does not read back."""
        if read_entry(folder) is None:
            return False
        try:
            saved = json.loads((folder / "index.json").read_text())
            if saved.get("n_passages") != len(self.passages_):
                return False
            if self.method == "tfidf":
                from scipy import sparse

                self.index_ = sparse.load_npz(folder / "index.npz").tocsr()
                self.vectorizer_ = self._new_vectorizer()
                self.vectorizer_.vocabulary_ = json.loads((folder / "vocabulary.json").read_text())
                self.vectorizer_.idf_ = np.load(folder / "idf.npy", allow_pickle=False)
            elif self.method == "bm25":
                bm25s = require("bm25s", "pip install bm25s")
                self.index_ = bm25s.BM25.load(str(folder), mmap=False, show_progress=False)
            else:
                self.index_ = require("faiss", "pip install faiss-cpu").read_index(str(folder / "index.faiss"))
        except (OSError, ValueError, EOFError, RuntimeError, AttributeError, TypeError):
            return False  # an entry that does not read back: rebuild
        return True

    def _embed(self, texts: list[str]) -> np.ndarray:
        from ..embed import embed_texts

        kwargs = {"progress": False, **(self.embed_kwargs or {})}
        return embed_texts(texts, self.model, normalize=True, **kwargs)

    # --------------------------------------------------------------------------------------- search
    def search(self, queries: Sequence[str], top_k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Indices and similarities ``(n_queries, k)`` of the best passages for each query, best first (ties:
        the lower passage index first; a query sharing nothing with fewer than k passages is filled with the
        first passages at similarity 0).

        Raises ``ParameterError`` when the retriever is not fitted."""
        if not hasattr(self, "index_"):
            raise ParameterError("PassageRetriever is not fitted; call fit(passages) first")
        k = min(int(top_k or self.top_k), len(self.passages_))
        queries = [str(q) for q in queries]
        if not queries:
            return np.zeros((0, k), dtype=np.int64), np.zeros((0, k), dtype=np.float32)
        if self.method == "tfidf":
            q = self.vectorizer_.transform(queries).astype(np.float32)
            parts = [sparse_top_k(q[s:s + 256] @ self.index_, k) for s in range(0, len(queries), 256)]
            return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        if self.method == "bm25":
            return self._bm25_search(queries, k)
        if hasattr(self.index_, "nprobe"):
            self.index_.nprobe = int(self.nprobe)
        sims, idx = self.index_.search(np.ascontiguousarray(self._embed(queries), dtype=np.float32), k)
        return _fill(idx.astype(np.int64), sims.astype(np.float32), k)


    def _bm25_search(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """BM25 top k through one sparse product: bm25s keeps each term's precomputed scores per passage (a
        term-major sparse matrix), so a block of queries (term counts) times that matrix is every query's
        scores over the passages it shares a term with; the same sums as ``bm25s.BM25.retrieve``, in scipy's
        compiled product instead of a dense array per query."""
        from scipy import sparse

        bm25s = require("bm25s", "pip install bm25s")
        if not hasattr(self, "term_scores_"):
            sc = self.index_.scores
            self.term_scores_ = sparse.csr_matrix((sc["data"], sc["indices"], sc["indptr"]),
                                                  shape=(len(sc["indptr"]) - 1, int(sc["num_docs"])))
        vocab = self.index_.vocab_dict
        rows, cols = [], []
        for i, tokens in enumerate(bm25s.tokenize(queries, stopwords="en", return_ids=False, show_progress=False)):
            ids = [vocab[t] for t in tokens if t in vocab]
            rows.extend([i] * len(ids))
            cols.extend(ids)
        counts = sparse.csr_matrix((np.ones(len(cols), dtype=np.float32), (rows, cols)),
                                   shape=(len(queries), self.term_scores_.shape[0]))
        counts.sum_duplicates()
        parts = [sparse_top_k(counts[s:s + 32] @ self.term_scores_, k) for s in range(0, len(queries), 32)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def build_faiss_index(vectors: np.ndarray, factory: str = "Flat", *, seed: int = 0):
    """A FAISS inner-product index of ``vectors`` ``(n, d)`` float32 built from a factory string (``"Flat"``,
    ``"IVF1024,SQ8"``, ``"IVF1024,PQ32"``...); an index that needs training is trained on a sample of at most
    ``64 x lists`` vectors drawn with ``seed``. Raises ``MissingDependencyError`` without ``faiss-cpu``."""
    faiss = require("faiss", "pip install faiss-cpu")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    index = faiss.index_factory(vectors.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        lists = int(re.match(r"IVF(\d+)", factory).group(1)) if factory.startswith("IVF") else 256
        n = min(len(vectors), 64 * lists)
        sample = vectors if n == len(vectors) else vectors[np.sort(np.random.default_rng(seed).choice(len(vectors), n,
                                                                                                  replace=False))]
        index.train(sample)
    index.add(vectors)
    return index


def sparse_top_k(scores, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest entries of each row of a sparse matrix (scipy CSR/CSC) as ``(indices, values)``,
    best first, ties by lower column; rows with fewer than ``k`` stored entries are filled with the lowest
    columns not among them (value 0). Only the stored entries are looked at: no dense row is ever made."""
    scores = scores.tocsr()
    n = scores.shape[0]
    idx = np.zeros((n, k), dtype=np.int64)
    vals = np.zeros((n, k), dtype=np.float32)
    for i in range(n):
        lo, hi = scores.indptr[i], scores.indptr[i + 1]
        cols, data = scores.indices[lo:hi], scores.data[lo:hi]
        if len(data) > k:
            part = np.argpartition(-data, k - 1)[:k]
            cut = data[part].min()  # keep every entry tied with the k-th, then order them all
            keep = np.flatnonzero(data >= cut)
            cols, data = cols[keep], data[keep]
        order = np.lexsort((cols, -data))[:k]
        m = len(order)
        idx[i, :m], vals[i, :m] = cols[order], data[order]
        if m < k:
            taken = set(idx[i, :m].tolist())
            idx[i, m:] = [j for j in range(k + m) if j not in taken][:k - m]
    return idx, vals


def _fill(idx: np.ndarray, sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Replace the ``-1`` slots FAISS leaves (fewer than k found) by the first passages not found, score 0."""
    for i in np.flatnonzero((idx < 0).any(axis=1)):
        found = [j for j in idx[i].tolist() if j >= 0]
        rest = [j for j in range(k + len(found)) if j not in set(found)][:k - len(found)]
        idx[i] = found + rest
        sims[i, len(found):] = 0.0
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
