"""Submissions: write, validate against the competition's spec, record in the ledger, upload.

A file that fails validation is never uploaded. A file some run wrote (found by the path its manifest records,
or its copy in the run folder) is checked against the run's sha256 and credited to the run: its competition,
data folder, id and score; an edited file is refused (with ``force``: recorded as edited, without the score).
Which runs may be uploaded is :mod:`kitlib.provenance`'s rule (smoke runs, demo data and runs that are not ok are
refused unless forced). Every accepted submission is appended to the ledger (:mod:`kitlib.ledger`,
``submissions/ledger.csv``); an upload goes through :func:`kitlib.uploads.record_upload`: the day's limit checked,
recorded ``uploading`` before the client is called, then settled by a further row, ``uploaded``, ``failed``
(raises ``UploadError``) or ``unknown`` (raises ``UploadUnknown``: the platform may have it), each with the
platform's answer or the reason.

Does not import the training code (data flows one way).
"""
from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .competitions import Competition, get_competition
from .data import file_sha256, read_csv
from .errors import DataError, SubmissionError, UploadError
from .ledger import (  # noqa: F401 (re-exported)
    LEDGER_COLUMNS,
    LEDGER_LOCK_TIMEOUT_S,
    SUBMISSION_KEY,
    UPLOAD_STATUSES,
    LedgerWriteError,
    append_ledger,
    ledger_lock,
    ledger_path,
    read_ledger,
)
from .masking import mask
from .provenance import marks, refusal, resolve_target, run_concerns, run_is_ok, run_of_file  # noqa: F401 (re-exported)
from .runtime import kaggle_output_path, submissions_dir, upload_timeout_s
from .uploads import now_iso, record_upload, settled

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
                bad = tokens.map(lambda t, k=k, allowed=allowed: len(t) > k or not set(t) <= set(allowed)).to_numpy(
                    dtype=bool)
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


def write_submission(obj: pd.DataFrame | str | bytes, competition: str | Competition, *, run=None,
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


# ------------------------------------------------------------------------------------- submit
def submit(target: str, competition: str | Competition | None = None, *, message: str = "", upload: bool = False,
           data_dir: str | Path | None = None, force: bool = False, timeout_s: float | None = None) -> dict:
    """Validate a submission (file or run id), append it to the ledger and optionally upload it.

    ``competition`` is a name or a :class:`Competition`. ``data_dir`` (where the sample submission is) defaults to
    the data folder of the run that wrote the file, else the competition's recorded data folder, else its demo set.
    A file edited after its run is refused unless ``force`` (then recorded as edited: the run id kept, no score,
    the message marked ``[edited]``).

    The upload rule (:mod:`kitlib.provenance`): an upload of a smoke run, a run on the demo data, a run whose status
    is not ``ok`` (a notebook's upload of its own run from inside it counts as ``ok``), or a blend or import with
    such an input, is refused before the ledger and any platform call unless ``force``; the row's message then
    starts ``[smoke]``/``[demo]``/``[forced]``. Recording such a run without uploading is allowed, with a warning,
    marked the same way (``[<status>]`` for a run that is not ok) and without the run's score unless the run is ok.

    With ``upload``, the time limit (``timeout_s``, else ``KIT_UPLOAD_TIMEOUT_S``) is checked first; then the day's
    limit (:func:`kitlib.uploads.record_upload`: refused with ``UploadError``, nothing recorded or sent, when it is
    reached), and the submission is recorded ``uploading`` before the platform's client is called (each of its
    calls limited to it, see :func:`kitlib.platforms.upload`), then settled by another row. Returns the ledger row
    (the settled one).
    Raises ``SubmissionError`` (nothing recorded, nothing uploaded) for an invalid or edited file: a refusal names
    the sample it compared against and, when the data folder was a guess, says to pass ``--data-dir``;
    ``ParameterError`` for a bad time limit and ``UploadError`` for a refused upload (nothing recorded or sent);
    ``LedgerWriteError`` when the ledger cannot be written (nothing recorded); ``UploadError`` after recording
    ``failed`` when the upload failed; ``UploadUnknown`` after recording ``unknown`` when it ended without a clear
    answer (Ctrl-C, SIGTERM and SIGHUP included).
    """
    path, comp_name, run_id, manifest = resolve_target(target, competition, force)
    comp = get_competition(comp_name)
    limit = upload_timeout_s(timeout_s) if upload else None  # a bad limit is refused before anything is recorded
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
    if upload and comp.code_competition:  # never uploaded: refused before the ledger and any client
        raise UploadError(comp.code_competition_refusal(path))
    concerns = run_concerns(manifest, comp)
    if upload and concerns and not force:
        raise UploadError(refusal(path, concerns))
    if concerns and not upload:
        unscored = "" if run_is_ok(manifest) else " without the run's score"
        warnings.warn(f"{'; '.join(c.reason for c in concerns)}: recorded as {' '.join(marks(concerns, False))}"
                      f"{unscored}", UserWarning, stacklevel=2)
    edited = bool(manifest.get("edited"))
    tags = (["[edited]"] if edited else []) + marks(concerns, upload)
    now = now_iso()
    row = {**dict.fromkeys(LEDGER_COLUMNS, ""), "time": now, "competition": comp.name, "file": str(path),
           "sha256": file_sha256(path), "run_id": run_id,
           "score": manifest.get("score") if run_is_ok(manifest) and not edited else None,
           "message": mask(" ".join([*tags, message]).strip()), "upload_status": "not uploaded", "status_time": now}
    if not upload:
        append_ledger(row)
        return row
    if comp.platform == "local":
        raise settled(row, "failed", UploadError(f"{comp.name} has no upload client; hand in {path} on the "
                                                 f"competition's site"))
    return record_upload(row, comp, lambda: upload_file(path, comp, message, timeout_s=limit), str(path))


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


def upload(path: str | Path, competition: str | Competition, message: str = "", data_dir: str | Path | None = None,
           timeout_s: float | None = None, force: bool = False) -> dict:
    """Validate, record and upload ``path`` (what a notebook calls when its ``submit`` parameter is on); ``force``
    is the notebook's ``force_submit``: upload a smoke or demo-data run anyway (see :func:`submit`).

    For a competition without an upload client (``local``) and a Kaggle code competition the file is recorded (not
    uploaded) and where to hand it in is printed (a code competition: ``kit kernel <name> --push``), so the run
    ends ``ok``. Returns the ledger row; raises what :func:`submit` raises."""
    comp = get_competition(competition)
    if comp.platform == "local" or comp.code_competition:
        row = submit(str(path), comp, message=message, upload=False, data_dir=data_dir, force=force)
        print(hand_in_instructions(comp, row["file"]))
        return row
    return submit(str(path), comp, message=message, upload=True, data_dir=data_dir, force=force, timeout_s=timeout_s)


def hand_in_instructions(comp: Competition, path: str | Path) -> str:
    """How to hand in ``path`` for a competition the kit cannot upload to: a code competition's notebook is pushed
    with ``kit kernel``; a local competition's file is handed in on its site."""
    if comp.code_competition:
        return (f"recorded {path} (not uploaded): {comp.name} is a Kaggle code competition, scored from the "
                f"submission.csv its notebook writes on Kaggle; hand it in with `kit kernel {comp.name} --push`")
    return f"recorded {path} (not uploaded): {comp.name} has no upload client; hand in {path} on the competition's site"
