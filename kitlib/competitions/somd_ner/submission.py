"""The SOMD submission: ``predictions.zip`` with ``predictions.entities.txt`` and ``predictions.relations.txt``.

Both files have one line per sentence of ``test_texts.txt``: the labels of its tokens, and its relations
(``Type<TAB>subject<TAB>object`` entries joined by ``"; "``, an empty line for none). :func:`submission_zip`
writes the zip's bytes (the same predictions give the same bytes), :func:`check_submission` validates a zip
(or an entities file with its relations file beside it) and :func:`pack_predictions` returns the upload file,
never writing over anything.

A zip is read defensively: a member name that appears twice is refused, each member's uncompressed size is capped
(:func:`member_limit`: :data:`MEMBER_SIZE_FACTOR` times the test texts' bytes, plus :data:`MEMBER_SIZE_SLACK`)
from its declared size before anything is unpacked and again while reading (a header may lie), and a damaged
archive or member (``BadZipFile``, ``zlib.error``, ``EOFError``, an unsupported or encrypted member) is one
``SubmissionError`` line.
"""
from __future__ import annotations

import lzma
import zipfile
import zlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from ...errors import DataError, ParameterError, SubmissionError
from .files import PHASES, TEST_TEXTS, decode_text, find_phase, read_lines, read_texts, split_line
from .labels import ENTITY_TYPES, LABEL_SET, mentions
from .relations import RELATION_TYPES, check_relations, format_relations, parse_relations_line

__all__ = ["SUBMISSION", "ENTITIES_FILE", "RELATIONS_FILE", "entities_text", "relations_text", "write_predictions",
           "submission_zip", "member_limit", "check_submission", "pack_predictions"]

#: The submission: a zip holding these two files at its root, lines aligned with ``test_texts.txt``.
SUBMISSION, ENTITIES_FILE, RELATIONS_FILE = "predictions.zip", "predictions.entities.txt", "predictions.relations.txt"
#: A member may unpack to this many times the bytes of the test texts (a label of 24 characters for a token of
#: one, plus the relations), plus :data:`MEMBER_SIZE_SLACK`; without the test texts, :data:`MAX_MEMBER_BYTES`.
MEMBER_SIZE_FACTOR, MEMBER_SIZE_SLACK, MAX_MEMBER_BYTES = 64, 1 << 20, 1 << 30
#: What a damaged archive or member raises while it is opened or read.
ZIP_FAULTS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, NotImplementedError, RuntimeError)


def entities_text(labels: Sequence[Sequence[str]]) -> str:
    """The text of ``predictions.entities.txt``: one line per sentence, labels separated by single spaces."""
    return "".join(" ".join(labs) + "\n" for labs in labels)


def relations_text(relations: Sequence[Sequence[tuple[str, int, int]]]) -> str:
    """The text of ``predictions.relations.txt``: one line per sentence (empty: none), entries
    ``Type<TAB>subject<TAB>object`` joined by ``"; "``."""
    return "".join(format_relations(rels) + "\n" for rels in relations)


def write_predictions(labels: Sequence[Sequence[str]], path: str | Path) -> Path:
    """Write an entities file (:func:`entities_text`) to ``path``; out: ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(entities_text(labels), encoding="utf-8")
    return path


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    """A zip of ``members`` at its root whose bytes depend only on theirs (fixed timestamps)."""
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buffer.getvalue()


def submission_zip(labels: Sequence[Sequence[str]], relations: Sequence[Sequence[tuple[str, int, int]]]) -> bytes:
    """The bytes of the shared task's submission: a zip with ``predictions.entities.txt`` and
    ``predictions.relations.txt`` at its root (the same predictions give the same bytes)."""
    if len(labels) != len(relations):
        raise ParameterError(f"{len(labels)} sentences of labels but {len(relations)} of relations")
    return _zip_bytes({ENTITIES_FILE: entities_text(labels).encode("utf-8"),
                       RELATIONS_FILE: relations_text(relations).encode("utf-8")})


def member_limit(test_texts: Path | None) -> tuple[int, str]:
    """``(bytes, why)``: the most bytes a member of a submission zip may unpack to, :data:`MEMBER_SIZE_FACTOR`
    times the size of ``test_texts`` plus :data:`MEMBER_SIZE_SLACK` (or :data:`MAX_MEMBER_BYTES` without it), and
    how that was worked out, for messages."""
    if test_texts is None or not test_texts.is_file():
        return MAX_MEMBER_BYTES, "the most the kit unpacks"
    size = test_texts.stat().st_size
    return (MEMBER_SIZE_FACTOR * size + MEMBER_SIZE_SLACK,
            f"{MEMBER_SIZE_FACTOR} times the {size:,} bytes of {test_texts.name}, and {MEMBER_SIZE_SLACK:,} more")


def _read_member(zf: zipfile.ZipFile, name: str, limit: tuple[int, str], where: str) -> str:
    """The UTF-8 text of member ``name``, refused from its declared size before it is unpacked and read with a
    bound (a header may understate it). Raises ``SubmissionError``; a damaged member raises from ``ZIP_FAULTS``."""
    most, why = limit

    def too_big(size: str) -> SubmissionError:
        return SubmissionError(f"{where}: {name} unpacks to {size} bytes, more than {most:,} ({why}); it cannot be "
                               "predictions for this test set")

    info = zf.getinfo(name)
    if info.file_size > most:
        raise too_big(f"{info.file_size:,}")
    with zf.open(info) as member:
        data = member.read(most + 1)
    if len(data) > most:
        raise too_big(f"over {most:,}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionError(f"{where}: {name} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _zip_members(path: Path, limit: tuple[int, str], expected: str) -> tuple[str, str]:
    """``(entities text, relations text)`` from the submission zip ``path`` (see the module docstring)."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            doubled = [(n, c) for n, c in Counter(names).items() if c > 1]
            if doubled:
                raise SubmissionError(f"{path.name}: holds {doubled[0][0]!r} {doubled[0][1]} times; each member "
                                      f"name must appear once ({expected})")
            missing = [n for n in (ENTITIES_FILE, RELATIONS_FILE) if n not in names]
            extra = [n for n in names if n not in (ENTITIES_FILE, RELATIONS_FILE) and not n.endswith("/")]
            if missing or extra:
                raise SubmissionError(f"{path.name}: holds {names[:6]}; {expected}"
                                      + (f" (missing {missing})" if missing else f" (unexpected {extra[:3]})"))
            return _read_member(zf, ENTITIES_FILE, limit, path.name), _read_member(zf, RELATIONS_FILE, limit, path.name)
    except ZIP_FAULTS as exc:
        module = type(exc).__module__
        kind = type(exc).__name__ if module == "builtins" else f"{module}.{type(exc).__name__}"
        first = (str(exc).splitlines() or [""])[0][:200] or ("it ends inside a member" * isinstance(exc, EOFError))
        said = f"{kind}: {first}" if first else kind
        raise SubmissionError(f"{path.name}: a damaged zip archive ({said}); {expected}") from None


def _submission_members(path: Path, limit: tuple[int, str] | None = None) -> tuple[str, str, str]:
    """``(entities text, relations text, how they were found)`` from a submission zip (each member at most
    ``limit`` bytes unpacked), or from an entities file with its relations file beside it. Raises
    ``SubmissionError`` for anything else."""
    expected = f"expected {SUBMISSION} holding {ENTITIES_FILE} and {RELATIONS_FILE} at its root"
    if zipfile.is_zipfile(path):
        return *_zip_members(path, limit or member_limit(None), expected), path.name
    if path.suffix.lower() == ".zip":
        raise SubmissionError(f"{path.name}: not a zip archive; {expected}")
    if not path.name.endswith(".entities.txt"):
        raise SubmissionError(f"{path.name}: {expected} (or {ENTITIES_FILE} with {RELATIONS_FILE} beside it)")
    relations = path.with_name(path.name[: -len(".entities.txt")] + ".relations.txt")
    if not relations.is_file():
        raise SubmissionError(f"{path.name}: {relations.name} not found beside it; the submission needs both files")
    return decode_text(path, SubmissionError), decode_text(relations, SubmissionError), path.parent.name or "."


def _training_relation_types(data_dir: Path) -> set[str]:
    """The relation types of ``data_dir``'s training relations file (empty when it has none)."""
    try:
        names = PHASES[find_phase(data_dir)]
    except DataError:
        return set()
    path = data_dir / names[2]
    if not path.is_file():
        return set()
    return {r[0] for line in decode_text(path).splitlines() for r in parse_relations_line(line, path.name)[0]}


def check_submission(path: Path, data_dir: Path | None, max_errors: int = 5) -> None:
    """Check a submission against ``data_dir``'s test texts; return None when it is valid.

    ``path`` is ``predictions.zip`` (both files at its root, nothing else) or ``predictions.entities.txt``
    with ``predictions.relations.txt`` beside it. Valid: one line per test sentence in each file (blank lines
    at the end of the entities file tolerated), as many labels as tokens on each line, every label one of
    :data:`LABELS`; every relation entry ``Type<TAB>subject<TAB>object`` with a known type
    (:data:`~.relations.RELATION_TYPES` and those of the training relations) and subject and object inside the
    sentence, each at the first token of a predicted entity. Raises ``SubmissionError`` naming the first
    ``max_errors`` offending lines (or when ``data_dir`` is None); ``DataError`` when the test texts cannot be read.
    """
    if data_dir is None:
        raise SubmissionError(f"cannot check {Path(path).name} without the competition's data folder "
                              f"(it needs {TEST_TEXTS}); pass --data-dir")
    path, data_dir = Path(path), Path(data_dir)
    sentences = read_texts(data_dir / TEST_TEXTS)
    ent_text, rel_text, _ = _submission_members(path, member_limit(data_dir / TEST_TEXTS))
    lines = read_lines(path, SubmissionError, text=ent_text, name=ENTITIES_FILE)
    problems: list[str] = []
    if len(lines) != len(sentences):
        problems.append(f"{ENTITIES_FILE}: {len(lines)} lines but {TEST_TEXTS} has {len(sentences)} sentences; "
                        "expected one line of labels per sentence")
    predicted: list[list[tuple] | None] = []
    for number, (line, tokens) in enumerate(zip(lines, sentences), start=1):
        items, err = split_line(line, ENTITIES_FILE, number, "labels")
        bad = [(i, lab) for i, lab in enumerate(items or [], start=1) if lab not in LABEL_SET]
        if err:
            problems.append(err)
        elif len(items) != len(tokens):
            problems.append(f"{ENTITIES_FILE} line {number}: {len(items)} labels for {len(tokens)} tokens")
        elif bad:
            problems.append(f"{ENTITIES_FILE} line {number} label {bad[0][0]}: unknown label {bad[0][1]!r}; "
                            f"expected O or B-/I- with one of {list(ENTITY_TYPES)}")
        predicted.append(mentions(tokens, items) if not err and len(items) == len(tokens) and not bad else None)
    rel_lines = [ln[:-1] if ln.endswith("\r") else ln for ln in rel_text.split("\n")]
    if rel_text.endswith("\n"):
        rel_lines.pop()
    while len(rel_lines) > len(sentences) and not rel_lines[-1].strip():
        rel_lines.pop()
    if len(rel_lines) != len(sentences):
        problems.append(f"{RELATIONS_FILE}: {len(rel_lines)} lines but {TEST_TEXTS} has {len(sentences)} sentences; "
                        "expected one line per sentence (an empty line: no relation)")
    allowed = set(RELATION_TYPES) | _training_relation_types(data_dir)
    for number, (line, tokens) in enumerate(zip(rel_lines, sentences), start=1):
        where = f"{RELATIONS_FILE} line {number}"
        rels, bad = parse_relations_line(line, where)
        problems += bad
        unknown = sorted({r[0] for r in rels} - allowed)
        if unknown:
            problems.append(f"{where}: unknown relation type {unknown[0]!r}; expected one of {sorted(allowed)}")
        ents = predicted[number - 1] if number <= len(predicted) else None
        wrong = check_relations(rels, tokens, ents, where)[1]
        problems += [p.replace("an entity", "a predicted entity") for p in wrong]
        if len(problems) >= max_errors:
            break
    if problems:
        raise SubmissionError(f"invalid submission {path.name}:\n  " + "\n  ".join(problems[:max_errors]))


def pack_predictions(path: str | Path, zip_path: str | Path | None = None) -> Path:
    """The upload file for a validated submission; never writes over anything.

    A zip (``predictions.zip``) is already what the platform takes: returned as it is. An entities file
    (``<name>.entities.txt`` with ``<name>.relations.txt`` beside it) is packed into ``zip_path`` (default
    ``<name>.zip`` beside it; the same files give the same bytes). Raises ``SubmissionError`` when ``path`` is
    missing, is not one of the two (a ``.zip`` that is no zip archive included), or ``zip_path`` exists with
    other bytes (move it away first).
    """
    path = Path(path)
    if not path.is_file():
        raise SubmissionError(f"{path}: no such predictions file")
    ent_text, rel_text, _ = _submission_members(path)
    if zipfile.is_zipfile(path):
        return path
    zip_path = Path(zip_path) if zip_path is not None else path.with_name(path.name[: -len(".entities.txt")] + ".zip")
    data = _zip_bytes({ENTITIES_FILE: ent_text.encode("utf-8"), RELATIONS_FILE: rel_text.encode("utf-8")})
    if zip_path.exists():
        if zip_path.is_file() and zip_path.read_bytes() == data:
            return zip_path
        raise SubmissionError(f"{zip_path} exists and holds something else; the packer never writes over a file: "
                              "move it away or pass another zip path")
    zip_path.write_bytes(data)
    return zip_path
