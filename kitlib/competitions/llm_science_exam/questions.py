"""The LLM Science Exam's question files: the embedded demo set (:func:`write_demo`), reading ``train.csv`` /
``test.csv`` checked (:func:`read_questions`), and the options and answers as arrays."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ...data import read_csv, write_atomic
from ...errors import DataError
from ...runtime import ROOT
from ...tasks import multiple_choice

__all__ = ["NAME", "LETTERS", "QUESTION_COLUMNS", "committed_demo_dir", "write_demo", "read_questions",
           "option_matrix", "answer_indices"]

NAME = "llm-science-exam"
LETTERS = ("A", "B", "C", "D", "E")
QUESTION_COLUMNS = ("id", "prompt", *LETTERS)
DEMO_FILES = ("train.csv", "test.csv", "sample_submission.csv", "README.md")


def committed_demo_dir() -> Path:
    """``data/demo/llm-science-exam/`` in the checkout: the committed demo questions and corpus."""
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
    src = committed_demo_dir()
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
