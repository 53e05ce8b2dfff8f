"""SOMD 2025 software mention detection (Subtask I): files, label set, gazetteer baseline, submission.

The competition's data directory holds three plain-text files, one sentence a line::

    train_texts.txt     tokens separated by single spaces
    train_entities.txt  one BIO label per token, line for line and token for token
    test_texts.txt      tokens of the sentences to label

A submission is ``predictions.txt``: one line per test sentence, one label per token, single spaces.
The shared task's platform takes it zipped (``predictions.txt`` at the zip's root); it has no upload
client, so :func:`pack_predictions` writes the zip for the user to upload by hand.

Reading is strict: a line ending (``\\n`` or ``\\r\\n``) ends a sentence, blank lines at the end of a file
are tolerated, and everything else that is not "tokens separated by single spaces" is an error naming
the file, the line and the column. Nothing is guessed.

The synthetic demo corpus (:func:`generate_corpus`, :func:`write_corpus`, :func:`write_demo`) lives in
:mod:`.demo`, the label set in :mod:`.labels`, the word-level prediction tables of a run folder (their
score and submission, what ``kit blend`` uses) in :mod:`.prediction_tables` and the fold model in
:mod:`.fold_models`; all are re-exported here.
"""
from __future__ import annotations

import zipfile
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ...errors import DataError, ParameterError, SubmissionError
from ..spec import Competition, Predictions, SubmissionSpec
from .demo import DEMO_SIZE, generate_corpus, write_corpus, write_demo
from .fold_models import transformer_fold
from .labels import ENTITY_TYPES, LABELS
from .prediction_tables import (PROBABILITIES, cv_summary, decode_frame, fold_scores, predictions_to_submission,
                                score_predictions, sentence_labels, sentence_probs, word_frame)

__all__ = [
    "ENTITY_TYPES",
    "LABELS",
    "SomdData",
    "read_texts",
    "read_labels",
    "read_somd",
    "sentence_table",
    "mentions",
    "highlight_html",
    "Gazetteer",
    "write_predictions",
    "check_predictions",
    "pack_predictions",
    "generate_corpus",
    "write_corpus",
    "write_demo",
    "DEMO_SIZE",
    "PROBABILITIES",
    "word_frame",
    "sentence_probs",
    "sentence_labels",
    "decode_frame",
    "score_predictions",
    "fold_scores",
    "cv_summary",
    "predictions_to_submission",
    "transformer_fold",
]

_LABEL_SET = frozenset(LABELS)
TRAIN_TEXTS, TRAIN_ENTITIES, TEST_TEXTS, PREDICTIONS = (
    "train_texts.txt", "train_entities.txt", "test_texts.txt", "predictions.txt")


# ------------------------------------------------------------------------------------------ reading
def _read_lines(path: Path, error: type[Exception] = DataError) -> list[str]:
    """The lines of ``path`` (UTF-8) without line endings and without trailing blank lines."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise error(f"{path.name} line {line}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]
    while lines and lines[-1].strip() == "":
        lines.pop()
    if not lines:
        raise error(f"{path.name}: the file is empty; expected one sentence a line")
    return lines


def _split_line(line: str, name: str, number: int, what: str) -> tuple[list[str] | None, str | None]:
    """Split one line on single spaces: ``(items, None)`` or ``(None, error message)``."""
    if line == "":
        return None, f"{name} line {number}: empty line; expected {what} separated by single spaces"
    items = line.split(" ")
    if "" in items:
        col = (line.index("  ") + 2) if "  " in line else (1 if line.startswith(" ") else len(line))
        return None, (f"{name} line {number} column {col}: extra space; expected {what} separated by "
                      "single spaces")
    return items, None


def read_texts(path: str | Path) -> list[list[str]]:
    """The sentences of a ``*_texts.txt`` file, each a list of tokens.

    Raises ``DataError`` for a missing or empty file, a blank line inside the file, or a line with
    leading, trailing or doubled spaces (naming the line and column).
    """
    path = Path(path)
    sentences = []
    for number, line in enumerate(_read_lines(path), start=1):
        tokens, err = _split_line(line, path.name, number, "tokens")
        if err:
            raise DataError(err)
        sentences.append(tokens)
    return sentences


def read_labels(path: str | Path, sentences: Sequence[Sequence[str]], texts_name: str = TRAIN_TEXTS) -> list[list[str]]:
    """The BIO labels of an ``*_entities.txt`` file, checked line by line against ``sentences``.

    Raises ``DataError`` when the line counts differ, a line has more or fewer labels than its sentence
    has tokens (``train_entities.txt line 812: 23 labels for 22 tokens``), or a label is not one of
    :data:`LABELS` (naming line, label position and the allowed labels).
    """
    path = Path(path)
    lines = _read_lines(path)
    if len(lines) != len(sentences):
        raise DataError(f"{path.name}: {len(lines)} lines but {texts_name} has {len(sentences)} sentences; "
                        "expected one line of labels per sentence")
    labels = []
    for number, (line, tokens) in enumerate(zip(lines, sentences), start=1):
        items, err = _split_line(line, path.name, number, "labels")
        if err:
            raise DataError(err)
        if len(items) != len(tokens):
            raise DataError(f"{path.name} line {number}: {len(items)} labels for {len(tokens)} tokens")
        for position, label in enumerate(items, start=1):
            if label not in _LABEL_SET:
                raise DataError(f"{path.name} line {number} label {position}: unknown label {label!r}; "
                                f"expected O or B-/I- with one of {list(ENTITY_TYPES)}")
        labels.append(items)
    return labels


@dataclass
class SomdData:
    """The competition's files, parsed: training sentences with labels, and test sentences."""

    train_words: list[list[str]]
    train_labels: list[list[str]]
    test_words: list[list[str]]
    data_dir: Path


def read_somd(data_dir: str | Path) -> SomdData:
    """Read ``train_texts.txt``, ``train_entities.txt`` and ``test_texts.txt`` from ``data_dir``.

    Raises ``DataError`` (see :func:`read_texts`, :func:`read_labels`), naming the missing file.
    """
    data_dir = Path(data_dir)
    words = read_texts(data_dir / TRAIN_TEXTS)
    labels = read_labels(data_dir / TRAIN_ENTITIES, words)
    return SomdData(words, labels, read_texts(data_dir / TEST_TEXTS), data_dir)


def mentions(words: Sequence[str], labels: Sequence[str]) -> list[tuple[str, int, int, str]]:
    """The entities of one sentence as ``(type, first word, last word, text)`` (seqeval's reading of BIO:
    an ``I-X`` that does not continue an ``X`` starts a new entity)."""
    out, start, kind = [], None, None
    for i, label in enumerate([*labels, "O"]):
        prefix, _, typ = label.partition("-")
        continues = prefix == "I" and typ == kind
        if start is not None and not continues:
            out.append((kind, start, i - 1, " ".join(words[start:i])))
            start = kind = None
        if prefix in ("B", "I") and not continues:
            start, kind = i, typ
    return out


def sentence_table(words: Sequence[Sequence[str]], labels: Sequence[Sequence[str]] | None = None):
    """One row per sentence (pandas DataFrame): ``sentence`` index, ``document`` (= the sentence index:
    the files carry no document id), ``n_words``, ``n_entities`` and ``types`` (comma-separated)."""
    import pandas as pd

    rows = []
    for i, ws in enumerate(words):
        ents = mentions(ws, labels[i]) if labels is not None else []
        rows.append({"sentence": i, "document": i, "n_words": len(ws), "n_entities": len(ents),
                     "types": ",".join(sorted({e[0] for e in ents}))})
    return pd.DataFrame(rows)


_COLOURS = ("#ffd166", "#a0e7a0", "#9ecbff", "#f4a6c0", "#d5b8ff", "#ffb38a", "#b8f0f0", "#e0e0a0",
            "#c9c9ff", "#ffc9c9", "#c0e0c0", "#f0d0a0", "#d0d0d0", "#a0d0f0")


def highlight_html(words: Sequence[str], labels: Sequence[str]) -> str:
    """One sentence as HTML: each mention in a ``<mark>`` coloured by its type, the type in small
    capitals after it. Words are HTML-escaped."""
    import html

    spans = {start: (typ, end) for typ, start, end, _ in mentions(words, labels)}
    parts, i = [], 0
    while i < len(words):
        if i in spans:
            typ, end = spans[i]
            colour = _COLOURS[ENTITY_TYPES.index(typ) % len(_COLOURS)] if typ in ENTITY_TYPES else "#eeeeee"
            text = html.escape(" ".join(words[i:end + 1]))
            parts.append(f'<mark style="background:{colour}">{text} <sub>{html.escape(typ)}</sub></mark>')
            i = end + 1
        else:
            parts.append(html.escape(words[i]))
            i += 1
    return " ".join(parts)


# --------------------------------------------------------------------------------------- gazetteer
class Gazetteer:
    """The baseline: label every longest exact match of a mention seen in training.

    ``fit`` collects each labelled mention's words and the type it was given most often (ties: the
    type first seen); ``predict`` walks each sentence left to right and, at each word, labels the longest
    known mention starting there (``B-``/``I-``), else ``O``. ``lowercase`` matches case-insensitively.
    Learned attributes: ``mentions_`` (word tuple -> type), ``max_words_``.
    """

    def __init__(self, lowercase: bool = False):
        self.lowercase = lowercase

    def _key(self, words: Sequence[str]) -> tuple[str, ...]:
        return tuple(w.lower() for w in words) if self.lowercase else tuple(words)

    def fit(self, sentences: Sequence[Sequence[str]], labels: Sequence[Sequence[str]]) -> Gazetteer:
        """Learn the mentions of ``sentences`` labelled ``labels``; returns ``self``."""
        counts: dict[tuple[str, ...], Counter] = defaultdict(Counter)
        for words, labs in zip(sentences, labels):
            for typ, start, end, _ in mentions(words, labs):
                counts[self._key(words[start:end + 1])][typ] += 1
        self.mentions_ = {k: c.most_common(1)[0][0] for k, c in counts.items()}
        self.max_words_ = max((len(k) for k in self.mentions_), default=0)
        return self

    def predict(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """BIO labels for ``sentences`` (one label per word). Raises ``ParameterError`` before ``fit``."""
        if not hasattr(self, "mentions_"):
            raise ParameterError("Gazetteer.predict called before fit")
        out = []
        for words in sentences:
            keys = self._key(words)
            labs, i = ["O"] * len(words), 0
            while i < len(words):
                for n in range(min(self.max_words_, len(words) - i), 0, -1):
                    typ = self.mentions_.get(keys[i:i + n])
                    if typ is not None:
                        labs[i:i + n] = [f"B-{typ}"] + [f"I-{typ}"] * (n - 1)
                        i += n
                        break
                else:
                    i += 1
            out.append(labs)
        return out


# -------------------------------------------------------------------------------------- submission
def write_predictions(labels: Sequence[Sequence[str]], path: str | Path) -> Path:
    """Write ``predictions.txt``: one line per sentence, labels separated by single spaces, ``\\n`` ends."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(" ".join(labs) + "\n" for labs in labels), encoding="utf-8")
    return path


def check_predictions(path: Path, data_dir: Path | None, max_errors: int = 5) -> None:
    """Check a ``predictions.txt`` against ``data_dir/test_texts.txt``; return None when it is valid.

    Valid: one line per test sentence (blank lines at the end tolerated), as many labels as tokens on
    each line, labels separated by single spaces, every label one of :data:`LABELS`.
    Raises ``SubmissionError`` naming the first ``max_errors`` offending lines (or when ``data_dir`` is
    None); ``DataError`` when ``test_texts.txt`` itself cannot be read.
    """
    if data_dir is None:
        raise SubmissionError(f"cannot check {Path(path).name} without the competition's data folder "
                              f"(it needs {TEST_TEXTS}); pass --data-dir")
    path, data_dir = Path(path), Path(data_dir)
    sentences = read_texts(data_dir / TEST_TEXTS)
    lines = _read_lines(path, SubmissionError)
    problems: list[str] = []
    if len(lines) != len(sentences):
        problems.append(f"{path.name}: {len(lines)} lines but {TEST_TEXTS} has {len(sentences)} sentences; "
                        "expected one line of labels per sentence")
    for number, (line, tokens) in enumerate(zip(lines, sentences), start=1):
        if len(problems) >= max_errors:
            break
        items, err = _split_line(line, path.name, number, "labels")
        if err:
            problems.append(err)
        elif len(items) != len(tokens):
            problems.append(f"{path.name} line {number}: {len(items)} labels for {len(tokens)} tokens")
        else:
            bad = [(i, lab) for i, lab in enumerate(items, start=1) if lab not in _LABEL_SET]
            if bad:
                problems.append(f"{path.name} line {number} label {bad[0][0]}: unknown label {bad[0][1]!r}; "
                                f"expected O or B-/I- with one of {list(ENTITY_TYPES)}")
    if problems:
        raise SubmissionError("invalid predictions:\n  " + "\n  ".join(problems[:max_errors]))


def pack_predictions(path: str | Path, zip_path: str | Path | None = None) -> Path:
    """Zip ``predictions.txt`` for the shared task's platform (the file at the zip's root).

    ``zip_path`` defaults to ``path`` with ``.zip``. The archive's bytes depend only on the file's bytes
    (fixed timestamp), so the same predictions give the same zip. Out: the zip's path.
    Raises ``SubmissionError`` when ``path`` does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise SubmissionError(f"{path}: no such predictions file")
    zip_path = Path(zip_path) if zip_path is not None else path.with_suffix(".zip")
    info = zipfile.ZipInfo(PREDICTIONS, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.writestr(info, path.read_bytes())
    return zip_path


COMPETITION = Competition(
    name="somd-ner",
    title="SOMD 2025 software mention detection (BIO token classification, entity F1)",
    platform="local",
    slug="somd-2025",
    metric="val_entity_f1",
    mode="max",
    submission=SubmissionSpec(file_name="predictions.txt", check=check_predictions, pack=pack_predictions),
    demo=write_demo,
    predictions=Predictions(key=("sentence", "token"), target="label", score=score_predictions,
                            to_submission=predictions_to_submission),
)
