"""SOMD 2025 software mention detection and relation extraction: files, label set, baselines, submission.

The competition's data directory holds plain-text files, one sentence a line, in one of two namings::

    Phase I                Phase II
    train_texts.txt        texts.txt          tokens separated by spaces (real lines hold double spaces)
    train_entities.txt     entities.txt       one BIO label per token, line for line and token for token
    train_relations.txt    relations.txt      Type<TAB>subject<TAB>object entries, ';'-separated (see .relations)
    test_texts.txt         test_texts.txt     tokens of the sentences to label

A submission is ``predictions.zip`` holding ``predictions.entities.txt`` (one line of labels per test
sentence) and ``predictions.relations.txt`` (one line of relations per test sentence) at its root; the
score is the mean of the entity F1 and the relation F1 (:func:`kitlib.metrics.somd_score`). The shared task's
platform has no upload client: ``kit submit`` validates and records the zip for the user to hand in.

Reading: the tokens of a line are its whitespace-separated fields; a line ending (``\\n`` or ``\\r\\n``)
ends a sentence, blank lines at the end of a texts or entities file are tolerated, anything else wrong is an
error naming the file and the line. Relation entries that cannot be used are skipped and each reported with
file, line and entry.

The synthetic demo corpus lives in :mod:`.demo`, the label set in :mod:`.labels`, relations (reading, rule
baseline, candidate pairs) in :mod:`.relations`, the relation classifier in :mod:`.relation_model`, the
word-level prediction tables in :mod:`.prediction_tables` and the fold model in :mod:`.fold_models`.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import DataError, ParameterError
from ..spec import Competition, Predictions, SubmissionSpec
from .demo import DEMO_SIZE, generate_corpus, generate_somd, write_corpus, write_demo
from .fold_models import transformer_fold
from .labels import ENTITY_TYPES, LABELS
from . import relation_model, scoring, steps  # noqa: F401  (somd.relation_model, somd.scoring, somd.steps)
from .relations import (RELATION_TYPES, RuleLinker, candidate_pairs, format_relations, read_relations,
                        relation_type_pairs)
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
    "PHASES",
    "find_phase",
    "write_predictions",
    "entities_text",
    "relations_text",
    "submission_zip",
    "check_submission",
    "pack_predictions",
    "RELATION_TYPES",
    "read_relations",
    "format_relations",
    "candidate_pairs",
    "relation_type_pairs",
    "RuleLinker",
    "generate_corpus",
    "generate_somd",
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
TRAIN_TEXTS, TRAIN_ENTITIES, TRAIN_RELATIONS, TEST_TEXTS = (
    "train_texts.txt", "train_entities.txt", "train_relations.txt", "test_texts.txt")
#: The submission: a zip holding these two files at its root, lines aligned with ``test_texts.txt``.
SUBMISSION, ENTITIES_FILE, RELATIONS_FILE = "predictions.zip", "predictions.entities.txt", "predictions.relations.txt"


# ------------------------------------------------------------------------------------------ reading
def _decode(path: Path, error: type[Exception] = DataError) -> str:
    """The UTF-8 text of ``path``; ``error`` naming the file (and the line of a bad byte)."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: no such file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise error(f"{path.name} line {line}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _read_lines(path: Path, error: type[Exception] = DataError, text: str | None = None,
                name: str | None = None) -> list[str]:
    """The lines of ``path`` (UTF-8; or of ``text``) without line endings and without trailing blank lines."""
    text = _decode(path, error) if text is None else text
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]
    while lines and lines[-1].strip() == "":
        lines.pop()
    if not lines:
        raise error(f"{name or Path(path).name}: the file is empty; expected one sentence a line")
    return lines


def _split_line(line: str, name: str, number: int, what: str) -> tuple[list[str] | None, str | None]:
    """The whitespace-separated fields of one line (real files hold double spaces): ``(items, None)``, or
    ``(None, error message)`` for a line without any."""
    items = line.split()
    if not items:
        return None, f"{name} line {number}: empty line; expected {what} separated by spaces"
    return items, None


def read_texts(path: str | Path) -> list[list[str]]:
    """The sentences of a texts file, each a list of tokens (the whitespace-separated fields of its line:
    double spaces, leading or trailing spaces are no tokens).

    Raises ``DataError`` for a missing or empty file or a blank line inside the file (naming the line).
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
    """The BIO labels of an entities file, checked line by line against ``sentences``.

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


#: The file names of each phase: (texts, entities, relations, test texts).
PHASES: dict[str, tuple[str, str, str, str]] = {
    "phase1": (TRAIN_TEXTS, TRAIN_ENTITIES, TRAIN_RELATIONS, TEST_TEXTS),
    "phase2": ("texts.txt", "entities.txt", "relations.txt", TEST_TEXTS),
}


def find_phase(data_dir: str | Path, phase: str = "auto") -> str:
    """Which file names ``data_dir`` uses: ``"phase1"`` (``train_texts.txt``, ...) or ``"phase2"``
    (``texts.txt``, ...); ``phase="auto"`` looks for the training texts of each. Raises ``ParameterError``
    for an unknown phase, ``DataError`` when neither set of names is there."""
    if phase != "auto":
        if phase not in PHASES:
            raise ParameterError(f"Unknown phase {phase!r}; expected one of ['auto', {', '.join(map(repr, PHASES))}]")
        return phase
    for name, files in PHASES.items():
        if (Path(data_dir) / files[0]).is_file():
            return name
    raise DataError(f"{data_dir}: found neither {TRAIN_TEXTS} (Phase I) nor texts.txt (Phase II); expected "
                    f"the training texts, entities and relations and {TEST_TEXTS}")


@dataclass
class SomdData:
    """The competition's files, parsed: training sentences with labels and relations, and test sentences.

    ``relation_problems`` lists every relation entry that was skipped (file, line, entry, why); ``files``
    the names read (texts, entities, relations, test texts), ``phase`` which naming they follow.
    """

    train_words: list[list[str]]
    train_labels: list[list[str]]
    test_words: list[list[str]]
    data_dir: Path
    train_relations: list[list[tuple[str, int, int]]] = field(default_factory=list)
    relation_problems: list[str] = field(default_factory=list)
    phase: str = "phase1"
    files: tuple[str, str, str, str] = PHASES["phase1"]


def read_somd(data_dir: str | Path, phase: str = "auto", strict: bool = False) -> SomdData:
    """Read the training texts, entities and relations and the test texts of ``data_dir``, with the file
    names of ``phase`` (:func:`find_phase`; ``"auto"`` finds them).

    Relation entries that are malformed or do not point at an entity's first token are skipped and listed in
    ``relation_problems`` (``strict``: the first raises ``DataError``); a missing relations file gives no
    relations and one problem saying so. Raises ``DataError`` (see :func:`read_texts`, :func:`read_labels`),
    naming the missing file.
    """
    from .relations import read_relations

    data_dir = Path(data_dir)
    phase = find_phase(data_dir, phase)
    texts, entities, relations, test = PHASES[phase]
    words = read_texts(data_dir / texts)
    labels = read_labels(data_dir / entities, words, texts_name=texts)
    if (data_dir / relations).is_file():
        entities_of = [mentions(w, lab) for w, lab in zip(words, labels)]
        rels, problems = read_relations(data_dir / relations, words, entities_of,
                                        texts_name=texts, strict=strict)
    else:
        rels, problems = [[] for _ in words], [f"{relations}: no such file in {data_dir}; no relations to learn"]
    return SomdData(words, labels, read_texts(data_dir / test), data_dir, rels, problems, phase, PHASES[phase])


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
from .submission import (check_submission, entities_text, pack_predictions, relations_text,  # noqa: E402
                         submission_zip, write_predictions)

COMPETITION = Competition(
    name="somd-ner",
    title="SOMD 2025 software mentions and their relations (entity F1 and relation F1, SOMD score)",
    platform="local",
    slug="somd-2025",
    metric="val_somd_score",
    mode="max",
    submission=SubmissionSpec(file_name=SUBMISSION, check=check_submission, pack=pack_predictions),
    demo=write_demo,
    predictions=Predictions(key=("sentence", "token"), target="label", score=score_predictions,
                            to_submission=predictions_to_submission),
)
