"""Run records: the run folder a notebook records into, its manifest, and the table of runs.

``kit run`` itself (papermill, parameters, failure reporting) is :mod:`kitlib.execute`.

A run folder, one per execution (``runs/`` is git-ignored)::

    runs/<run-id>/                  run-id = <competition>-<YYYYmmdd-HHMMSS>-<4 hex>
        notebook.ipynb              the executed notebook (partial, with the error, when a cell failed)
        manifest.json               what ran and what came out (below)
        ...                         whatever the notebook writes to run.dir (optuna.db, oof arrays, wandb/)

``manifest.json`` holds ``run_id``, ``competition``, ``notebook``, ``params`` (as resolved), ``metrics``
(recorded from inside the notebook with :meth:`Run.log_metrics`), ``score`` (the competition's primary
metric), ``recipes`` (per model, :meth:`Run.log_recipe`), ``submission`` (``path``, ``sha256``), ``data``
(input files with sha256), ``git_commit`` and ``git_dirty`` of the project folder (and ``kit_git_commit``,
``kit_git_dirty`` of the kit's checkout when it is another: :mod:`kitlib.project_state`), ``spec`` and
``features`` (:meth:`Run.log_provenance`), ``packages`` (versions), ``python``, ``seed``,
``started``, ``seconds``, ``status`` (``running``/``ok``/``failed``/``interactive``) and, on failure, ``error``.

Inside a notebook, ``run = kitlib.run.start(COMPETITION, globals())`` (after the smoke overrides and the
path resolution) records the effective value of every parameter declared in the notebook's tagged
``parameters`` cell and returns the :class:`Run` that ``kit run`` created (it passes the folder in
``KIT_RUN_DIR``), or an interactive one when the notebook runs in Jupyter: one folder per kernel session (running
the setup cell again reuses it), status ``interactive`` while cells run, ``failed`` (with the cell and its error)
when a cell fails, ``ok`` once :meth:`Run.finish` ran in the last cell.
No environment variable is ever written into the folder; known credentials that a notebook printed are
masked in the executed notebook.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
import secrets
import sys
import time
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from .competitions import Competition, get_competition
from .errors import DataError
from .fitting import Recipe
from .masking import add_url_secrets, mask
from .project_state import checkout_state as git_state  # noqa: F401  (kitlib.run.git_state as before)
from .project_state import features_record, git_fields, spec_record
from .runtime import given_run_dir, runs_dir

PACKAGES = ("kitlib", "numpy", "pandas", "scikit-learn", "torch", "transformers", "sentence-transformers",
            "optuna", "keras", "papermill", "seqeval", "wandb", "kaggle", "aicrowd-cli")


def new_run_id(competition: str) -> str:
    """``<competition>-<YYYYmmdd-HHMMSS>-<4 hex>``: sortable by time, unique across quick re-runs."""
    return f"{competition}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


# -------------------------------------------------------------------------------------- manifest
def read_manifest(run_dir: str | Path) -> dict:
    """The manifest of ``run_dir`` (``{}`` when there is none yet). Raises ``DataError`` naming the file when it
    is not readable JSON (a torn or edited manifest)."""
    path = Path(run_dir) / "manifest.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (ValueError, OSError) as exc:
        raise DataError(f"{path}: not a readable run manifest ({exc})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: not a readable run manifest (a JSON {type(data).__name__}, expected an object)")
    return data


def update_manifest(run_dir: str | Path, **fields: Any) -> dict:
    """Merge ``fields`` into ``manifest.json`` (dict values are merged one level deep); atomic write, with
    credentials and URL passwords masked (:func:`kitlib.masking.mask`) in everything written.

    Writers in several processes (``kit run``'s heartbeat, the notebook's kernel) take turns under a file lock
    (``.manifest.lock`` in the run folder), so no update is lost."""
    from filelock import FileLock

    path = Path(run_dir) / "manifest.json"
    with FileLock(str(Path(run_dir) / ".manifest.lock")):
        data = read_manifest(run_dir)
        for key, value in fields.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        _write_manifest(path, data)
    return data


def _write_manifest(path: Path, data: dict) -> None:
    import threading

    tmp = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp")  # one per writer
    tmp.write_text(mask(json.dumps(data, indent=2, sort_keys=True, default=str)) + "\n")
    tmp.replace(path)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a run's result depends on."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    return out


# ------------------------------------------------------------------------------- inside a notebook
class Run:
    """The run a notebook records into: ``dir``, ``id``, ``competition``, ``params``.

    Only stores arguments; :func:`start` creates or attaches the folder.
    """

    def __init__(self, run_dir: Path, competition: str, params: dict):
        self.dir = Path(run_dir)
        self.id = self.dir.name
        self.competition = competition
        self.params = dict(params)
        self._wandb = None
        self._failures: dict[str, str] = {}  # interactive runs: failing cell -> its error, until it runs cleanly
        self._interactive = False
        self._closed = False

    def log_metrics(self, metrics: dict[str, float]) -> None:
        """Record metrics (name -> number); the competition's primary metric also becomes ``score``."""
        clean = {k: float(v) for k, v in metrics.items()}
        fields: dict[str, Any] = {"metrics": clean}
        primary = get_competition(self.competition).metric
        if primary in clean:
            fields["score"] = clean[primary]
        update_manifest(self.dir, **fields)
        if self._wandb is not None:
            self._wandb.summary.update(clean)

    def log_recipe(self, name: str, recipe: Recipe) -> None:
        """Record ``recipe.record()`` as ``manifest["recipes"][name]`` (a later call for ``name`` replaces it)."""
        update_manifest(self.dir, recipes={name: recipe.record()})

    def log_provenance(self, spec_path: str | Path | None, feature_code: Any, problem: Any) -> None:
        """Record ``spec`` (``{path, sha256}`` of the spec file; ``None`` for a built-in competition) and
        ``features`` (the resolved ``problem``'s lists, its unused columns with the reason, and ``feature_code``'s
        ``{source, sha256}``): see :mod:`kitlib.project_state`."""
        update_manifest(self.dir, spec=spec_record(spec_path), features=features_record(feature_code, problem))

    def log_data(self, data_dir: str | Path) -> None:
        """Record the sha256 of every file in ``data_dir`` (hidden folders such as caches skipped)."""
        from .data import file_sha256

        root = Path(data_dir)
        files = sorted(p for p in root.rglob("*") if p.is_file() and not any(
            part.startswith(".") for part in p.relative_to(root).parts))
        update_manifest(self.dir, data_dir=str(root),
                        data=[{"path": str(p), "sha256": file_sha256(p)} for p in files])

    def data_sha256(self) -> str | None:
        """One sha256 over the data files :meth:`log_data` recorded (relative paths and contents), ``None`` before
        it ran: what an Optuna study shared between runs checks (:func:`kitlib.hpo.identity`)."""
        from .hpo import data_sha256

        manifest = read_manifest(self.dir)
        return data_sha256(manifest.get("data") or [], manifest.get("data_dir"))

    def log_cv(self, cv: dict, oof: Any = None, test: Any = None, final: dict | None = None,
               cut: list | None = None) -> None:
        """Record the validation summary ``cv`` (see :meth:`kitlib.folds.CVResult.summary`), write the prediction
        tables ``oof`` and ``test`` (:func:`kitlib.predictions.frame`) into the run folder; ``final`` says how they
        were made (``{kind: "model" | "ensemble", ...}``), ``cut`` what the time budget skipped or stopped."""
        from . import predictions

        written = predictions.write(self.dir, oof, test)
        extra = {k: v for k, v in (("final", final), ("cut", cut)) if v is not None}
        update_manifest(self.dir, cv=cv, predictions={name: str(path) for name, path in written.items()}, **extra)

    def log_model(self, name: str, record: dict, oof: Any = None, test: Any = None) -> None:
        """Write ``models/<name>/`` and record ``manifest["models"][name]`` (:func:`kitlib.run_models.write_model`)."""
        from .run_models import write_model

        update_manifest(self.dir, models={name: write_model(self.dir, name, record, oof, test)})

    def log_submission(self, path: str | Path) -> None:
        """Record the submission file written by this run (path and sha256)."""
        from .data import file_sha256

        update_manifest(self.dir, submission={"path": str(Path(path).resolve()), "sha256": file_sha256(path)})

    def wandb(self, project: str | None = None):
        """The wandb run when the ``track`` parameter is ``"wandb"``, else ``None``.

        Offline (files under ``<run dir>/wandb``) unless wandb credentials are configured.
        """
        if self.params.get("track", "none") != "wandb":
            return None
        if self._wandb is None:
            import wandb

            online = bool(os.environ.get("WANDB_API_KEY")) and os.environ.get("WANDB_MODE") != "offline"
            self._wandb = wandb.init(project=project or f"kitlib-{self.competition}", name=self.id,
                                     dir=str(self.dir), config=self.params,
                                     mode="online" if online else "offline", reinit="finish_previous")
        return self._wandb

    def finish(self) -> None:
        """Close the wandb run if one was opened; the notebook's last cell calls it.

        In Jupyter (no ``kit run``) it also ends the interactive record: status ``ok`` and the seconds since
        :func:`start`, or ``failed`` while a cell that failed has not run cleanly since; cells run afterwards
        no longer change the record (running the setup cell again reopens it). Under ``kit run`` the status
        is left to :mod:`kitlib.execute`.
        """
        if self._wandb is not None:
            self._wandb.finish()
            self._wandb = None
        if self._interactive and not self._closed:
            self._closed = True
            started = read_manifest(self.dir).get("started")
            fields: dict[str, Any] = {"status": "failed" if self._failures else "ok"}
            with contextlib.suppress(TypeError, ValueError):
                fields["seconds"] = round((_dt.datetime.now(_dt.UTC)
                                           - _dt.datetime.fromisoformat(started)).total_seconds(), 2)
            update_manifest(self.dir, **fields)

    def _record_cell(self, result: Any) -> None:
        """IPython's ``post_run_cell`` event: a failing cell marks the run ``failed`` with ``error`` (the cell
        ``In [n]`` and its exception, credentials masked); once every failed cell ran cleanly again the run
        is back to ``interactive``. Silent executions and cells run after :meth:`finish` change nothing."""
        info = getattr(result, "info", None)
        if self._closed or getattr(info, "silent", False):
            return
        key = getattr(info, "cell_id", None) or getattr(info, "raw_cell", None) or str(result.execution_count)
        error = result.error_before_exec or result.error_in_exec
        if error is None:
            if self._failures.pop(key, None) is not None:
                if self._failures:
                    update_manifest(self.dir, error=list(self._failures.values())[-1])
                else:
                    _drop_fields(self.dir, "error")
                    update_manifest(self.dir, status="interactive")
            return
        text = mask(f"cell In [{result.execution_count}] failed: {type(error).__name__}: {error}")
        self._failures.pop(key, None)
        self._failures[key] = text
        update_manifest(self.dir, status="failed", error=text)


def start(competition: str | Competition, params: Mapping[str, Any]) -> Run:
    """The run this notebook records into, with its effective parameters recorded.

    ``params`` is either the notebook's namespace (``globals()``: the values of the names declared in the
    notebook's ``parameters`` cell are recorded, so call it after smoke overrides and path resolution) or
    a plain dict of parameters (recorded as given). Under ``kit run`` the folder comes from ``KIT_RUN_DIR``
    and nothing else changes (:mod:`kitlib.execute` sets the final status).

    Elsewhere (Jupyter) the run is interactive: a folder under ``runs/`` with status ``interactive``, one per
    session: calling ``start`` again with the same namespace (in an IPython kernel: the same kernel), the same
    competition and the same ``runs/`` folder reuses it, with the earlier pass's results cleared. In an
    IPython kernel a failing cell then marks it ``failed`` (see :meth:`Run.finish` for ``ok``). Raises
    ``ParameterError`` for an unknown competition.
    """
    comp = get_competition(competition)
    given = given_run_dir()
    shell = None if given else _ipython_shell()
    session = None
    if given:
        run_dir = Path(given)
    else:
        session = _session_key(params, shell, comp.name)
        earlier = _SESSIONS.get(session) if session else None
        run_dir = earlier.dir if earlier is not None and earlier.dir.is_dir() else runs_dir() / new_run_id(comp.name)
        if earlier is not None:
            earlier._closed = True  # the new Run records from here on
            _drop_fields(run_dir, *_RESULT_FIELDS)
    run_dir.mkdir(parents=True, exist_ok=True)
    namespace = _namespace(params)
    if namespace is not None:  # a notebook namespace: keep only its declared parameters
        params = {name: params[name] for name in _declared_names(params, run_dir, comp) if name in params}
    add_url_secrets(params)  # a URL parameter's password is masked in everything written from here on
    fields: dict[str, Any] = {"competition": comp.name, "run_id": run_dir.name, "params": _jsonable(params),
                              "seed": params.get("seed")}
    if not given:
        fields.update(status="interactive", started=_now(), **git_fields(), packages=package_versions(),
                      notebook=str(_session_notebook(namespace, comp) if namespace is not None else comp.notebook_path))
    update_manifest(run_dir, **fields)
    run = Run(run_dir, comp.name, dict(params))
    if not given:
        run._interactive = True
        _STARTED_HERE.append(run)
        if session:
            _SESSIONS[session] = run
        if shell is not None:
            _watch_cells(shell, run)
    return run


# ------------------------------------------------------------------------------ interactive sessions
# (runs folder, competition, id of the namespace) -> the Run of that session, so that running the setup cell
# again in the same kernel records into the same folder.
_SESSIONS: dict[tuple[str, str, int], Run] = {}
_STARTED_HERE: list[Run] = []  # every interactive Run this process started (records_here)
_RESULT_FIELDS = ("metrics", "score", "cv", "submission", "predictions", "error", "seconds", "data", "data_dir",
                  "spec", "features", "models", "final", "cut")


def records_here(run_dir: str | Path) -> bool:
    """True when this process records into ``run_dir``: it is the kernel ``kit run`` started for that folder
    (``KIT_RUN_DIR``), or an interactive run started here (:func:`start`) records into it and is still open."""
    try:
        folder = Path(run_dir).resolve()
        given = given_run_dir()
        if given and Path(given).resolve() == folder:
            return True
        return any(not run._closed and run.dir.resolve() == folder for run in _STARTED_HERE)
    except OSError:
        return False


def _ipython_shell():
    """The running IPython shell (a Jupyter kernel), else ``None``; IPython is not imported for this."""
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None else None


def _namespace(params: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return params if "__builtins__" in params else None


def _session_key(params: Mapping[str, Any], shell: Any, competition: str) -> tuple[str, str, int] | None:
    """What makes two ``start`` calls one session: the notebook namespace given, else the kernel's namespace;
    ``None`` (a new folder every call) for a plain dict outside IPython."""
    namespace = _namespace(params)
    if namespace is None and shell is not None:
        namespace = shell.user_ns
    if namespace is None:
        return None
    return (str(runs_dir().absolute()), competition, id(namespace))


def _session_notebook(namespace: Mapping[str, Any], comp: Competition) -> Path:
    """The notebook file this kernel runs (Jupyter's ``__session__``), else the competition's notebook."""
    session = str(namespace.get("__session__") or os.environ.get("JPY_SESSION_NAME") or "")
    return Path(session) if session.endswith(".ipynb") and Path(session).is_file() else comp.notebook_path


def _watch_cells(shell: Any, run: Run) -> None:
    """Have IPython's ``post_run_cell`` event record failing cells into ``run`` (one hook per kernel: the
    latest interactive run)."""
    global _LIVE
    _LIVE = run
    callbacks = shell.events.callbacks.get("post_run_cell", [])
    if _on_post_run_cell not in callbacks:
        shell.events.register("post_run_cell", _on_post_run_cell)


_LIVE: Run | None = None


def _on_post_run_cell(result: Any) -> None:
    if _LIVE is not None:
        # the folder or its manifest may have gone away meanwhile: nothing to record into then
        with contextlib.suppress(OSError, ValueError):
            _LIVE._record_cell(result)


def _drop_fields(run_dir: str | Path, *names: str) -> None:
    """Remove ``names`` from the manifest of ``run_dir`` (if it has one)."""
    data = read_manifest(run_dir)
    if data and any(name in data for name in names):
        for name in names:
            data.pop(name, None)
        _write_manifest(Path(run_dir) / "manifest.json", data)


def _declared_names(namespace: Mapping[str, Any], run_dir: Path, comp: Competition) -> list[str]:
    """The parameter names of the running notebook: those ``kit run`` recorded, else the ``parameters``
    cell of the notebook file (Jupyter's ``__session__`` path, or the competition's notebook)."""
    recorded = read_manifest(run_dir).get("params")
    if recorded:
        return list(recorded)
    from .parameters import notebook_parameters

    notebook = _session_notebook(namespace, comp)
    if notebook.is_file():
        return list(notebook_parameters(notebook))
    return list(namespace.get("__annotations__", {}))


def _jsonable(params: dict) -> dict:
    return {k: v if isinstance(v, (int, float, str, bool, type(None), list, dict)) else str(v)
            for k, v in params.items()}


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")

