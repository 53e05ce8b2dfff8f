"""Kaggle code competitions in the ledger: a pushed kernel version, and its submission.

On Kaggle a code competition scores the file a notebook writes while it runs there; a kernel version becomes a
submission only through ``CreateCodeSubmission`` (the client's ``competition_submit_code``).

- :func:`record_push`: ``kit kernel --push`` records the version it pushed, a ``kernel_pushed`` row: ``file`` is the
  bundle's notebook (the code file pushed) with its sha256, ``run_id`` the run whose checkpoints the bundle
  attaches (the kernel predicts with its fold models, so that run's CV is the kernel's), ``kernel`` the kernel's
  ``owner/slug`` and ``kernel_version`` the version Kaggle saved.
- :func:`submit_kernel`: ``kit kernel --push --submit`` and ``kit submit --kernel SLUG --version N``: the upload
  rule (a kernel with ``smoke`` baked in, or predicting with the checkpoints of a run unfit to hand in, is refused
  unless ``force``), then :func:`kitlib.uploads.record_upload` around ``CreateCodeSubmission`` (the day's limit,
  ``uploading``, settled with the ref Kaggle gives); never retried. ``kit lb`` reads it as it reads a file's
  upload (a row without a ref is matched by the competition's submission file name, what the kernel writes).
"""
from __future__ import annotations

import json
from pathlib import Path

from .competitions import Competition, get_competition
from .data import file_sha256
from .errors import DataError, ParameterError, UploadError
from .ledger import LEDGER_COLUMNS, append_ledger, read_ledger
from .masking import mask
from .provenance import Concern, marks, refusal, run_concerns, run_is_ok
from .runtime import runs_dir
from .uploads import now_iso, record_upload


def kernel_ref(kernel: str) -> str:
    """``owner/slug`` for ``kernel`` given as that or as a slug alone (the owner: the configured Kaggle user).
    Raises ``ParameterError`` when it is neither or no user is configured."""
    parts = str(kernel).strip().split("/")
    if len(parts) == 2 and all(parts):
        return "/".join(parts)
    if len(parts) == 1 and parts[0]:
        from .platforms.kaggle_push import kaggle_username

        owner = kaggle_username()
        if owner:
            return f"{owner}/{parts[0]}"
        raise ParameterError(f"kernel {kernel!r}: give it as OWNER/SLUG (no Kaggle user name is configured)")
    raise ParameterError(f"kernel {kernel!r}: expected OWNER/SLUG or SLUG")


def _bundle_run(bundle: Path) -> dict:
    """The manifest of the run whose checkpoints ``bundle`` attaches (its ``bundle.json``), ``{}`` for none."""
    from .run import read_manifest

    try:
        record = json.loads((bundle / "bundle.json").read_text())
    except (OSError, ValueError):
        return {}
    for att in record.get("datasets", []) if isinstance(record, dict) else []:
        if isinstance(att, dict) and att.get("role") == "checkpoints":
            source = Path(str(att.get("source")))
            try:
                return read_manifest(source.parent if source.name == "checkpoints" else source)
            except DataError:
                return {}
    return {}


def _concerns(comp: Competition, notebook: str, run_id: str) -> list[Concern]:
    """Why a kernel should not be submitted: ``smoke`` baked into its ``notebook``, and the concerns of the run
    whose checkpoints it predicts with (:func:`kitlib.provenance.run_concerns`)."""
    from .run import read_manifest

    found = []
    try:
        params = json.loads(Path(notebook).read_text())["metadata"]["papermill"]["parameters"]
    except (OSError, ValueError, KeyError, TypeError):
        params = {}
    if isinstance(params, dict) and params.get("smoke"):
        found.append(Concern("smoke", f"the kernel {Path(notebook).name} has smoke=True baked in"))
    try:
        manifest = read_manifest(runs_dir() / run_id) if run_id else {}
    except DataError:
        manifest = {"run_id": run_id, "status": "unreadable"}
    found += [c for c in run_concerns(manifest, comp) if c.kind not in {f.kind for f in found}]
    return found


def record_push(competition: str | Competition, bundle: str | Path, ref: str, version: int | None,
                message: str = "") -> dict:
    """Append the ``kernel_pushed`` row of version ``version`` of kernel ``ref`` (``owner/slug``) built in
    ``bundle`` (see the module docstring); return it. Raises ``LedgerWriteError`` when it cannot be written."""
    comp = get_competition(competition)
    bundle = Path(bundle)
    notebook = bundle / f"{comp.name}.ipynb"
    run = _bundle_run(bundle)
    run_id = str(run.get("run_id") or "")
    tags = marks(_concerns(comp, str(notebook), run_id), False)
    now = now_iso()
    row = {**dict.fromkeys(LEDGER_COLUMNS, ""), "time": now, "competition": comp.name, "file": str(notebook),
           "sha256": file_sha256(notebook) if notebook.is_file() else "", "run_id": run_id,
           "score": run.get("score") if run_is_ok(run) else "", "message": mask(" ".join([*tags, message]).strip()),
           "upload_status": "kernel_pushed", "status_time": now, "kernel": ref,
           "kernel_version": "" if version is None else str(version)}
    append_ledger(row)
    return row


def latest_push(kernel: str, version: int | None = None) -> dict | None:
    """The ledger's latest ``kernel_pushed`` row of ``kernel`` (``owner/slug``), of ``version`` when given."""
    frame = read_ledger()
    if frame.empty:
        return None
    rows = frame[(frame["upload_status"] == "kernel_pushed") & (frame["kernel"] == kernel)]
    if version is not None:
        rows = rows[rows["kernel_version"] == str(version)]
    return rows.iloc[-1].to_dict() if len(rows) else None


def submit_kernel(kernel: str, version: int | None = None, competition: str | Competition | None = None, *,
                  message: str = "", force: bool = False, timeout_s: float | None = None) -> dict:
    """Submit version ``version`` of ``kernel`` (``owner/slug`` or a slug of the configured user) to its code
    competition; return the settled ledger row (see the module docstring).

    ``version`` defaults to the latest one the ledger records as pushed; ``competition`` to the one it was pushed
    for. Raises ``ParameterError`` when either cannot be known or the competition is not a Kaggle code competition;
    ``UploadError`` (nothing recorded or sent) when the upload rule or the day's limit refuses it; what
    :func:`kitlib.uploads.record_upload` raises when the call fails.
    """
    from .platforms.kaggle_submissions import submit_kernel_version
    from .runtime import upload_timeout_s

    ref = kernel_ref(kernel)
    pushed = latest_push(ref, version)
    if version is None and pushed is None:
        raise ParameterError(f"no version of kernel {ref} is recorded as pushed (kit kernel --push); give --version N")
    if version is None:
        version = int(pushed["kernel_version"])
    name = competition if competition is not None else (pushed or {}).get("competition")
    if not name:
        raise ParameterError(f"which competition is kernel {ref} for? Give --competition NAME")
    comp = get_competition(name)
    if comp.platform != "kaggle" or not comp.code_competition:
        raise ParameterError(f"{comp.name} is not a Kaggle code competition; upload its file with `kit submit RUN "
                             f"--upload`")
    limit = upload_timeout_s(timeout_s)
    pushed = pushed or {}
    what = f"kernel {ref} version {version}"
    concerns = _concerns(comp, pushed.get("file", ""), pushed.get("run_id", ""))
    if concerns and not force:
        raise UploadError(refusal(Path(what), concerns).replace("--force (in a notebook: force_submit=True)",
                                                                "--force (kit submit --kernel ... --force)"))
    now = now_iso()
    row = {**dict.fromkeys(LEDGER_COLUMNS, ""), "time": now, "competition": comp.name,
           "file": pushed.get("file") or ref, "sha256": pushed.get("sha256", ""), "run_id": pushed.get("run_id", ""),
           "score": pushed.get("score", ""),
           "message": mask(" ".join([*marks(concerns, True), message]).strip()), "upload_status": "not uploaded",
           "status_time": now, "kernel": ref, "kernel_version": str(version)}
    return record_upload(row, comp, lambda: submit_kernel_version(comp.slug, ref, version, comp.submission.file_name,
                                                                  message, timeout_s=limit), what)
