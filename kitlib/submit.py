"""Submissions: write, validate against the competition's spec, keep the ledger, upload.

A file that fails validation is never uploaded. A file some run wrote (found by the path its manifest records,
or its copy in the run folder) is checked against the run's sha256 and credited to the run: its competition,
data folder, id and score; an edited file is refused (with ``force``: recorded as edited, without the score).
Every accepted submission is appended to ``submissions/ledger.csv``, an append-only log of events under a file lock
(:data:`LEDGER_COLUMNS`): an upload is recorded ``uploading`` before the client is called, then settled by a
further row, ``uploaded``, ``failed`` (raises ``UploadError``) or ``unknown`` (raises ``UploadUnknown``: the
platform may have it), each with the platform's answer or the reason.

Does not import the training code (data flows one way).
"""
from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from .competitions import Competition, get_competition
from .data import file_sha256, read_csv
from .errors import DataError, KitError, ParameterError, SubmissionError, UploadError
from .platforms.calls import UploadUnknown
from .runtime import kaggle_output_path, runs_dir, submissions_dir

# time: when the submission was recorded; with file and sha256 (SUBMISSION_KEY) it names the submission, and every
# later row of it repeats the three. upload_status: one of UPLOAD_STATUSES, reached at status_time; platform_id:
# the platform's id for the submission. status_time and platform_id came later: older files lack them.
LEDGER_COLUMNS = ("time", "competition", "file", "sha256", "run_id", "score", "message", "upload_status",
                  "platform_message", "status_time", "platform_id")
SUBMISSION_KEY = ("time", "file", "sha256")
UPLOAD_STATUSES = ("not uploaded", "uploading", "uploaded", "failed", "unknown")
LEDGER_LOCK_TIMEOUT_S = 60.0
SHOW_ROWS = 5  # offending rows named in an error


def _rows(mask, limit: int = SHOW_ROWS) -> str:
    rows = [int(i) + 1 for i in list(mask.nonzero()[0])[:limit]]
    more = int(mask.sum()) - len(rows)
    return ", ".join(map(str, rows)) + (f" (and {more} more)" if more > 0 else "")


def validate_submission(path: str | Path, competition: str | Competition, data_dir: str | Path | None) -> None:
    """Check ``path`` against the competition's spec; raise ``SubmissionError`` naming the problem.

    For CSV specs: readable CSV, exact columns in order, no missing values, allowed values, and with a
    sample submission in ``data_dir``: the same row count and the key columns (ids; for Sentiment
    Classification the ``embeddings`` text) equal to the sample's, row by row. Then the competition's own
    ``check(path, data_dir)`` if it has one. Rows are numbered from 1 (the header is not a row).
    """
    comp = get_competition(competition) if isinstance(competition, str) else competition
    spec, path = comp.submission, Path(path)
    name = path.name
    if not path.is_file():
        raise SubmissionError(f"{path}: file not found")
    if spec.columns:
        try:
            frame = read_csv(path, dtype=str, keep_default_na=False)
        except DataError as exc:  # names the file; a binary file's bytes are never quoted back
            raise SubmissionError(f"not a readable CSV file: {exc}") from None
        if tuple(frame.columns) != spec.columns:
            shown = [c if len(c) <= 40 else c[:37] + "..." for c in map(str, frame.columns)][:12]
            raise SubmissionError(f"{name}: columns {shown}; expected {list(spec.columns)}")
        for column in spec.columns:
            empty = (frame[column].str.strip() == "").to_numpy()
            if empty.any():
                raise SubmissionError(f"{name}: column {column!r} is empty in row(s) {_rows(empty)}")
        for column, allowed in spec.allowed.items():
            if column in spec.ranked:
                tokens = frame[column].str.split()
                k = spec.ranked[column]
                bad = tokens.map(lambda t: len(t) > k or not set(t) <= set(allowed)).to_numpy(dtype=bool)
                what = f"is not up to {k} space-separated values of"
            else:
                bad = (~frame[column].isin(allowed)).to_numpy()
                what = "is not one of"
            if bad.any():
                first = frame[column].iloc[int(bad.argmax())]
                raise SubmissionError(f"{name}: column {column!r}: {first!r} in row(s) {_rows(bad)} {what} "
                                      f"{list(allowed)}")
        for column, (low, high) in spec.ranges.items():
            values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
            with np.errstate(invalid="ignore"):
                bad = ~np.isfinite(values) | (values < low) | (values > high)
            if bad.any():
                first = frame[column].iloc[int(bad.argmax())]
                raise SubmissionError(f"{name}: column {column!r}: {first!r} in row(s) {_rows(bad)} is not a number "
                                      f"in [{low:g}, {high:g}]")
        if spec.sample and data_dir is not None:
            sample_path = Path(data_dir) / spec.sample
            if not sample_path.is_file():
                raise SubmissionError(f"cannot check {name}: {sample_path} not found (pass the competition's data dir)")
            sample = pd.read_csv(sample_path, dtype=str, keep_default_na=False)
            _same_keys(frame, {c: sample[c].to_numpy() for c in spec.key}, name, spec.sample, "the sample's")
        elif spec.expected_key is not None and data_dir is not None:
            expected = np.asarray(spec.expected_key(Path(data_dir)), dtype=object)
            _same_keys(frame, {spec.key[0]: expected}, name, f"the test files of {data_dir}", "the test files'")
    if spec.check is not None:
        spec.check(path, Path(data_dir) if data_dir is not None else None)


def _same_keys(frame: pd.DataFrame, expected: dict[str, np.ndarray], name: str, source: str, whose: str) -> None:
    """The rows of ``frame`` must hold exactly the ``expected`` key values, in their order: no row missing,
    added, repeated or moved. ``source`` names what the keys come from, ``whose`` its rows in the message."""
    n = len(next(iter(expected.values()))) if expected else len(frame)
    if len(frame) != n:
        raise SubmissionError(f"{name}: {len(frame)} rows; {source} has {n}")
    for column, values in expected.items():
        got = frame[column].to_numpy()
        differ = got != values.astype(str)
        if differ.any():
            repeated = frame[column].duplicated(keep="first").to_numpy()
            extra = f"; {int(repeated.sum())} repeated value(s), first in row {int(repeated.argmax()) + 1}" \
                if repeated.any() else ""
            raise SubmissionError(f"{name}: column {column!r} differs from {source} in row(s) {_rows(differ)}"
                                  f"{extra}; rows must match {whose}, in its order")


def write_submission(obj: pd.DataFrame | str | bytes, competition: str, *, run=None,
                     data_dir: str | Path | None = None) -> Path:
    """Write a submission (a DataFrame, the file's text for non-CSV formats, or its bytes: SOMD's zip),
    validate it, record it.

    The file goes to ``submissions/<competition>/<run-id><suffix>`` (``<competition>/latest`` without a
    run) and a copy into the run folder; on Kaggle also to ``/kaggle/working/<file name>``. Returns the
    path. Raises ``SubmissionError`` (and keeps the file for inspection) when it does not validate.
    """
    comp = get_competition(competition)
    suffix = Path(comp.submission.file_name).suffix
    out = submissions_dir() / comp.name / f"{run.id if run is not None else 'latest'}{suffix}"
    out.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(obj, pd.DataFrame):
        obj.to_csv(out, index=False, lineterminator="\n")
    elif isinstance(obj, bytes):
        out.write_bytes(obj)
    else:
        out.write_text(obj)
    validate_submission(out, comp, data_dir)
    if run is not None:
        shutil.copyfile(out, Path(run.dir) / comp.submission.file_name)
        run.log_submission(out)
    kaggle_copy = kaggle_output_path(comp.submission.file_name)
    if kaggle_copy is not None:
        shutil.copyfile(out, kaggle_copy)
    return out


# ------------------------------------------------------------------------------------- ledger
def ledger_path() -> Path:
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


def append_ledger(**row: str | float | None) -> None:
    """Append one row to the ledger, under its lock; the header is written when the file is new or empty.

    The row is written in the file's own columns, so a ledger written before a column was added stays readable
    (the new columns are left out of its rows).
    """
    with ledger_lock() as path, open(path, "a+b") as raw:
        raw.seek(0)
        first = raw.readline().decode("utf-8", errors="replace")
        columns = next(csv.reader([first])) if first.strip() else list(LEDGER_COLUMNS)
        end = "\r\n" if first.endswith("\r\n") else "\n"  # the file's own (the kit once wrote CRLF)
        raw.seek(0, os.SEEK_END)
        text = io.StringIO()
        if raw.tell() == 0 or not first.strip():
            text.write(",".join(columns) + end)
        else:
            raw.seek(raw.tell() - 1)
            if raw.read(1) != b"\n":  # a last line without its newline (an editor's) would swallow the row
                text.write(end)
        values = {k: ("" if row.get(k) is None else row.get(k)) for k in columns}
        csv.writer(text, lineterminator=end).writerow([values[k] for k in columns])
        raw.write(text.getvalue().encode("utf-8"))


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


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


# ------------------------------------------------------------------------------------- submit
def run_of_file(path: str | Path) -> dict | None:
    """The manifest of the run that wrote ``path`` (its recorded submission path, or its copy in the run folder),
    found by scanning the runs folder; ``None`` when no run did."""
    from .run import read_manifest

    target = Path(path).resolve()
    try:
        manifest = read_manifest(target.parent)  # the copy write_submission keeps in the run folder
    except ValueError:
        manifest = {}
    if (manifest.get("submission") or {}).get("path"):
        try:
            if target.name == get_competition(manifest.get("competition") or "").submission.file_name:
                return manifest
        except ParameterError:
            pass
    folder = runs_dir()
    for manifest_path in sorted(folder.glob("*/manifest.json")) if folder.is_dir() else []:
        try:
            manifest = read_manifest(manifest_path.parent)
        except ValueError:
            continue
        recorded = (manifest.get("submission") or {}).get("path")
        if recorded and Path(recorded).resolve() == target:
            return manifest
    return None


def resolve_target(target: str, competition: str | None, force: bool = False) -> tuple[Path, str, str | None, dict]:
    """``(file, competition, run id, manifest)`` for a file path or a run id (or run folder).

    A file some run wrote belongs to that run (:func:`run_of_file`). The manifest comes back with ``edited``
    set when the file's sha256 differs from the run's and ``force`` lets it through. Raises ``SubmissionError``
    when the target is neither, a file of no run comes without a competition, the competition differs from the
    run's, the run wrote no submission, or the file was edited after the run (without ``force``).
    """
    from .run import read_manifest

    path = Path(target)
    if path.is_file():
        manifest = run_of_file(path)
        if manifest is None:
            if competition is None:
                raise SubmissionError(f"{target}: no run in {runs_dir()} wrote this file; say which competition it is "
                                      f"for (--competition NAME)")
            return path, competition, None, {}
    else:
        run_dir = path if path.is_dir() else runs_dir() / target
        manifest = read_manifest(run_dir)
        if not manifest:
            raise SubmissionError(f"{target!r} is neither a file nor a run id (no manifest in {run_dir})")
        if not (manifest.get("submission") or {}).get("path"):
            raise SubmissionError(f"run {manifest.get('run_id', target)} wrote no submission")
        path = Path(manifest["submission"]["path"])
    run_id, recorded = manifest.get("run_id"), manifest["submission"]
    if competition and competition != manifest.get("competition"):
        raise SubmissionError(f"{path} was written by run {run_id} for {manifest.get('competition')!r}, "
                              f"not {competition!r}")
    if path.is_file() and file_sha256(path) != recorded.get("sha256"):
        if not force:
            raise SubmissionError(f"{path} was written by run {run_id} (sha256 {str(recorded.get('sha256'))[:12]}) but "
                                  f"has changed since (sha256 {file_sha256(path)[:12]}): it was edited; pass --force to "
                                  f"submit it as edited, recorded without the run's score")
        manifest = {**manifest, "edited": True}
    return path, manifest["competition"], run_id, manifest


def submit(target: str, competition: str | None = None, *, message: str = "", upload: bool = False,
           data_dir: str | Path | None = None, force: bool = False, timeout_s: float | None = None) -> dict:
    """Validate a submission (file or run id), append it to the ledger and optionally upload it.

    ``data_dir`` (where the sample submission is) defaults to the data folder of the run that wrote the file,
    else the competition's recorded data folder, else its demo set. A file edited after its run is refused
    unless ``force`` (then recorded as edited: the run id kept, no score, the message marked ``[edited]``).
    With ``upload``, the submission is recorded ``uploading`` before the platform's client is called (each of
    its calls limited to ``timeout_s``, see :func:`kitlib.platforms.upload`), then settled by another row.
    Returns the ledger row (the settled one). Raises ``SubmissionError`` (nothing recorded, nothing uploaded)
    for an invalid or edited file: a refusal names the sample it compared against and, when the data folder was
    a guess, says to pass ``--data-dir``; ``UploadError`` after recording ``failed`` when the upload failed;
    ``UploadUnknown`` after recording ``unknown`` when it ended without a clear answer (Ctrl-C included).
    """
    path, comp_name, run_id, manifest = resolve_target(target, competition, force)
    comp = get_competition(comp_name)
    guessed = data_dir is None and not manifest.get("data_dir") and not comp.data_dir
    if data_dir is None:
        data_dir = manifest.get("data_dir") or comp.default_data_dir
    try:
        validate_submission(path, comp, data_dir)
    except SubmissionError as exc:
        sample = f"; compared against {Path(data_dir) / comp.submission.sample}" if comp.submission.sample else ""
        hint = (f" (the {comp.name} demo set: no data folder was given; pass --data-dir with the competition's files)"
                if guessed else "")
        raise SubmissionError(f"{exc}{sample}{hint}") from None
    if comp.submission.pack is not None:  # the platform's upload format, e.g. SOMD's zip
        print(f"packed for upload: {comp.submission.pack(path)}")
    edited = bool(manifest.get("edited"))
    now = _now()
    row = {"time": now, "competition": comp.name, "file": str(path), "sha256": file_sha256(path), "run_id": run_id,
           "score": None if edited else manifest.get("score"),
           "message": f"[edited] {message}".strip() if edited else message, "upload_status": "not uploaded",
           "platform_message": "", "status_time": now, "platform_id": ""}
    if upload and comp.code_competition:  # never uploaded: refused before the ledger and any client
        raise UploadError(comp.code_competition_refusal(path))
    if not upload:
        append_ledger(**row)
        return row
    if comp.platform == "local":
        raise _settled(row, "failed", UploadError(f"{comp.name} has no upload client; hand in {path} on the "
                                                  f"competition's site"))
    append_ledger(**{**row, "upload_status": "uploading"})
    unknown = f"whether {comp.platform} has the submission is unknown; check before submitting again"
    try:
        result = upload_file(path, comp, message, timeout_s=timeout_s)
    except UploadUnknown as exc:
        raise _settled(row, "unknown", exc)
    except KitError as exc:  # a refusal, or nothing could be sent (no credentials, no client installed)
        raise _settled(row, "failed", exc)
    except KeyboardInterrupt:  # between two client calls (during one, the platform module says which)
        raise _settled(row, "unknown", UploadUnknown(f"upload of {path} interrupted (Ctrl-C): {unknown}")) from None
    except Exception as exc:  # noqa: BLE001 - the platform modules turn client errors into UploadError: a slip
        raise _settled(row, "unknown", UploadUnknown(f"upload of {path} ended with {type(exc).__name__}: {exc}: "
                                                     f"{unknown}")) from exc
    settled = {**row, "upload_status": "uploaded", "platform_message": result.message[:500], "status_time": _now(),
               "platform_id": result.submission_id or ""}
    append_ledger(**settled)
    return settled


def _settled(row: dict, status: str, error: KitError) -> KitError:
    """Append the row that settles ``row`` as ``status`` with ``error``'s message; return ``error`` (to raise)."""
    append_ledger(**{**row, "upload_status": status, "platform_message": str(error)[:500], "status_time": _now()})
    return error


def upload_file(path: str | Path, competition: str | Competition, message: str = "", timeout_s: float | None = None):
    """Upload an already validated file through the competition's platform client (see
    :func:`kitlib.platforms.upload`; ``timeout_s`` limits each client call).

    Raises ``UploadError`` for a competition with no upload client (it names the file to hand in).
    """
    from . import platforms

    comp = get_competition(competition) if isinstance(competition, str) else competition
    if comp.platform == "local":
        raise UploadError(f"{comp.name} has no upload client; hand in {path} on the competition's site")
    if comp.code_competition:
        raise UploadError(comp.code_competition_refusal(path))
    return platforms.upload(comp.platform, Path(path), comp.slug, message, timeout_s=timeout_s)


def upload(path: str | Path, competition: str, message: str = "", data_dir: str | Path | None = None,
           timeout_s: float | None = None) -> dict:
    """Validate, record and upload ``path`` (what a notebook calls when its ``submit`` parameter is on)."""
    return submit(str(path), competition, message=message, upload=True, data_dir=data_dir, timeout_s=timeout_s)
