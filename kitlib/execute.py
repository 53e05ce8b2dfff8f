"""``kit run``: execute a notebook with papermill, with checked parameters, and keep its run folder.

``execute(target, overrides)`` resolves the notebook (a competition name or any notebook path: one that names
no competition runs with ``competition: null``), checks the overrides
against the notebook's tagged ``parameters`` cell (unknown names are an error listing the known ones;
values are converted to the declared types), creates ``runs/<run-id>/`` with a manifest recording the
declared parameters, runs the notebook in it (``KIT_RUN_DIR`` tells :func:`kitlib.run.start` the folder),
keeps the executed notebook (partial, when a cell failed), folds progress-bar redraws to one line and
masks known credentials in it. A failed cell raises :class:`~kitlib.errors.RunError` naming the cell.

How a run is kept safe and whole:

- path-like parameters (``data_dir``, ``corpus``, ``model``, ``checkpoints``, names ending in ``_dir``,
  ``_path``, ``_file``, and the file inside a ``sqlite:///`` or ``journal:`` storage URL) are resolved
  against the directory ``kit run`` was started in and recorded absolute (the kernel's working directory
  is the notebook's folder);
- the kernel starts without the credential variables unless the run uploads (``submit=True``), and every
  text written into the run folder goes through :func:`kitlib.masking.mask` (URL passwords included);
  papermill writes its working copy into a private temporary folder, and a watcher copies it, masked,
  into the run folder every few seconds, beside a ``heartbeat`` time in the manifest;
- SIGINT, SIGTERM and SIGHUP end the run as ``interrupted`` (with the time, the partial notebook and
  ``kernel.log``); a run whose heartbeat stopped (SIGKILL, a lost machine) is shown as ``interrupted`` by ``kit runs``;
- a write that fails (a full disk) never hides the run's end: the record ends ``failed`` with the reason, or, when
  even the record cannot be written, the ``RunError`` says so plainly;
- the kernel talks over IPC sockets in that private folder, not TCP: kernels started at the same moment
  cannot race for ports, and nothing listens on the network;
- a run started by ``kit sweep`` records the sweep's id and its grid point (``sweep`` in the manifest, from
  ``KIT_SWEEP``).
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .competitions import Competition, competition_name, get_competition
from .errors import ParameterError, RunError
from .masking import add_url_secrets, mask, secrets_removed
from .notebook_copies import keep_files, masked_output, write_failure, write_masked
from .parameters import coerce_parameters, declared_values, notebook_parameters, resolve_paths  # noqa: F401
from .project_state import git_fields
from .run import _jsonable, _now, new_run_id, package_versions, update_manifest
from .runtime import RUN_DIR_ENV, SWEEP_ENV, heartbeat_s, runs_dir, sweep_record_text
from .stops import interrupted_by_signals


class _Watcher(threading.Thread):
    """While the notebook runs: every :func:`kitlib.runtime.heartbeat_s` seconds (``KIT_HEARTBEAT_S``, default
    5), a ``heartbeat`` time in the manifest and a masked copy of papermill's working notebook in the run
    folder."""

    def __init__(self, run_dir: Path, working: Path):
        super().__init__(daemon=True, name="kit-run-watcher")
        self.run_dir, self.working, self.done = run_dir, working, threading.Event()
        self.outputs = -1  # outputs in the last copy: papermill's rewrite on an interruption may hold fewer
        self.every = heartbeat_s()
        self.write_error: str | None = None  # the first write that failed (a full disk): said in the run's record

    def run(self) -> None:
        while not self.done.wait(self.every):
            self.beat()

    def beat(self) -> None:
        """One heartbeat and notebook copy; a write that fails (a full disk) is remembered, never raised."""
        import nbformat

        try:
            update_manifest(self.run_dir, heartbeat=_now())
            try:
                nb = nbformat.read(self.working, as_version=4)
            except Exception:  # noqa: BLE001 - papermill is mid-write: the next beat copies it
                return
            outputs = sum(len(c.get("outputs", [])) for c in nb.cells)
            if outputs >= self.outputs:
                self.outputs = outputs
                write_masked(nb, self.run_dir / "notebook.ipynb")
        except OSError as exc:
            lost = f"the live copy of the run could not be written: {write_failure(exc)}"
            self.write_error = self.write_error or lost


def _ipc_kernel_manager(folder: Path):
    """A kernel manager class whose kernels listen on IPC sockets under ``folder`` instead of TCP ports and
    write their own log (not the cells' output) to ``folder/kernel.log`` instead of the terminal."""
    from jupyter_client.manager import AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any):
            super().__init__(**kwargs)
            self.transport = "ipc"
            self.ip = str(folder / "kernel")
            self.autorestart = False  # a run whose kernel died has failed; never start a second one

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any):
            log = open(folder / "kernel.log", "ab")  # noqa: SIM115 - the kernel process holds it
            kw.setdefault("stdout", log)
            kw.setdefault("stderr", log)
            return await super()._async_launch_kernel(kernel_cmd, **kw)

    return IPCKernelManager


def _new_run_dir(name: str, run_id: str | None) -> Path:
    """A fresh ``runs/<run-id>/``; a collision of generated ids (two runs in the same second) draws again."""
    for _ in range(20):
        folder = runs_dir() / (run_id or new_run_id(name))
        try:
            folder.mkdir(parents=True, exist_ok=False)
            return folder
        except FileExistsError:
            if run_id:
                raise ParameterError(f"run {run_id!r} exists already in {runs_dir()}") from None
    raise RunError(f"could not find a free run id for {name!r} in {runs_dir()}")


def notebook_competition(path: Path) -> str | None:
    """The competition a notebook names in its metadata (``metadata.kitlib.competition``), else ``None``."""
    import json

    try:
        meta = json.loads(path.read_text()).get("metadata", {})
    except (OSError, ValueError, AttributeError):
        return None
    named = (meta.get("kitlib") or {}).get("competition") if isinstance(meta.get("kitlib"), dict) else None
    return named if isinstance(named, str) and named else None


def resolve_notebook(target: str, competition: str | Competition | None = None) -> tuple[str | None, Path]:
    """``(competition or None, notebook path)`` for a competition name or a notebook path.

    A notebook path belongs to ``competition`` when given, else to the competition its metadata names, else to
    the competition whose registered notebook it is or that its file stem names, else to none (``None``: any
    notebook runs). Raises ``ParameterError`` for a notebook that does not exist or an unknown competition.
    """
    from .competitions import COMPETITIONS

    competition = competition_name(competition)
    path = Path(target)
    if path.suffix == ".ipynb":
        if not path.is_file():
            raise ParameterError(f"notebook {target!r} not found")
        named = competition or notebook_competition(path)
        if named:
            return get_competition(named).name, path.resolve()
        if path.stem in COMPETITIONS:
            return path.stem, path.resolve()
        for name in COMPETITIONS:
            try:
                registered = COMPETITIONS[name].notebook_path.resolve()
            except ParameterError:  # a broken spec is reported where it is used, not here
                continue
            if registered == path.resolve():
                return name, path.resolve()
        return None, path.resolve()
    comp = get_competition(target)
    if competition and competition != comp.name:
        raise ParameterError(f"{target!r} is a competition; -c {competition!r} names another")
    if not comp.notebook_path.is_file():
        again = f"; `kit new {comp.name} --data-dir DIR --force` writes it again" if comp.source else ""
        raise ParameterError(f"the notebook of {comp.name!r} does not exist: {comp.notebook_path}{again}")
    return comp.name, comp.notebook_path


def run_name(competition: str | None, notebook: Path) -> str:
    """What a run id starts with: the competition, else the notebook's file name (letters, digits, '-', '_')."""
    import re

    return competition or re.sub(r"[^A-Za-z0-9_-]+", "-", notebook.stem).strip("-") or "notebook"


def execute(target: str, overrides: dict[str, Any] | None = None, *, run_id: str | None = None,
            progress: bool = False, competition: str | Competition | None = None) -> Path:
    """Execute a competition's notebook (or any notebook path) with papermill; return the run folder.

    The run belongs to the competition :func:`resolve_notebook` finds (``competition`` names it for a notebook
    path); a notebook of no competition runs all the same, recorded with ``competition: null`` in a run folder
    named after the notebook.

    ``overrides`` (name -> value, strings are converted to the declared types) must name parameters of
    the notebook. Writes ``runs/<run-id>/notebook.ipynb`` and ``manifest.json`` (``params`` holds the
    declared values with the overrides until the notebook records its effective ones). Raises
    ``ParameterError`` for unknown parameters and ``RunError`` naming the failing cell (``In [n]``) when
    a cell fails; the partial notebook stays in the run folder.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    competition, notebook = resolve_notebook(target, competition)
    known = notebook_parameters(notebook)
    params = resolve_paths(coerce_parameters({k: v for k, v in (overrides or {}).items()}, known), Path.cwd())
    add_url_secrets(params)  # URL passwords are masked in everything written from here on
    add_url_secrets(declared_values(known))
    run_dir = _new_run_dir(run_name(competition, notebook), run_id)
    output = run_dir / "notebook.ipynb"
    started, t0 = _now(), time.perf_counter()
    values = _jsonable({**declared_values(known), **params})
    update_manifest(run_dir, run_id=run_dir.name, competition=competition, notebook=str(notebook), params=values,
                    overrides=_jsonable(params), seed=values.get("seed"), metrics={}, score=None, status="running",
                    started=started, heartbeat=started, **git_fields(),
                    packages=package_versions(), **_sweep_record())
    private = Path(tempfile.mkdtemp(prefix="kit-"))  # papermill's working copy and the kernel's sockets
    working = private / "notebook.ipynb"
    watcher = _Watcher(run_dir, working)
    env_before = {k: os.environ.get(k) for k in (RUN_DIR_ENV, "PYTHONHASHSEED")}
    os.environ.update({RUN_DIR_ENV: str(run_dir.resolve()), "PYTHONHASHSEED": "0"})  # plots stay inline
    signals = interrupted_by_signals()  # SIGTERM and SIGHUP end the run as Ctrl-C does: interrupted, recorded
    _TEARDOWN_NOISE.stop = signals.__enter__()
    _TEARDOWN_NOISE.install()
    error: RunError | None = None
    status = "ok"
    lost: list[str] = []  # what could not be written (a full disk): said in the record and the error
    try:
        watcher.start()
        with secrets_removed(keep=bool(values.get("submit"))):
            papermill.execute_notebook(str(notebook), masked_output(working), parameters=params,
                                       kernel_name="python3", cwd=str(notebook.parent), progress_bar=progress,
                                       log_output=False,
                                       autosave_cell_every=max(1, int(watcher.every)),
                                       kernel_manager_class=_ipc_kernel_manager(private))
    except KeyboardInterrupt as exc:
        status = "interrupted"
        how = f" by {exc}" if str(exc).startswith("signal") else ""
        error = RunError(f"interrupted{how} at {_now()}; partial notebook kept in {output}", ename="KeyboardInterrupt")
    except PapermillExecutionError as exc:
        status = "interrupted" if exc.ename == "KeyboardInterrupt" else "failed"
        error = RunError(f"cell In [{exc.exec_count}] failed: {exc.ename}: {exc.evalue}\n"
                         f"partial notebook kept in {output}", cell=exc.exec_count, ename=exc.ename,
                         evalue=exc.evalue)
    except Exception as exc:  # kernel died, bad notebook: still keep the record
        status = "failed"
        error = RunError(f"run failed before finishing: {type(exc).__name__}: {exc}\n"
                         f"partial notebook (if any) kept in {output}", ename=type(exc).__name__, evalue=str(exc))
    finally:
        watcher.done.set()
        if watcher.is_alive():
            watcher.join()  # a beat in progress ends before the final copy is written
        for key, value in env_before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        lost += keep_files(working, output, private / "kernel.log", run_dir, status != "ok")
        lost += [watcher.write_error] if watcher.write_error else []
        shutil.rmtree(private, ignore_errors=True)
        signals.__exit__(None, None, None)
    return _record_end(run_dir, status, error, lost, t0)


class _KernelTeardownNoise(logging.Filter):
    """Once a stop signal arrived, the kernel is shut down under nbclient's feet: its "Kernel died while waiting for
    execute reply." and the orphaned cell task's ``DeadKernelError`` traceback (which asyncio logs when the task is
    collected, often at exit) tell the user nothing but the stop they asked for, so they are dropped. A kernel that
    dies on its own is still said: without a stop signal nothing is filtered."""

    def __init__(self) -> None:
        super().__init__()
        self.stop: Any = None  # the stops.Stop of the run in progress (or the last one)

    def install(self) -> None:
        for name in ("papermill", "asyncio"):  # nbclient logs through papermill's logger
            logging.getLogger(name).addFilter(self)  # once: a filter already there is not added again

    def filter(self, record: logging.LogRecord) -> bool:
        if self.stop is None or self.stop.signal is None:
            return True
        if record.getMessage().startswith("Kernel died while waiting"):
            return False
        exc = record.exc_info[1] if record.exc_info else None
        return type(exc).__name__ != "DeadKernelError"


_TEARDOWN_NOISE = _KernelTeardownNoise()


def _record_end(run_dir: Path, status: str, error: RunError | None, lost: list[str], t0: float) -> Path:
    """Write the run's final status (with its error and what could not be written) and raise its ``RunError``; when
    even the record cannot be written, the ``RunError`` says so plainly. Returns ``run_dir`` for a run that ended
    ``ok`` with everything written."""
    fields: dict[str, Any] = {"status": status, "seconds": round(time.perf_counter() - t0, 2), "heartbeat": _now()}
    if lost and status == "ok":
        status = fields["status"] = "failed"  # a run whose outputs were not kept is not a finished run
    text = mask("\n".join(([str(error)] if error else []) + lost))
    if text:
        fields["error"] = text
    if status == "interrupted":
        fields["interrupted"] = _now()
    try:
        update_manifest(run_dir, **fields)
    except OSError as exc:
        said = (f"the run record {run_dir / 'manifest.json'} could not be written ({write_failure(exc)}): it still "
                f"says 'running'; the run {status}" + (f": {text}" if text else ""))
        raise RunError(mask(said), cell=error.cell if error else None, ename=error.ename if error else "OSError",
                       evalue=mask(error.evalue or "") if error else write_failure(exc), run_dir=run_dir,
                       interrupted=status == "interrupted") from None
    if error or lost:
        raise RunError(text, cell=error.cell if error else None, ename=error.ename if error else "OSError",
                       evalue=mask(error.evalue) if error and error.evalue else (lost[0] if lost else None),
                       run_dir=run_dir, interrupted=status == "interrupted")
    return run_dir


def _sweep_record() -> dict[str, Any]:
    """``{"sweep": {id, index, point, message, size}}`` when ``kit sweep`` started this run (``KIT_SWEEP``), else
    ``{}``."""
    import json

    raw = sweep_record_text()
    if not raw:
        return {}
    try:
        record = json.loads(raw)
    except ValueError:
        raise ParameterError(f"{SWEEP_ENV} is not JSON: {raw[:80]!r}") from None
    return {"sweep": record} if isinstance(record, dict) else {}


