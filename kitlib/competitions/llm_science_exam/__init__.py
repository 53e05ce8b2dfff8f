"""Kaggle "LLM Science Exam": five-option science questions scored by MAP@3.

What only this competition needs; the notebook ``notebooks/llm-science-exam.ipynb`` stands on these and
on two task libraries:

- data: :func:`write_demo` (the embedded demo set), :func:`read_questions` (validated ``train.csv`` /
  ``test.csv``), :func:`read_extra_questions` (:mod:`.external`: external training questions, repeats of
  official prompts dropped; :func:`extra_context` their context), :func:`check_submission` (``kit submit``'s
  rule for the ``prediction`` column);
- the notebook's longer steps (:mod:`.steps`): :func:`load_extra_train`, :func:`retrieve_contexts`,
  :func:`embed_questions`, :func:`models_record`;
- kept models (:mod:`.checkpoints`): :func:`resolve_checkpoints` finds the ``checkpoints/`` folder of a run (by id or folder),
  :func:`write_checkpoint_record`/:func:`read_checkpoint_record` keep beside the fold models what a run
  that only predicts needs (the settings that shape the predictions, the folds);
- scores -> answers: :func:`top_letters` turns a ``(n, 5)`` score matrix into ``"D A C"`` strings and
  :func:`map3_metric` scores logits against answer indices (for ``kitlib.train.fit``);
- prediction tables (the run folder's ``oof.parquet``/``test_predictions.parquet``, what ``kit blend``
  reads): :func:`prediction_frame` (``id``, ``fold``, ``answer``, ``score_A..score_E``),
  :func:`score_predictions` (MAP@3 of such a table: the notebook's CV score and the blend's) and
  :func:`predictions_to_submission`;
- retrieval (:mod:`kitlib.tasks.retrieval`: ``chunk_corpus``, ``PassageRetriever``): :func:`add_context`
  puts the best chunks for a question (its prompt and options, :func:`question_queries`) in front of it;
- approach a, zero-shot: :func:`question_vectors` + :func:`option_scores` rank options by embedding
  similarity to the prompt (plus the retrieved context);
- approach b, contrastive: ``OptionScorer`` (a torch module) maps prompt and option embeddings so that
  cross-entropy over the five similarities picks the right option (:mod:`.contrastive`);
  :func:`contrastive_fold` trains it per fold (``n_seeds`` seeds averaged, saved with ``checkpoints``) for
  ``kitlib.folds.cross_validate``, :func:`contrastive_checkpoint_fold` predicts again from the saved networks;
- approach c, cross-encoder: :mod:`kitlib.tasks.multiple_choice` (``cross_encoder_fold`` on
  ``load_multiple_choice_model``, ``MultipleChoiceDataset``, ``MultipleChoiceCollator``, ``predict_choices``)
  feeds ``AutoModelForMultipleChoice`` through ``kitlib.train.fit``; ``checkpoint_fold`` predicts again from the
  saved fold models.

torch and transformers are imported only by the functions that need them, so ``check_submission`` (run
by ``kit submit``) stays light.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ... import predictions
from ...data import read_csv, write_atomic
from ...errors import DataError, ParameterError, SubmissionError
from ...tasks import multiple_choice, retrieval
from ..spec import ROOT, Competition, Predictions, SubmissionSpec

__all__ = [
    "LETTERS", "COMPETITION", "write_demo", "read_questions", "option_matrix", "answer_indices", "top_letters",
    "map3_metric", "SCORES", "prediction_frame", "score_predictions", "predictions_to_submission",
    "check_submission", "question_queries", "add_context", "question_vectors", "option_scores", "OptionScorer",
    "contrastive_fold", "contrastive_checkpoint_fold", "read_extra_questions", "normalise_prompt",
    "resolve_checkpoints", "write_checkpoint_record", "read_checkpoint_record", "extra_context", "PREDICTION_PARAMS",
    "load_extra_train", "retrieve_contexts", "embed_questions", "models_record",
]

NAME = "llm-science-exam"
LETTERS = ("A", "B", "C", "D", "E")
QUESTION_COLUMNS = ("id", "prompt", *LETTERS)
DEMO_FILES = ("train.csv", "test.csv", "sample_submission.csv", "README.md")
SCORES = tuple(predictions.columns("score_", LETTERS))  # prediction columns: one score per option, higher is better

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
        write_atomic(out_dir / name, (src / name).read_bytes())
    (out_dir / "corpus").mkdir(exist_ok=True)
    for text in sorted((src / "corpus").glob("*.txt")):
        write_atomic(out_dir / "corpus" / text.name, text.read_bytes())
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
            write_atomic(out_dir / name, df.to_csv(index=False))
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
    df = read_csv(path, dtype=str, keep_default_na=False)
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
    return multiple_choice.option_matrix(df, LETTERS)


def answer_indices(answers: Sequence[str]) -> np.ndarray:
    """``["A", "C"]`` -> ``array([0, 2])``; raises ``DataError`` for a letter outside A-E."""
    return multiple_choice.answer_indices(answers, LETTERS)


def top_letters(scores: np.ndarray, k: int = 3) -> list[str]:
    """Rank each row's five scores (higher is better) and return the best ``k`` letters, e.g. ``"D A C"``.

    Ties keep the option order (A before B). Raises ``ParameterError`` unless ``scores`` is ``(n, 5)``.
    """
    return multiple_choice.top_choices(scores, k, LETTERS)


def map3_metric(targets: np.ndarray, logits: np.ndarray) -> float:
    """MAP@3 of ``(n, 5)`` logits against answer indices: the ``metric`` for ``kitlib.train.fit``."""
    from ...metrics import map_at_k

    truths = [LETTERS[int(t)] for t in np.asarray(targets).ravel()]
    return map_at_k(truths, top_letters(logits), k=3)


# ------------------------------------------------------------------------------- prediction tables
def prediction_frame(df: pd.DataFrame, scores: np.ndarray, *, fold: Any = None) -> pd.DataFrame:
    """The prediction table of the questions ``df`` (built by :func:`kitlib.predictions.frame`): ``id``,
    ``fold`` (when given), ``answer`` (when ``df`` has one), then ``scores`` ``(n, 5)`` as ``score_A..score_E``.

    Raises ``ParameterError`` when ``scores`` is not one row of five per question.
    """
    target = {"answer": df["answer"].to_numpy()} if "answer" in df else None
    return predictions.frame(df[["id"]].astype(str), scores, SCORES, fold=fold, target=target)


def score_predictions(frame: pd.DataFrame) -> float:
    """MAP@3 of a prediction table: each row's three best ``score_`` columns (ties keep A before B) against
    its ``answer``. The notebook's CV score and ``kit blend``'s are this function."""
    from ...metrics import map_at_k

    return map_at_k(frame["answer"].astype(str).tolist(), top_letters(frame[list(SCORES)].to_numpy()), k=3)


def predictions_to_submission(test: pd.DataFrame, data_dir: Path) -> pd.DataFrame:
    """``id, prediction`` in the order of ``<data_dir>/sample_submission.csv``; ``prediction`` holds the three
    best letters of each test row's ``score_`` columns (``"D A C"``), matched by ``id``.

    Raises ``DataError`` when an id of the sample has no test prediction or one id has several.
    """
    sample = pd.read_csv(Path(data_dir) / "sample_submission.csv", dtype=str, keep_default_na=False)
    ids = test["id"].astype(str)
    if ids.duplicated().any():
        raise DataError(f"test predictions: id {ids[ids.duplicated()].iat[0]!r} appears more than once")
    missing = sample["id"][~sample["id"].isin(ids)]
    if len(missing):
        raise DataError(f"{len(missing)} id(s) of {Path(data_dir) / 'sample_submission.csv'} have no test "
                        f"prediction, the first {missing.iat[0]!r}")
    scores = test.set_index(ids)[list(SCORES)].loc[sample["id"]].to_numpy()
    return pd.DataFrame({"id": sample["id"], "prediction": top_letters(scores)})


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


from .checkpoints import (  # noqa: E402  (kept models)
    CHECKPOINT_RECORD, PREDICTION_PARAMS, read_checkpoint_record, resolve_checkpoints, write_checkpoint_record)
from .contrastive import contrastive_checkpoint_fold, contrastive_fold  # noqa: E402
from .external import normalise_prompt, read_extra_questions  # noqa: E402
from .steps import embed_questions, load_extra_train, models_record, retrieve_contexts  # noqa: E402


def __getattr__(name: str) -> Any:
    """``OptionScorer`` (in :mod:`.contrastive`) is built on first access: importing this module imports no torch."""
    if name == "OptionScorer":
        from . import contrastive

        return contrastive.OptionScorer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    predictions=Predictions(key=("id",), target="answer", score=score_predictions,
                            to_submission=predictions_to_submission),
    code_competition=True,  # the submission is a notebook run offline on Kaggle: `kit kernel --push`
)
