"""Runs: execute a notebook with papermill and keep its record.

A run folder, one per execution (``runs/`` is git-ignored)::

    runs/<run-id>/                  run-id = <competition>-<YYYYmmdd-HHMMSS>-<4 hex>
        notebook.ipynb              the executed notebook (partial, with the error, when a cell failed)
        manifest.json               what ran and what came out (below)
        ...                         whatever the notebook writes to run.dir (optuna.db, oof arrays, wandb/)

``manifest.json`` holds ``run_id``, ``competition``, ``notebook``, ``params`` (as resolved), ``metrics``
(recorded from inside the notebook with :meth:`Run.log_metrics`), ``score`` (the competition's primary
metric), ``submission`` (``path``, ``sha256``), ``data`` (input files with sha256), ``git_commit`` and
``git_dirty``, ``packages`` (versions), ``python``, ``seed``, ``started``, ``seconds``, ``status``
(``running``/``ok``/``failed``/``interactive``) and, on failure, ``error``.

Inside a notebook, ``kitlib.run.start(competition, params)`` returns the :class:`Run` that ``kit run``
created (it passes the folder in ``KIT_RUN_DIR``), or a fresh one when the notebook runs in Jupyter.
No environment variable is ever written into the folder; known credentials that a notebook printed are
masked in the executed notebook.
"""
from __future__ import annotations

import ast
import datetime as _dt
import json
import os
import platform
import secrets
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from .competitions import ROOT, get_competition
from .errors import ParameterError, RunError

RUN_DIR_ENV = "KIT_RUN_DIR"
SECRET_ENV = ("KAGGLE_KEY", "KAGGLE_API_TOKEN", "AICROWD_API_KEY", "WANDB_API_KEY", "HF_TOKEN",
              "HUGGING_FACE_HUB_TOKEN")
PACKAGES = ("kitlib", "numpy", "pandas", "scikit-learn", "torch", "transformers", "sentence-transformers",
            "optuna", "keras", "papermill", "seqeval", "wandb", "kaggle", "aicrowd-cli")


def runs_dir() -> Path:
    """Where run folders go: ``$KIT_RUNS_DIR`` or ``runs/`` in the project."""
    return Path(os.environ.get("KIT_RUNS_DIR", ROOT / "runs"))


def new_run_id(competition: str) -> str:
    """``<competition>-<YYYYmmdd-HHMMSS>-<4 hex>``: sortable by time, unique across quick re-runs."""
    return f"{competition}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


# -------------------------------------------------------------------------------------- manifest
def read_manifest(run_dir: str | Path) -> dict:
    """The manifest of ``run_dir`` (``{}`` when there is none yet)."""
    path = Path(run_dir) / "manifest.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def update_manifest(run_dir: str | Path, **fields: Any) -> dict:
    """Merge ``fields`` into ``manifest.json`` (dict values are merged one level deep); atomic write."""
    path = Path(run_dir) / "manifest.json"
    data = read_manifest(run_dir)
    for key, value in fields.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    tmp.replace(path)
    return data


def git_state(cwd: Path = ROOT) -> tuple[str | None, bool | None]:
    """``(commit, dirty)`` of the project checkout, ``(None, None)`` outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True)
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                                capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None, None
    return commit.stdout.strip(), bool(status.stdout.strip())


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a run's result depends on."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
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

    def log_data(self, data_dir: str | Path) -> None:
        """Record the sha256 of every file in ``data_dir`` (hidden folders such as caches skipped)."""
        from .data import file_sha256

        root = Path(data_dir)
        files = sorted(p for p in root.rglob("*") if p.is_file() and not any(
            part.startswith(".") for part in p.relative_to(root).parts))
        update_manifest(self.dir, data_dir=str(root),
                        data=[{"path": str(p), "sha256": file_sha256(p)} for p in files])

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
        """Close the wandb run if one was opened."""
        if self._wandb is not None:
            self._wandb.finish()
            self._wandb = None


def start(competition: str, params: dict) -> Run:
    """The run this notebook records into.

    Under ``kit run`` the folder comes from ``KIT_RUN_DIR``; in Jupyter a new folder is made under
    ``runs/`` with status ``interactive``. ``params`` (the notebook's parameters, as resolved) and the
    seed are recorded. Raises ``ParameterError`` for an unknown competition.
    """
    comp = get_competition(competition)
    given = os.environ.get(RUN_DIR_ENV)
    run_dir = Path(given) if given else runs_dir() / new_run_id(comp.name)
    run_dir.mkdir(parents=True, exist_ok=True)
    fields: dict[str, Any] = {"competition": comp.name, "run_id": run_dir.name, "params": _jsonable(params),
                              "seed": params.get("seed")}
    if not given:
        commit, dirty = git_state()
        fields.update(status="interactive", started=_now(), git_commit=commit, git_dirty=dirty,
                      packages=package_versions(), notebook=str(comp.notebook_path))
    update_manifest(run_dir, **fields)
    return Run(run_dir, comp.name, params)


def _jsonable(params: dict) -> dict:
    return {k: v if isinstance(v, (int, float, str, bool, type(None), list, dict)) else str(v)
            for k, v in params.items()}


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# ----------------------------------------------------------------------------------- kit run
def notebook_parameters(notebook: str | Path) -> dict[str, dict]:
    """The notebook's parameters cell as papermill reads it: name -> {default, inferred_type_name, help}."""
    import papermill

    return papermill.inspect_notebook(str(notebook))


def coerce_parameters(overrides: dict[str, str], known: dict[str, dict]) -> dict[str, Any]:
    """Check names against the notebook's parameters and convert CLI strings to the declared types.

    Raises ``ParameterError`` naming an unknown parameter and listing the known ones, or a value that
    does not fit the declared type.
    """
    out: dict[str, Any] = {}
    for name, raw in overrides.items():
        if name not in known:
            raise ParameterError(f"Unknown parameter {name!r} for this notebook; its parameters are {sorted(known)}")
        kind = (known[name].get("inferred_type_name") or "None").replace(" ", "")
        out[name] = _convert(name, raw, kind)
    return out


def _convert(name: str, raw: Any, kind: str) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        if kind == "str":
            return raw
        if kind == "bool":
            lowered = raw.lower()
            if lowered in ("true", "1", "yes"):
                return True
            if lowered in ("false", "0", "no"):
                return False
            raise ValueError(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        if kind in ("int", "float", "bool"):
            raise ParameterError(f"Parameter {name!r} is declared {kind}; cannot read {raw!r} as {kind}") from None
        return raw


def _fold_carriage_returns(nb) -> None:
    """Merge consecutive stream outputs and keep only the last redraw of each carriage-returned line,
    so a progress bar stays one line in the executed notebook (as a terminal would show it)."""
    for cell in nb.cells:
        merged: list = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                text = "".join(out["text"]) if isinstance(out["text"], list) else out["text"]
                if merged and merged[-1].get("output_type") == "stream" and merged[-1]["name"] == out["name"]:
                    merged[-1]["text"] += text
                    continue
                out["text"] = text
            merged.append(out)
        for out in merged:
            if out.get("output_type") == "stream":
                out["text"] = "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in out["text"].split("\n"))
        if "outputs" in cell:
            cell["outputs"] = merged


def _mask_secrets(path: Path) -> None:
    """Replace the values of known credential variables wherever they appear in ``path``."""
    values = [os.environ[k] for k in SECRET_ENV if len(os.environ.get(k, "")) >= 6]
    if not values or not path.is_file():
        return
    text = path.read_text()
    masked = text
    for value in values:
        masked = masked.replace(value, "***")
    if masked != text:
        path.write_text(masked)


def resolve_notebook(target: str) -> tuple[str, Path]:
    """``(competition, notebook path)`` for a competition name or a notebook path.

    A notebook path belongs to the competition whose registered notebook it is, or to the competition
    named by its file stem. Raises ``ParameterError`` when neither fits.
    """
    from .competitions import COMPETITIONS

    path = Path(target)
    if path.suffix == ".ipynb":
        if not path.is_file():
            raise ParameterError(f"notebook {target!r} not found")
        for comp in COMPETITIONS.values():
            if comp.notebook_path.resolve() == path.resolve() or comp.name == path.stem:
                return comp.name, path.resolve()
        raise ParameterError(f"notebook {target!r} belongs to no competition; name it after one of "
                             f"{sorted(COMPETITIONS)}")
    comp = get_competition(target)
    return comp.name, comp.notebook_path


def execute(target: str, overrides: dict[str, Any] | None = None, *, run_id: str | None = None,
            progress: bool = False) -> Path:
    """Execute a competition's notebook (or a notebook path) with papermill; return the run folder.

    ``overrides`` (name -> value, strings are converted to the declared types) must name parameters of
    the notebook. Writes ``runs/<run-id>/notebook.ipynb`` and ``manifest.json``. Raises
    ``ParameterError`` for unknown parameters and ``RunError`` naming the failing cell (``In [n]``) when
    a cell fails; the partial notebook stays in the run folder.
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    competition, notebook = resolve_notebook(target)
    known = notebook_parameters(notebook)
    params = coerce_parameters({k: v for k, v in (overrides or {}).items()}, known)
    run_dir = runs_dir() / (run_id or new_run_id(competition))
    run_dir.mkdir(parents=True, exist_ok=False)
    output = run_dir / "notebook.ipynb"
    commit, dirty = git_state()
    started, t0 = _now(), time.perf_counter()
    update_manifest(run_dir, run_id=run_dir.name, competition=competition, notebook=str(notebook),
                    overrides=_jsonable(params), status="running", started=started, git_commit=commit,
                    git_dirty=dirty, packages=package_versions())
    env_before = {k: os.environ.get(k) for k in (RUN_DIR_ENV, "PYTHONHASHSEED")}
    os.environ.update({RUN_DIR_ENV: str(run_dir.resolve()), "PYTHONHASHSEED": "0"})  # plots stay inline
    error: RunError | None = None
    try:
        papermill.execute_notebook(str(notebook), str(output), parameters=params, kernel_name="python3",
                                   cwd=str(notebook.parent), progress_bar=progress, log_output=False)
    except PapermillExecutionError as exc:
        error = RunError(f"cell In [{exc.exec_count}] failed: {exc.ename}: {exc.evalue}\n"
                         f"partial notebook kept in {output}")
    except Exception as exc:  # kernel died, bad notebook: still keep the record
        error = RunError(f"run failed before finishing: {type(exc).__name__}: {exc}\n"
                         f"partial notebook (if any) kept in {output}")
    finally:
        for key, value in env_before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if output.is_file():
        nb = nbformat.read(output, as_version=4)
        _fold_carriage_returns(nb)
        nbformat.write(nb, output)
        _mask_secrets(output)
    update_manifest(run_dir, status="failed" if error else "ok", seconds=round(time.perf_counter() - t0, 2),
                    **({"error": str(error)} if error else {}))
    if error:
        error.run_dir = run_dir
        raise error
    return run_dir


# ----------------------------------------------------------------------------------- kit runs
def list_runs(competition: str | None = None) -> list[dict]:
    """Manifests of all runs (of ``competition`` if given), best score first within each competition.

    Runs without a score come last, newest first.
    """
    rows = []
    folder = runs_dir()
    for path in sorted(folder.glob("*/manifest.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError:
            continue
        if competition and data.get("competition") != competition:
            continue
        rows.append(data)

    def key(row: dict):
        try:
            sign = -1 if get_competition(row.get("competition", "")).mode == "max" else 1
        except ParameterError:
            sign = 1
        score = row.get("score")
        return (row.get("competition", ""), score is None, sign * score if score is not None else 0,
                _neg_time(row.get("started", "")))

    return sorted(rows, key=key)


def _neg_time(started: str) -> str:
    return "".join(chr(0x10FFFF - ord(c)) for c in started)


def format_runs(rows: list[dict]) -> str:
    """A plain-text table of runs: run id, competition, status, metric and score, seconds, submission."""
    if not rows:
        return "no runs yet (kit run COMPETITION)"
    table = [("run", "competition", "status", "metric", "score", "seconds", "submission")]
    for row in rows:
        try:
            metric = get_competition(row.get("competition", "")).metric
        except ParameterError:
            metric = "?"
        score = row.get("score")
        sub = (row.get("submission") or {}).get("path", "")
        table.append((row.get("run_id", "?"), row.get("competition", "?"), row.get("status", "?"), metric,
                      f"{score:.4f}" if isinstance(score, (int, float)) else "-",
                      f"{row['seconds']:.0f}" if isinstance(row.get("seconds"), (int, float)) else "-",
                      os.path.relpath(sub) if sub else "-"))
    widths = [max(len(str(r[i])) for r in table) for i in range(len(table[0]))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in table)
