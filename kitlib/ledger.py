"""The submission ledger: ``submissions/ledger.csv``, an append-only log of events under a file lock.

Every accepted submission is one row (:data:`LEDGER_COLUMNS`); an upload is recorded ``uploading`` before the
platform's client is called and settled by a further row (``uploaded``, ``failed``, ``unknown``); what the platform
later says of it (``kit lb``: ``pending``, ``scored`` with its public and private score, ``error`` with its
description) is a further row again, written only when something changed. A pushed Kaggle kernel version is a row
of its own (``kernel_pushed``, with ``kernel`` and ``kernel_version``).

A row is appended whole or not at all: the end of the file is noted, the row is written, flushed and synced to
disk, and when any of that fails (a full disk, a file-size limit) the file is cut back to the noted end and one
line says that nothing was recorded, so a torn row can never be read back as a submission. Every value is
masked (:func:`kitlib.masking.mask`) before it is written: a platform's answer or a message cannot carry a key
into the file. A ledger written before the last columns were added gets the new header (rows kept, their new
columns empty) under the lock, before the next row is appended.
"""
from __future__ import annotations

import contextlib
import csv
import io
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import pandas as pd

from .errors import KitError
from .masking import mask
from .runtime import submissions_dir

# time: when the submission was recorded; with file and sha256 (SUBMISSION_KEY) it names the submission, and every
# later row of it repeats the three. upload_status: one of UPLOAD_STATUSES, reached at status_time; platform_id:
# the platform's id for the submission. The PLATFORM_COLUMNS hold the platform's verdict (PLATFORM_STATUSES), its
# scores as the very strings it sent, and when kit lb read them. kernel, kernel_version: a Kaggle code
# submission's kernel (owner/slug) and version. Each group came later than the one before: older files lack them.
PLATFORM_COLUMNS = ("platform_status", "public_score", "private_score", "platform_error", "checked_time")
LEDGER_COLUMNS = ("time", "competition", "file", "sha256", "run_id", "score", "message", "upload_status",
                  "platform_message", "status_time", "platform_id", *PLATFORM_COLUMNS, "kernel", "kernel_version")
SUBMISSION_KEY = ("time", "file", "sha256")
UPLOAD_STATUSES = ("not uploaded", "uploading", "uploaded", "failed", "unknown", "kernel_pushed")
PLATFORM_STATUSES = ("pending", "scored", "error")
LEDGER_LOCK_TIMEOUT_S = 60.0


class LedgerWriteError(KitError):
    """A ledger row could not be written (the disk is full, a size limit, an I/O error); the file was cut back to
    where it ended before, so nothing of the row was recorded."""


def ledger_path() -> Path:
    """``ledger.csv`` in the submissions folder (:func:`kitlib.runtime.submissions_dir`)."""
    return submissions_dir() / "ledger.csv"


@contextlib.contextmanager
def ledger_lock(timeout_s: float = LEDGER_LOCK_TIMEOUT_S) -> Iterator[Path]:
    """Hold the ledger's lock (``ledger.csv.lock`` beside it) while the block runs; yield the ledger's path.

    Every write of the kit holds it, so rows of concurrent submits never interleave and only one writes the
    header. Raises ``KitError`` when another process holds it for longer than ``timeout_s``.
    """
    from filelock import FileLock, Timeout

    path = ledger_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(f"{path}.lock", timeout=timeout_s):
            yield path
    except Timeout:
        raise KitError(f"{path}: another process has held its lock ({path}.lock) for over {timeout_s:g} s; nothing "
                       f"was recorded") from None


def write_all(handle: io.RawIOBase, data: bytes) -> None:
    """Write every byte of ``data`` to the unbuffered ``handle`` (a short write is continued); raises ``OSError``."""
    view = memoryview(data)
    while view:
        written = handle.write(view)
        if not written:
            raise OSError(f"wrote nothing of the last {len(view)} bytes")
        view = view[written:]


def append_ledger(row: Mapping[str, str | float | None]) -> None:
    """Append one row (column -> value) to the ledger, under its lock; the header is written when the file is new
    or empty, and rewritten first (rows kept) when it lacks columns of :data:`LEDGER_COLUMNS`.

    Every value is masked. Raises :class:`LedgerWriteError` (one line, "nothing was recorded") when the row cannot
    be written whole: the file is then cut back to its end before the write.
    """
    with ledger_lock() as path:
        _append(path, row)


class LockedLedger:
    """The ledger while this process holds its lock (:func:`locked_ledger`): read it and append to it, with no
    other writer in between (a count and the row it allows, a state compared and the row that changes it)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self, events: bool = False) -> pd.DataFrame:
        """As :func:`read_ledger`."""
        return _read(self.path, events)

    def append(self, row: Mapping[str, str | float | None]) -> None:
        """As :func:`append_ledger` (the lock is held already)."""
        _append(self.path, row)


@contextlib.contextmanager
def locked_ledger(timeout_s: float = LEDGER_LOCK_TIMEOUT_S) -> Iterator[LockedLedger]:
    """Hold the ledger's lock while the block reads and appends through the :class:`LockedLedger` it is given.
    Raises ``KitError`` as :func:`ledger_lock` does."""
    with ledger_lock(timeout_s) as path:
        yield LockedLedger(path)


def _append(path: Path, row: Mapping[str, str | float | None]) -> None:
    """Append ``row`` to the ledger at ``path``, whose lock the caller holds (see :func:`append_ledger`)."""
    _migrate(path)
    with open(path, "a+b", buffering=0) as raw:
        raw.seek(0)
        first = raw.readline().decode("utf-8", errors="replace")
        columns = next(csv.reader([first])) if first.strip() else list(LEDGER_COLUMNS)
        end_of_line = "\r\n" if first.endswith("\r\n") else "\n"  # the file's own (the kit once wrote CRLF)
        end = raw.seek(0, os.SEEK_END)
        text = io.StringIO()
        if end == 0 or not first.strip():
            text.write(",".join(columns) + end_of_line)
        else:
            raw.seek(end - 1)
            if raw.read(1) != b"\n":  # a last line without its newline (an editor's) would swallow the row
                text.write(end_of_line)
        values = {k: mask("" if row.get(k) is None else str(row.get(k))) for k in columns}
        csv.writer(text, lineterminator=end_of_line).writerow([values[k] for k in columns])
        try:
            write_all(raw, text.getvalue().encode("utf-8"))
            os.fsync(raw.fileno())
        except OSError as exc:
            raise LedgerWriteError(_cut_back(raw, path, end, exc)) from None


def _migrate(path: Path) -> None:
    """Rewrite the ledger at ``path`` (lock held) with a header holding every column of :data:`LEDGER_COLUMNS`
    (columns of its own that the kit does not know are kept after them), every row kept with its new columns
    empty; nothing when the header has them all, or the file is missing or empty. The new file is written beside
    it, synced, and put in its place in one rename, so a failure leaves the old file as it was; raises
    :class:`LedgerWriteError` then."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            first = handle.readline()
            if not first.strip() or set(LEDGER_COLUMNS) <= set(next(csv.reader([first]))):
                return
            handle.seek(0)
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        return
    except (OSError, UnicodeDecodeError) as exc:
        raise LedgerWriteError(f"{path}: could not be read to add the new columns to its header ({exc}); nothing "
                               f"was recorded") from None
    header = rows[0]
    columns = [*LEDGER_COLUMNS, *(c for c in header if c not in LEDGER_COLUMNS)]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n" if first.endswith("\r\n") else "\n")
    writer.writerow(columns)
    for values in rows[1:]:
        if values:
            record = dict(zip(header, values))
            writer.writerow([record.get(c, "") for c in columns])
    fresh = path.with_name(f".{path.name}.new")
    try:
        with open(fresh, "wb", buffering=0) as raw:
            write_all(raw, text.getvalue().encode("utf-8"))
            os.fsync(raw.fileno())
        os.replace(fresh, path)
    except OSError as exc:
        fresh.unlink(missing_ok=True)
        raise LedgerWriteError(f"{path}: its header could not be rewritten with the new columns "
                               f"({exc.strerror or exc}); the file is as it was and nothing was recorded") from None


def _cut_back(raw: io.RawIOBase, path: Path, end: int, exc: OSError) -> str:
    """Truncate the ledger back to ``end`` after the failed write ``exc``; the one-line message to raise."""
    reason = exc.strerror or str(exc)
    try:
        os.ftruncate(raw.fileno(), end)
        os.fsync(raw.fileno())
    except OSError as again:
        return (f"{path}: the row could not be written ({reason}), and cutting the file back to {end} bytes failed "
                f"too ({again.strerror or again}): remove the partial last line by hand; nothing was recorded")
    return f"{path}: the row could not be written ({reason}); nothing was recorded"


def read_ledger(events: bool = False) -> pd.DataFrame:
    """The ledger: one row per submission in its latest state, in the order they were recorded (``events``:
    every row as written). Columns missing from an older file are empty; the frame is empty (with its columns)
    when nothing was submitted.

    The rows of one submission share its :data:`SUBMISSION_KEY` (``time``, ``file``, ``sha256``); the last one
    gives its upload state (an ``uploading`` row settled as ``uploaded``, ``failed`` or ``unknown``), and the
    platform's verdict (:data:`PLATFORM_COLUMNS`) and id are those of the last row that has them.
    """
    return _read(ledger_path(), events)


def _read(path: Path, events: bool) -> pd.DataFrame:
    """:func:`read_ledger` of the file at ``path``."""
    if not path.is_file() or not path.stat().st_size:
        return pd.DataFrame(columns=list(LEDGER_COLUMNS))
    frame = pd.read_csv(path, dtype=str, keep_default_na=False).fillna("")  # old rows lack new columns
    frame = frame.reindex(columns=list(dict.fromkeys([*LEDGER_COLUMNS, *frame.columns])), fill_value="")
    frame["status_time"] = frame["status_time"].where(frame["status_time"] != "", frame["time"])
    if events:
        return frame
    records: list[dict] = []
    where: dict[tuple, int] = {}  # submission key -> its place in records
    for record in frame.to_dict("records"):
        key = tuple(record[c] for c in SUBMISSION_KEY)
        if key not in where:
            where[key] = len(records)
            records.append(record)
            continue
        earlier = records[where[key]]
        if not record["platform_status"]:  # an upload's row says nothing of the verdict read before it
            record.update({c: earlier[c] for c in PLATFORM_COLUMNS})
        record["platform_id"] = record["platform_id"] or earlier["platform_id"]
        records[where[key]] = record
    return pd.DataFrame(records, columns=frame.columns)
