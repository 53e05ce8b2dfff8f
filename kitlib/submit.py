"""Submissions: write, validate against the competition's spec, keep the ledger, upload.

A file that fails validation is never uploaded. Every accepted submission is appended to
``submissions/ledger.csv`` (``time, competition, file, sha256, run_id, score, message, upload_status,
platform_message``); a failed upload is recorded as ``failed`` and raises ``UploadError``.

Does not import the training code (data flows one way).
"""
from __future__ import annotations

import csv
import datetime as _dt
import os
import shutil
from pathlib import Path

import pandas as pd

from .competitions import ROOT, Competition, get_competition
from .data import file_sha256
from .errors import SubmissionError, UploadError
from .runtime import kaggle_output_path

LEDGER_COLUMNS = ("time", "competition", "file", "sha256", "run_id", "score", "message", "upload_status",
                  "platform_message")
SHOW_ROWS = 5  # offending rows named in an error


def submissions_dir() -> Path:
    """``$KIT_SUBMISSIONS_DIR`` or ``submissions/`` in the project."""
    return Path(os.environ.get("KIT_SUBMISSIONS_DIR", ROOT / "submissions"))


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
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise SubmissionError(f"{name}: not a readable CSV file: {exc}") from None
        if tuple(frame.columns) != spec.columns:
            raise SubmissionError(f"{name}: columns {list(frame.columns)}; expected {list(spec.columns)}")
        for column in spec.columns:
            empty = (frame[column].str.strip() == "").to_numpy()
            if empty.any():
                raise SubmissionError(f"{name}: column {column!r} is empty in row(s) {_rows(empty)}")
        for column, allowed in spec.allowed.items():
            bad = (~frame[column].isin(allowed)).to_numpy()
            if bad.any():
                first = frame[column].iloc[int(bad.argmax())]
                raise SubmissionError(f"{name}: column {column!r}: {first!r} in row(s) {_rows(bad)} is not one of "
                                      f"{list(allowed)}")
        if spec.sample and data_dir is not None:
            sample_path = Path(data_dir) / spec.sample
            if not sample_path.is_file():
                raise SubmissionError(f"cannot check {name}: {sample_path} not found (pass the competition's data dir)")
            sample = pd.read_csv(sample_path, dtype=str, keep_default_na=False)
            if len(frame) != len(sample):
                raise SubmissionError(f"{name}: {len(frame)} rows; {spec.sample} has {len(sample)}")
            for column in spec.key:
                differ = (frame[column].to_numpy() != sample[column].to_numpy())
                if differ.any():
                    raise SubmissionError(f"{name}: column {column!r} differs from {spec.sample} in row(s) "
                                          f"{_rows(differ)}; rows must match the sample's, in its order")
    if spec.check is not None:
        spec.check(path, Path(data_dir) if data_dir is not None else None)


def write_submission(obj: pd.DataFrame | str, competition: str, *, run=None,
                     data_dir: str | Path | None = None) -> Path:
    """Write a submission (a DataFrame, or the file's text for non-CSV formats), validate it, record it.

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


def append_ledger(**row: str | float | None) -> None:
    """Append one row to the ledger (created with its header on first use)."""
    path = ledger_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.is_file()
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=LEDGER_COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in LEDGER_COLUMNS})


def read_ledger() -> pd.DataFrame:
    """The ledger as a DataFrame (empty with its columns when nothing was submitted)."""
    path = ledger_path()
    return pd.read_csv(path, dtype=str, keep_default_na=False) if path.is_file() else pd.DataFrame(
        columns=list(LEDGER_COLUMNS))


# ------------------------------------------------------------------------------------- submit
def resolve_target(target: str, competition: str | None) -> tuple[Path, str, str | None, dict]:
    """``(file, competition, run id, manifest)`` for a file path or a run id.

    Raises ``SubmissionError`` when the target is neither, or the run wrote no submission.
    """
    from .run import read_manifest, runs_dir

    path = Path(target)
    if path.is_file():
        if competition is None:
            raise SubmissionError(f"{target}: say which competition it is for (--competition NAME)")
        return path, competition, None, {}
    run_dir = path if path.is_dir() else runs_dir() / target
    manifest = read_manifest(run_dir)
    if not manifest:
        raise SubmissionError(f"{target!r} is neither a file nor a run id (no manifest in {run_dir})")
    sub = (manifest.get("submission") or {}).get("path")
    if not sub:
        raise SubmissionError(f"run {manifest.get('run_id', target)} wrote no submission")
    if competition and competition != manifest.get("competition"):
        raise SubmissionError(f"run {manifest['run_id']} is for {manifest['competition']!r}, not {competition!r}")
    return Path(sub), manifest["competition"], manifest.get("run_id"), manifest


def submit(target: str, competition: str | None = None, *, message: str = "", upload: bool = False,
           data_dir: str | Path | None = None) -> dict:
    """Validate a submission (file or run id), append it to the ledger and optionally upload it.

    ``data_dir`` (where the sample submission is) defaults to the run's data folder, else the demo set.
    Returns the ledger row. Raises ``SubmissionError`` (nothing recorded, nothing uploaded) for an
    invalid file, and ``UploadError`` after recording ``failed`` when the upload fails.
    """
    path, comp_name, run_id, manifest = resolve_target(target, competition)
    comp = get_competition(comp_name)
    if data_dir is None:
        data_dir = manifest.get("data_dir") or comp.demo_dir
    validate_submission(path, comp, data_dir)
    if comp.submission.pack is not None:  # the platform's upload format, e.g. SOMD's zip
        print(f"packed for upload: {comp.submission.pack(path)}")
    row = {"time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "competition": comp.name,
           "file": str(path), "sha256": file_sha256(path), "run_id": run_id, "score": manifest.get("score"),
           "message": message, "upload_status": "not uploaded", "platform_message": ""}
    if not upload:
        append_ledger(**row)
        return row
    try:
        result = upload_file(path, comp, message)
    except UploadError as exc:
        append_ledger(**{**row, "upload_status": "failed", "platform_message": str(exc)[:500]})
        raise
    row.update(upload_status="uploaded", platform_message=result.message[:500])
    append_ledger(**row)
    return row


def upload_file(path: str | Path, competition: str | Competition, message: str = ""):
    """Upload an already validated file through the competition's platform client.

    Raises ``UploadError`` for a competition with no upload client (it names the file to hand in).
    """
    from . import platforms

    comp = get_competition(competition) if isinstance(competition, str) else competition
    if comp.platform == "local":
        raise UploadError(f"{comp.name} has no upload client; hand in {path} on the competition's site")
    return platforms.upload(comp.platform, Path(path), comp.slug, message)


def upload(path: str | Path, competition: str, message: str = "", data_dir: str | Path | None = None) -> dict:
    """Validate, record and upload ``path`` (what a notebook calls when its ``submit`` parameter is on)."""
    return submit(str(path), competition, message=message, upload=True, data_dir=data_dir)
