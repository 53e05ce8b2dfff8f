"""Where a submission comes from, and whether its run may be handed in: the run that wrote a file, and the upload
rule.

:func:`resolve_target` turns what ``kit submit`` was given (a file, a run id, a run folder) into the file, its
competition and the manifest of the run that wrote it. :func:`run_concerns` says why that run's submission is not
fit to spend a submission on:

- ``smoke``: a smoke run (tiny and fast, for tests), or a blend or import with a smoke input;
- ``demo``: a run on the embedded demo data, or a blend or import with such an input;
- ``status``: a run whose status is not ``ok`` (``failed``, ``interrupted``, ``running``), or a blend or import with
  an input that is not ``ok`` or no longer exists. A notebook's submission of its own run, made from inside it while
  it is ``running`` (``kit run``) or ``interactive`` (Jupyter), counts as ``ok``.

:mod:`kitlib.submit` refuses an upload with any concern unless forced, and marks the ledger row (:func:`marks`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .competitions import Competition, competition_name, get_competition
from .data import file_sha256
from .errors import DataError, ParameterError, SubmissionError
from .runtime import runs_dir

LIVE_STATUSES = ("running", "interactive")  # an own run's status while its notebook submits from inside it
MAX_INPUT_DEPTH = 8  # blends of blends are followed this deep


@dataclass(frozen=True)
class Concern:
    """Why a run's submission is not fit for upload: ``kind`` (``smoke``, ``demo`` or ``status``), the reason, and
    for ``status`` the tag a recorded (not uploaded) row gets: the run's own status, or ``unverified`` for an
    input's."""

    kind: str
    reason: str
    tag: str = ""


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


def resolve_target(target: str, competition: str | Competition | None,
                   force: bool = False) -> tuple[Path, str, str | None, dict]:
    """``(file, competition name, run id, manifest)`` for a file path or a run id (or run folder); ``competition``
    is a name or a :class:`Competition`.

    A file some run wrote belongs to that run (:func:`run_of_file`). The manifest comes back with ``edited``
    set when the file's sha256 differs from the run's and ``force`` lets it through. Raises ``SubmissionError``
    when the target is neither, a file of no run comes without a competition, the competition differs from the
    run's, the run wrote no submission, or the file was edited after the run (without ``force``).
    """
    from .run import read_manifest

    competition = competition_name(competition)
    path = Path(target)
    if path.is_file():
        manifest = run_of_file(path)
        if manifest is None:
            if competition is None:
                raise SubmissionError(f"{target}: no run in {runs_dir()} wrote this file; say which competition it is "
                                      f"for (--competition NAME)")
            return path, get_competition(competition).name, None, {}
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
            raise SubmissionError(f"{path} was written by run {run_id} (sha256 {str(recorded.get('sha256'))[:12]}) "
                                  f"but has changed since (sha256 {file_sha256(path)[:12]}): it was edited; pass "
                                  f"--force to submit it as edited, recorded without the run's score")
        manifest = {**manifest, "edited": True}
    return path, manifest["competition"], run_id, manifest


# ------------------------------------------------------------------------------------------- the upload rule
def is_smoke(manifest: dict) -> bool:
    """True for a smoke run: its ``smoke`` parameter (or a ``smoke`` field: blends and imports inherit it)."""
    params = manifest.get("params") if isinstance(manifest.get("params"), dict) else {}
    return bool(params.get("smoke")) or bool(manifest.get("smoke"))


def on_demo_data(manifest: dict, comp: Competition | None = None) -> bool:
    """True for a run on the embedded demo data of its competition: its recorded data folder is the demo folder,
    or (nothing recorded) its ``data_dir`` parameter is empty or ``demo`` for a competition whose empty data folder
    is the demo set, or the manifest says ``demo`` (blends and imports inherit it)."""
    if manifest.get("demo"):
        return True
    try:
        comp = comp or get_competition(manifest.get("competition") or "")
    except ParameterError:
        return False
    params = manifest.get("params") if isinstance(manifest.get("params"), dict) else {}
    folder = manifest.get("data_dir") or params.get("data_dir")
    if folder in (None, "", "demo"):
        return "data_dir" in params and (folder == "demo" or not comp.data_dir)
    try:
        return Path(str(folder)).resolve() == comp.demo_dir.resolve()
    except (OSError, ValueError):
        return False


def own_live_run(manifest: dict) -> bool:
    """True when this process is the notebook of the run ``manifest`` describes, still running: ``kit run``'s kernel
    (``KIT_RUN_DIR``) or an interactive run started here, with status ``running`` or ``interactive``."""
    from .run import records_here

    run_id = manifest.get("run_id")
    return bool(run_id) and manifest.get("status") in LIVE_STATUSES and records_here(runs_dir() / str(run_id))


def run_is_ok(manifest: dict) -> bool:
    """True for a finished run (status ``ok``) and for a notebook's own run while it submits from inside it."""
    return manifest.get("status") == "ok" or own_live_run(manifest)


def run_concerns(manifest: dict, comp: Competition | None = None, depth: int = 0) -> list[Concern]:
    """Why the submission of the run ``manifest`` should not be uploaded (see the module docstring); ``[]`` for a
    sound run and for a file no run wrote (``{}``). Inputs of blends and imports are followed (``inputs``)."""
    if not manifest:
        return []
    run = f"run {manifest.get('run_id', '?')}"
    found: list[Concern] = []
    if is_smoke(manifest):
        found.append(Concern("smoke", f"{run} is a smoke run (tiny and fast, for tests)"))
    if on_demo_data(manifest, comp):
        found.append(Concern("demo", f"{run} ran on the embedded demo data, not the competition's"))
    if not run_is_ok(manifest):
        found.append(Concern("status", f"{run} has status {manifest.get('status')!r}, not 'ok'",
                             str(manifest.get("status") or "unknown")))
    for kind, reason in _input_concerns(manifest, comp, depth):
        if kind not in {c.kind for c in found}:
            found.append(Concern(kind, reason, "unverified"))
    return found


def _input_concerns(manifest: dict, comp: Competition | None, depth: int) -> list[tuple[str, str]]:
    """The concerns of a blend's or an import's inputs, each said as ``blend X's input Y ...``."""
    from .run import read_manifest

    inputs = manifest.get("inputs") if isinstance(manifest.get("inputs"), list) else []
    out = []
    what = f"{manifest.get('kind') or 'run'} {manifest.get('run_id', '?')}"
    for name in inputs:
        run_id = str(name.get("run_id", "")) if isinstance(name, dict) else str(name).split(":", 1)[0]
        try:
            found = read_manifest(runs_dir() / run_id) if run_id else {}
        except DataError:
            found = {}
        if not found:
            out.append(("status", f"{what}'s input {run_id or name!r} is not in {runs_dir()} (cannot be checked)"))
            continue
        if depth >= MAX_INPUT_DEPTH:
            continue
        out += [(c.kind, f"{what}'s input: {c.reason}") for c in run_concerns(found, comp, depth + 1)]
    return out


def marks(concerns: list[Concern], upload: bool) -> list[str]:
    """The tags a ledger row's message starts with: ``[smoke]``, ``[demo]``, and for a run (or input) that is not
    ``ok``: ``[forced]`` on an upload, else ``[<its status>]`` (``[unverified]`` when only an input is at fault)."""
    kinds = {c.kind: c for c in concerns}
    tags = [f"[{kind}]" for kind in ("smoke", "demo") if kind in kinds]
    if "status" in kinds:
        tags.append("[forced]" if upload else f"[{kinds['status'].tag or 'unverified'}]")
    return tags


def refusal(path: Path, concerns: list[Concern]) -> str:
    """What an upload refused for ``concerns`` says."""
    reasons = "; ".join(c.reason for c in concerns)
    tags = " ".join(marks(concerns, True))
    return (f"not uploading {path}: {reasons}. Nothing was recorded or sent; a platform counts every upload against "
            f"its daily limit. Pass --force (in a notebook: force_submit=True) to upload it anyway, recorded as "
            f"{tags} without the run's score unless the run is ok")
