"""``kit sweep``: one ``kit run`` per point of a grid of parameter values, on a Dask distributed cluster.

``kit sweep NAME -p KNOB V1,V2 -p OTHER V3 ...`` runs the grid of the given values (every combination; a knob
with one value is the same at every point). Each point is a plain ``kit run`` in its own process with its own run
folder; its manifest records ``sweep: {id, index, point, message}``. The points go to a Dask cluster:

- ``--jobs N``: a local cluster (scheduler and N worker threads in this process, no network port), each thread
  waiting on one ``kit run`` child process;
- ``--scheduler tcp://HOST:PORT``: a running ``dask scheduler`` with ``dask worker``s on other machines. Workers
  need the same checkout, environment (``kit`` importable by their Python) and data paths as this machine, and
  the runs folder (``KIT_RUNS_DIR``, sent with each point) on a filesystem they all share; start each worker
  with ``--nthreads 1`` for one run at a time.

A failed point does not stop the others; the result says which failed. Parameter names and values are checked
against the notebook before anything starts, and relative paths are made absolute here.
"""
from __future__ import annotations

import contextlib
import itertools
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .competitions import Competition, competition_name
from .errors import ParameterError
from .runtime import SWEEP_ENV, child_paths_environment


@dataclass
class PointResult:
    """What became of one grid point: its index and values, the ``kit run`` exit status, its run folder (``None``
    when none was made) and the last line ``kit run`` wrote to stderr when it failed."""

    index: int
    point: dict[str, Any]
    returncode: int
    run_dir: str | None = None
    error: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass
class SweepResult:
    """A finished sweep: its id, the points' results in grid order and the wall time."""

    sweep_id: str
    points: list[PointResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[PointResult]:
        return [p for p in self.points if not p.ok]


def new_sweep_id(name: str) -> str:
    """``sweep-<name>-<YYYYmmdd-HHMMSS>-<4 hex>``."""
    return f"sweep-{name}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def grid(pairs: list[list[str]] | list[tuple[str, str]], notebook: Path, base: Path | None = None) -> list[dict]:
    """The points of the grid ``-p NAME V1,V2,...`` (values split on commas, every combination, in the order given),
    each checked and converted against the notebook's parameters, relative paths resolved against ``base`` (default
    the working directory). Raises ``ParameterError`` for an unknown name, a value of the wrong type, an empty
    value list or a knob given twice."""
    from .parameters import coerce_parameters, notebook_parameters, resolve_paths

    known = notebook_parameters(notebook)
    names = [name for name, _ in pairs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ParameterError(f"parameter(s) {twice} given twice; give one -p NAME V1,V2,... per knob")
    axes = []
    for name, raw in pairs:
        values = [v.strip() for v in str(raw).split(",")]
        if not all(values):
            raise ParameterError(f"-p {name} {raw!r}: an empty value; give V1,V2,... without empty items")
        axes.append([coerce_parameters({name: v}, known)[name] for v in values])
    points = [dict(zip(names, combo)) for combo in itertools.product(*axes)]
    return [resolve_paths(point, base or Path.cwd()) for point in points]


def _cli_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, bool) else str(value)


_CHILDREN: set[subprocess.Popen] = set()  # `kit run`s started by this process (a local cluster's threads)
_CHILDREN_LOCK = threading.Lock()


def run_point(target: str, competition: str | None, index: int, point: dict[str, Any], record: dict[str, Any],
              env: dict[str, str]) -> PointResult:
    """Run one grid point as ``kit run`` in a child process (on whichever machine the Dask worker runs); return
    its :class:`PointResult`. ``env`` adds the runs folder and project folder; ``record`` is the sweep record."""
    cmd = [sys.executable, "-m", "kitlib.cli", "run", target, "-q"]
    if competition:
        cmd += ["-c", competition]
    for name, value in point.items():
        cmd += ["-p", name, _cli_value(value)]
    child_env = {**os.environ, **env, SWEEP_ENV: json.dumps({**record, "index": index, "point": point})}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # Ctrl-C in the terminal reaches the sweep, which ends them
    with _CHILDREN_LOCK:
        _CHILDREN.add(proc)
    try:
        out, err = proc.communicate()
    finally:
        with _CHILDREN_LOCK:
            _CHILDREN.discard(proc)
    run_dir = None
    for line in (out + "\n" + err).splitlines():
        if line.startswith(("run folder:", "run record:")):
            path = Path(line.split(":", 1)[1].strip())
            run_dir = str(path.parent if path.name == "manifest.json" else path)
            break
    error = "" if proc.returncode == 0 else _error_line(err, proc.returncode)
    return PointResult(index, point, proc.returncode, run_dir, error, round(time.perf_counter() - t0, 2))


def _error_line(stderr: str, returncode: int) -> str:
    """What ``kit run`` said went wrong: the line after its ``kit run: FAILED`` header, else its ``kit run: ...``
    line (bad usage), else the last line of stderr, else the exit status."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if line in ("kit run: FAILED", "kit run: INTERRUPTED"):
            return f"{line.split(': ')[1].lower()}: {lines[i + 1]}" if i + 1 < len(lines) else line
    said = [line for line in lines if line.startswith("kit run: ")]
    return said[-1] if said else lines[-1] if lines else f"exit status {returncode}"


def _stop_children() -> None:
    """SIGTERM every local ``kit run`` (each records itself ``interrupted``), then wait for them."""
    with _CHILDREN_LOCK:
        children = list(_CHILDREN)
    for proc in children:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
    for proc in children:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def sweep(target: str, pairs: list[list[str]], *, jobs: int = 1, scheduler: str | None = None, message: str = "",
          competition: str | Competition | None = None, on_point=None, announce=None) -> SweepResult:
    """Run ``kit run target`` at every point of the grid ``pairs`` (see :func:`grid`) on ``jobs`` local worker
    threads or on the Dask scheduler at ``scheduler``; return the :class:`SweepResult` (points in grid order).

    ``announce(sweep_id, n_points)`` is called once the grid is checked, ``on_point(result)`` as each point
    finishes. Raises ``ParameterError`` for a bad grid, a bad
    ``jobs`` or a scheduler that cannot be reached; a point that fails is reported in its result, never raised.
    Ctrl-C stops the local runs (recorded ``interrupted``) and cancels what has not started.
    """
    from .execute import resolve_notebook, run_name

    competition = competition_name(competition)
    if scheduler and jobs != 1:
        raise ParameterError("give --jobs N (a local cluster) or --scheduler ADDRESS (its workers), not both")
    if jobs < 1:
        raise ParameterError(f"--jobs {jobs}: expected at least 1")
    name, notebook = resolve_notebook(target, competition)
    points = grid(pairs, notebook)
    sweep_id = new_sweep_id(run_name(name, notebook))
    target = name if name and Path(target).suffix != ".ipynb" else str(notebook)
    env = child_paths_environment()
    record = {"id": sweep_id, "message": message, "size": len(points)}
    result = SweepResult(sweep_id)
    t0 = time.perf_counter()
    with _client(jobs, scheduler) as client:
        if announce is not None:
            announce(sweep_id, len(points))
        from distributed import as_completed

        futures = [client.submit(run_point, target, competition if target.endswith(".ipynb") else None,
                                 i, point, record, env, key=f"{sweep_id}-{i}", pure=False)
                   for i, point in enumerate(points)]
        index = {future.key: i for i, future in enumerate(futures)}
        done: dict[int, PointResult] = {}
        try:
            for future in as_completed(futures):
                i = index[future.key]
                try:
                    done[i] = future.result()
                except Exception as exc:  # noqa: BLE001 - a lost worker or a broken environment there
                    done[i] = PointResult(i, points[i], -1, error=f"{type(exc).__name__}: {exc}")
                if on_point is not None:
                    on_point(done[i])
        except KeyboardInterrupt:
            client.cancel(futures)
            _stop_children()
            raise
    result.points = [done[i] for i in sorted(done)]
    result.seconds = round(time.perf_counter() - t0, 2)
    return result


class _client:
    """A Dask client: on the scheduler at ``address``, else on a local cluster of one in-process worker with
    ``jobs`` threads (no dashboard, no network port). Closed (and the local cluster stopped) on exit."""

    def __init__(self, jobs: int, address: str | None):
        self.jobs, self.address, self.cluster, self.client = jobs, address, None, None

    def __enter__(self):
        from distributed import Client, LocalCluster

        if self.address:
            try:
                self.client = Client(self.address, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise ParameterError(f"cannot reach the Dask scheduler at {self.address}: {exc}") from None
            if not self.client.scheduler_info().get("workers"):
                self.client.close()
                raise ParameterError(f"the Dask scheduler at {self.address} has no workers; start some with "
                                     f"`dask worker {self.address} --nthreads 1`")
        else:
            self.cluster = LocalCluster(n_workers=1, threads_per_worker=self.jobs, processes=False,
                                        dashboard_address=None)
            self.client = Client(self.cluster)
        return self.client

    def __exit__(self, *exc) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def sweep_runs(sweep_id: str) -> list[dict]:
    """The manifests of the runs of sweep ``sweep_id`` (any status), best score first."""
    from .runs_table import list_runs

    return [row for row in list_runs(include_all=True) if (row.get("sweep") or {}).get("id") == sweep_id]
