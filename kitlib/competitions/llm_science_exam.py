"""Kaggle "LLM Science Exam": five-option science questions scored by MAP@3.

The pieces the notebook ``notebooks/llm-science-exam.ipynb`` stands on, each small and tested:

- data: :func:`write_demo` (the embedded demo set), :func:`read_questions` (validated ``train.csv`` /
  ``test.csv``), :func:`check_submission` (``kit submit``'s rule for the ``prediction`` column);
- scores -> answers: :func:`top_letters` turns a ``(n, 5)`` score matrix into ``"D A C"`` strings and
  :func:`map3_metric` scores logits against answer indices (for ``kitlib.train.fit``);
- retrieval: :func:`chunk_corpus` cuts a folder of ``.txt`` files (or a parquet/CSV of passages) into
  chunks, :class:`PassageRetriever` indexes them (TF-IDF or embeddings) and :func:`add_context` puts the
  best chunks in front of each question;
- approach a, zero-shot: :func:`question_vectors` + :func:`option_scores` rank options by embedding
  similarity to the prompt (plus the retrieved context);
- approach b, contrastive: ``OptionScorer`` (a torch module) maps prompt and option embeddings so that
  cross-entropy over the five similarities picks the right option;
- approach c, cross-encoder: :func:`load_multiple_choice_model`, :class:`MultipleChoiceDataset` and
  :class:`MultipleChoiceCollator` feed ``AutoModelForMultipleChoice`` through ``kitlib.train.fit``.

torch and transformers are imported only by the functions that need them, so ``check_submission`` (run
by ``kit submit``) stays light.
"""
from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError, ParameterError, SubmissionError
from .spec import ROOT, Competition, SubmissionSpec

__all__ = [
    "LETTERS", "COMPETITION", "write_demo", "read_questions", "option_matrix", "answer_indices", "top_letters",
    "map3_metric", "check_submission", "chunk_corpus", "PassageRetriever", "question_queries", "add_context",
    "question_vectors", "option_scores", "OptionScorer", "load_multiple_choice_model", "MultipleChoiceDataset",
    "MultipleChoiceCollator", "predict_choices",
]

NAME = "llm-science-exam"
LETTERS = ("A", "B", "C", "D", "E")
QUESTION_COLUMNS = ("id", "prompt", *LETTERS)
DEMO_FILES = ("train.csv", "test.csv", "sample_submission.csv", "README.md")
RETRIEVAL_METHODS = ("tfidf", "embedding")


# -------------------------------------------------------------------------------------------- data
def _committed_demo_dir() -> Path:
    return ROOT / "data" / "demo" / NAME


def write_demo(out_dir: Path, seed: int = 0) -> Path:
    """Write the embedded demo set (275 questions written for this project, in Kaggle's format) to ``out_dir``.

    The questions and the passage corpus are committed under ``data/demo/llm-science-exam/`` (hand-written
    text cannot be generated); this copies them. When ``out_dir`` is that folder nothing is written (the
    committed set is never changed, whatever the seed). Elsewhere, ``seed=0`` copies the files byte for
    byte and any other seed gives an equivalent but different data set: each question's five options are
    shuffled with that seed and ``answer`` follows its option. Layout: ``train.csv``
    (id,prompt,A..E,answer), ``test.csv`` (no answer), ``sample_submission.csv`` (id,prediction),
    ``corpus/*.txt``, ``README.md``.

    Returns ``out_dir``. Raises ``DataError`` when the committed files are missing (restore them with git).
    """
    src = _committed_demo_dir()
    out_dir = Path(out_dir)
    missing = [f for f in (*DEMO_FILES, "corpus") if not (src / f).exists()]
    if missing:
        raise DataError(f"the committed demo files {missing} are missing from {src}; restore them with "
                        f"`git checkout -- data/demo/{NAME}`")
    if out_dir.exists() and out_dir.resolve() == src.resolve():
        return out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in DEMO_FILES:
        shutil.copyfile(src / name, out_dir / name)
    shutil.copytree(src / "corpus", out_dir / "corpus", dirs_exist_ok=True)
    if seed != 0:
        rng = np.random.default_rng(seed)
        for name in ("train.csv", "test.csv"):
            df = pd.read_csv(out_dir / name, dtype=str, keep_default_na=False)
            options = df[list(LETTERS)].to_numpy()
            perms = np.stack([rng.permutation(5) for _ in range(len(df))])
            df[list(LETTERS)] = np.take_along_axis(options, perms, axis=1)
            if "answer" in df:
                old = df["answer"].map(LETTERS.index).to_numpy()
                df["answer"] = [LETTERS[int(np.flatnonzero(p == o)[0])] for p, o in zip(perms, old)]
            df.to_csv(out_dir / name, index=False)
    return out_dir


def read_questions(path: str | Path, *, require_answer: bool = False) -> pd.DataFrame:
    """Read a ``train.csv``/``test.csv`` of the competition, checked.

    In: the CSV path; ``require_answer`` (True for training data). Values are read as text (an option
    ``"None"`` or ``"0.5"`` stays a string; empty cells become ``""``).
    Out: a DataFrame with ``id, prompt, A..E`` (and ``answer`` when present).
    Raises ``DataError`` naming the file, line and column: missing columns, an empty prompt, or an answer
    that is not one of A-E.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found; expected a CSV with columns {list(QUESTION_COLUMNS)}")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    needed = list(QUESTION_COLUMNS) + (["answer"] if require_answer else [])
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}; found {list(df.columns)}, expected {needed}")
    empty = np.flatnonzero(df["prompt"].str.strip().eq("").to_numpy())
    if len(empty):
        raise DataError(f"{path}: line {empty[0] + 2}, column 'prompt': empty prompt (id={df['id'].iat[empty[0]]})")
    if "answer" in df:
        bad = np.flatnonzero(~df["answer"].str.strip().isin(LETTERS).to_numpy())
        if len(bad):
            i = bad[0]
            raise DataError(f"{path}: line {i + 2}, column 'answer': {df['answer'].iat[i]!r} is not one of "
                            f"{list(LETTERS)} ({len(bad)} bad row(s))")
        df["answer"] = df["answer"].str.strip()
    return df


def option_matrix(df: pd.DataFrame) -> np.ndarray:
    """The options as an object array ``(n, 5)`` of strings, columns A..E."""
    return df[list(LETTERS)].astype(str).to_numpy()


def answer_indices(answers: Sequence[str]) -> np.ndarray:
    """``["A", "C"]`` -> ``array([0, 2])``; raises ``DataError`` for a letter outside A-E."""
    out = []
    for i, a in enumerate(answers):
        if a not in LETTERS:
            raise DataError(f"answer {i}: {a!r} is not one of {list(LETTERS)}")
        out.append(LETTERS.index(a))
    return np.asarray(out, dtype=np.int64)


def top_letters(scores: np.ndarray, k: int = 3) -> list[str]:
    """Rank each row's five scores (higher is better) and return the best ``k`` letters, e.g. ``"D A C"``.

    Ties keep the option order (A before B). Raises ``ParameterError`` unless ``scores`` is ``(n, 5)``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] != len(LETTERS):
        raise ParameterError(f"scores must have shape (n, 5); got {scores.shape}")
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return [" ".join(LETTERS[j] for j in row) for row in order]


def map3_metric(targets: np.ndarray, logits: np.ndarray) -> float:
    """MAP@3 of ``(n, 5)`` logits against answer indices: the ``metric`` for ``kitlib.train.fit``."""
    from ..metrics import map_at_k

    truths = [LETTERS[int(t)] for t in np.asarray(targets).ravel()]
    return map_at_k(truths, top_letters(logits), k=3)


def check_submission(path: Path, data_dir: Path) -> None:
    """``kit submit``'s rule for this competition: each ``prediction`` is three distinct letters from A-E
    separated by spaces (best first, e.g. ``D A C``).

    Ids and row count are checked against ``sample_submission.csv`` by the generic validator; ``data_dir``
    is accepted for the common signature. Raises ``SubmissionError`` naming the file, the column and the
    first offending rows (row numbered from 1 after the header, id, value and what is wrong).
    """
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:  # EmptyDataError, ParserError
        raise SubmissionError(f"{path}: cannot be read as CSV ({exc})") from None
    if "prediction" not in df.columns:
        raise SubmissionError(f"{path}: no 'prediction' column; found {list(df.columns)}, "
                              "expected ['id', 'prediction']")
    bad = []
    ids = df["id"] if "id" in df.columns else pd.Series(range(len(df)))
    for i, value in enumerate(df["prediction"]):
        problem = _prediction_problem(value)
        if problem:
            bad.append(f"row {i + 1} (id={ids.iat[i]}): {value!r} ({problem})")
    if bad:
        more = f"; and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise SubmissionError(f"{path}: column 'prediction' must hold three distinct letters from A-E separated by "
                              f"spaces, e.g. 'D A C'; {len(bad)} bad row(s): " + "; ".join(bad[:5]) + more)


def _prediction_problem(value: str) -> str | None:
    letters = str(value).split()
    if len(letters) != 3:
        return f"{len(letters)} letter(s), expected 3"
    outside = [x for x in letters if x not in LETTERS]
    if outside:
        return f"{outside[0]!r} is not one of A-E"
    if len(set(letters)) != 3:
        repeated = next(x for x in letters if letters.count(x) > 1)
        return f"letter {repeated} repeated"
    return None


# --------------------------------------------------------------------------------------- retrieval
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
            for chunk in _pack_sentences(paragraph, chunk_words, overlap):
                rows.append((name, n, prefix + chunk))
                n += 1
    if not rows:
        raise DataError(f"{source}: the corpus holds no text")
    return pd.DataFrame(rows, columns=["doc", "chunk", "text"])


def _pack_sentences(paragraph: str, chunk_words: int, overlap: int) -> list[str]:
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
        """Indices and similarities ``(n_queries, k)`` of the best passages for each query, best first."""
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


def question_queries(df: pd.DataFrame) -> list[str]:
    """The retrieval query of each question: its prompt followed by its five options."""
    return [" ".join([p, *opts]) for p, opts in zip(df["prompt"].astype(str), option_matrix(df))]


def add_context(df: pd.DataFrame, retriever: PassageRetriever, *, top_k: int = 2,
                max_words: int = 150) -> list[str]:
    """The retrieved context of each question: its ``top_k`` best passages (best first), joined and cut to
    ``max_words`` words. ``retriever`` must be fitted."""
    idx, _ = retriever.search(question_queries(df), top_k=top_k)
    out = []
    for row in idx:
        words = " ".join(retriever.passages_[j] for j in row).split()
        out.append(" ".join(words[:max_words]))
    return out


# ------------------------------------------------------------------------------ approach a: zero-shot
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


# --------------------------------------------------------------------------- approach b: contrastive
def __getattr__(name: str) -> Any:
    """``OptionScorer`` is built on first access so that importing this module does not import torch."""
    if name == "OptionScorer":
        cls = _build_option_scorer()
        globals()["OptionScorer"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _build_option_scorer():
    import torch
    from torch import nn

    class OptionScorer(nn.Module):
        """Score five options against a question: ``forward(question (b, d), options (b, 5, d)) -> (b, 5)``.

        Both sides get a residual MLP (``x + W2 gelu(W1 x)``) whose last layer starts at zero, so an untrained
        scorer ranks exactly like the zero-shot cosine; the logits are ``scale x cos(q', o')`` with a learned
        scale (start 20). Train it with ``nn.CrossEntropyLoss`` on the answer index: the contrastive loss over
        the five options that the starter's ``sum(pred - target)`` regression lacked.
        """

        def __init__(self, dim: int, hidden: int = 256, dropout: float = 0.1, scale: float = 20.0):
            super().__init__()
            self.question = self._residual(dim, hidden, dropout)
            self.option = self._residual(dim, hidden, dropout)
            self.log_scale = nn.Parameter(torch.tensor(float(np.log(scale))))

        @staticmethod
        def _residual(dim: int, hidden: int, dropout: float) -> nn.Sequential:
            last = nn.Linear(hidden, dim)
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
            return nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), last)

        def forward(self, question: torch.Tensor, options: torch.Tensor) -> torch.Tensor:
            q = nn.functional.normalize(question + self.question(question), dim=-1)
            o = nn.functional.normalize(options + self.option(options), dim=-1)
            return self.log_scale.exp() * torch.einsum("bd,bkd->bk", q, o)

    OptionScorer.__module__ = __name__
    OptionScorer.__qualname__ = "OptionScorer"
    return OptionScorer


# ------------------------------------------------------------------------ approach c: cross-encoder
def load_multiple_choice_model(model: str | os.PathLike | None = None, *, seed: int = 0):
    """:class:`~kitlib.pretrained.Pretrained` ``(AutoModelForMultipleChoice, tokenizer, path)`` from a local
    folder or offline-cached hub id.

    ``None`` = the offline all-MiniLM-L6-v2; its new classification head is initialised from ``seed``.
    Nothing is downloaded: a model not on disk raises ``ParameterError`` (see
    :func:`kitlib.pretrained.resolve_model`).
    """
    from ..pretrained import load_pretrained

    return load_pretrained(model, "multiple-choice", seed=seed)


class MultipleChoiceDataset:
    """Tokenised questions for ``AutoModelForMultipleChoice``: item i is a dict of five encodings.

    Each of the five pairs is ``(prompt [+ context], option)``; only the first segment is truncated to
    ``max_length`` so the option is always seen whole. ``context`` (one string per question, e.g. from
    :func:`add_context`) follows the prompt. Items carry ``labels`` (the answer index) when ``df`` has an
    ``answer`` column and ``labels`` is true. Batch with :class:`MultipleChoiceCollator`.
    """

    def __init__(self, df: pd.DataFrame, tokenizer, *, max_length: int = 256,
                 context: Sequence[str] | None = None, labels: bool = True):
        if context is not None and len(context) != len(df):
            raise ParameterError(f"context has {len(context)} entries for {len(df)} questions")
        prompts = df["prompt"].astype(str).tolist()
        if context is not None:
            prompts = [f"{p}\n{c}" if c else p for p, c in zip(prompts, context)]
        options = option_matrix(df)
        first = [p for p in prompts for _ in LETTERS]
        second = [str(o) for row in options for o in row]
        enc = tokenizer(first, second, truncation="only_first", max_length=max_length, padding=False)
        self.keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
        self.encodings = {k: [enc[k][i:i + 5] for i in range(0, len(first), 5)] for k in self.keys}
        self.labels = answer_indices(df["answer"]) if labels and "answer" in df else None

    def __len__(self) -> int:
        return len(self.encodings["input_ids"])

    def __getitem__(self, i: int) -> dict:
        item = {k: self.encodings[k][i] for k in self.keys}
        if self.labels is not None:
            item["labels"] = int(self.labels[i])
        return item


class MultipleChoiceCollator:
    """Pad a list of :class:`MultipleChoiceDataset` items into tensors ``(batch, 5, longest)`` (+ ``labels``)."""

    def __init__(self, pad_token_id: int = 0):
        self.pad_token_id = pad_token_id

    def __call__(self, items: list[dict]) -> dict:
        import torch

        width = max(len(seq) for item in items for seq in item["input_ids"])
        batch = {}
        for key in (k for k in ("input_ids", "attention_mask", "token_type_ids") if k in items[0]):
            fill = self.pad_token_id if key == "input_ids" else 0
            out = torch.full((len(items), len(items[0][key]), width), fill, dtype=torch.long)
            for b, item in enumerate(items):
                for c, seq in enumerate(item[key]):
                    out[b, c, :len(seq)] = torch.as_tensor(seq, dtype=torch.long)
            batch[key] = out
        if "labels" in items[0]:
            batch["labels"] = torch.as_tensor([item["labels"] for item in items], dtype=torch.long)
        return batch


def predict_choices(model, dataset: MultipleChoiceDataset, *, pad_token_id: int = 0, batch_size: int = 16,
                    device: str = "auto") -> np.ndarray:
    """Logits ``(n, 5)`` of a multiple-choice model over ``dataset`` (with or without labels), through
    ``kitlib.train.predict``; the model is wrapped so that only its logits come back."""
    from torch import nn
    from torch.utils.data import DataLoader

    from ..train import predict

    class _Logits(nn.Module):
        def __init__(self, inner: nn.Module):
            super().__init__()
            self.inner = inner

        def forward(self, **batch):
            batch.pop("labels", None)
            return self.inner(**batch).logits

    loader = DataLoader(dataset, batch_size=batch_size, collate_fn=MultipleChoiceCollator(pad_token_id))
    return predict(_Logits(model), loader, device=device)


COMPETITION = Competition(
    name=NAME,
    title='Kaggle "LLM Science Exam" (5-option science questions, MAP@3)',
    platform="kaggle",
    slug="kaggle-llm-science-exam",
    metric="val_map_at_3",
    mode="max",
    submission=SubmissionSpec(
        file_name="submission.csv",
        columns=("id", "prediction"),
        key=("id",),
        sample="sample_submission.csv",
        check=check_submission,
    ),
    demo=write_demo,
)
