"""The submission ledger: ``submissions/ledger.csv``, an append-only log of events under a file lock.

Every accepted submission is one row (:data:`LEDGER_COLUMNS`); an upload is recorded ``uploading`` before the
platform's client is called and settled by a further row (``uploaded``, ``failed``, ``unknown``).

A row is appended whole or not at all: the end of the file is noted, the row is written, flushed and synced to
disk, and when any of that fails (a full disk, a file-size limit) the file is cut back to the noted end and one
line says that nothing was recorded, so a torn row can never be read back as a submission. Every value is
masked (:func:`kitlib.masking.mask`) before it is written: a platform's answer or a message cannot carry a key
into the file.
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
# the platform's id for the submission. status_time and platform_id came later: older files lack them.
LEDGER_COLUMNS = ("time", "competition", "file", "sha256", "run_id", "score", "message", "upload_status",
                  "platform_message", "status_time", "platform_id")
SUBMISSION_KEY = ("time", "file", "sha256")
UPLOAD_STATUSES = ("not uploaded", "uploading", "uploaded", "failed", "unknown")
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
    or empty.

    The row is written in the file's own columns, so a ledger written before a column was added stays readable
    (the new columns are left out of its rows); every value is masked. Raises :class:`LedgerWriteError` (one
    line, "nothing was recorded") when the row cannot be written whole: the file is then cut back to its end
    before the write.
    """
    with ledger_lock() as path, open(path, "a+b", buffering=0) as raw:
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

    A row that settles an upload (``uploaded``, ``failed``, ``unknown``) replaces the ``uploading`` row of the
    same submission: the one with the same :data:`SUBMISSION_KEY` (``time``, ``file``, ``sha256``).
    """
    path = ledger_path()
    if not path.is_file() or not path.stat().st_size:
        return pd.DataFrame(columns=list(LEDGER_COLUMNS))
    frame = pd.read_csv(path, dtype=str, keep_default_na=False).fillna("")  # old rows lack new columns
    frame = frame.reindex(columns=list(dict.fromkeys([*LEDGER_COLUMNS, *frame.columns])), fill_value="")
    frame["status_time"] = frame["status_time"].where(frame["status_time"] != "", frame["time"])
    if events:
        return frame
    records: list[dict] = []
    open_uploads: dict[tuple, int] = {}  # submission key -> its 'uploading' row in records
    for record in frame.to_dict("records"):
        key = tuple(record[c] for c in SUBMISSION_KEY)
        if key in open_uploads and record["upload_status"] != "uploading":
            records[open_uploads.pop(key)] = record
            continue
        if record["upload_status"] == "uploading":
            open_uploads[key] = len(records)
        records.append(record)
    return pd.DataFrame(records, columns=frame.columns)
