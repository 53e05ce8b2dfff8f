"""``kit run``: execute a notebook with papermill, with checked parameters, and keep its run folder.

``execute(target, overrides)`` resolves the notebook (a competition name or any notebook path: one that names
no competition runs with ``competition: null``), checks the overrides
against the notebook's tagged ``parameters`` cell (unknown names are an error listing the known ones;
values are converted to the declared types), creates ``runs/<run-id>/`` with a manifest recording the
declared parameters, runs the notebook in it (``KIT_RUN_DIR`` tells :func:`kitlib.run.start` the folder),
keeps the executed notebook (partial, when a cell failed), folds progress-bar redraws to one line and
masks known credentials in it. A failed cell raises :class:`~kitlib.errors.RunError` naming the cell.
"""
from __future__ import annotations

import ast
import os
import time
from pathlib import Path
from typing import Any

from .competitions import get_competition
from .errors import ParameterError, RunError
from .run import (RUN_DIR_ENV, _jsonable, _now, git_state, new_run_id, package_versions, runs_dir,
                  update_manifest)

SECRET_ENV = ("KAGGLE_KEY", "KAGGLE_API_TOKEN", "AICROWD_API_KEY", "WANDB_API_KEY", "HF_TOKEN",
              "HUGGING_FACE_HUB_TOKEN")


def notebook_parameters(notebook: str | Path) -> dict[str, dict]:
    """The notebook's parameters cell as papermill reads it: name -> {default, inferred_type_name, help}."""
    import papermill

    return papermill.inspect_notebook(str(notebook))


def declared_values(known: dict[str, dict]) -> dict[str, Any]:
    """The default value of each declared parameter (the source text evaluated when it is a literal)."""
    out = {}
    for name, info in known.items():
        text = str(info.get("default", ""))
        try:
            out[name] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            out[name] = text
    return out


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


def notebook_competition(path: Path) -> str | None:
    """The competition a notebook names in its metadata (``metadata.kitlib.competition``), else ``None``."""
    import json

    try:
        meta = json.loads(path.read_text()).get("metadata", {})
    except (OSError, ValueError, AttributeError):
        return None
    named = (meta.get("kitlib") or {}).get("competition") if isinstance(meta.get("kitlib"), dict) else None
    return named if isinstance(named, str) and named else None


def resolve_notebook(target: str, competition: str | None = None) -> tuple[str | None, Path]:
    """``(competition or None, notebook path)`` for a competition name or a notebook path.

    A notebook path belongs to ``competition`` when given, else to the competition its metadata names, else to
    the competition whose registered notebook it is or that its file stem names, else to none (``None``: any
    notebook runs). Raises ``ParameterError`` for a notebook that does not exist or an unknown competition.
    """
    from .competitions import COMPETITIONS

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
            progress: bool = False, competition: str | None = None) -> Path:
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
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    competition, notebook = resolve_notebook(target, competition)
    known = notebook_parameters(notebook)
    params = coerce_parameters({k: v for k, v in (overrides or {}).items()}, known)
    run_dir = runs_dir() / (run_id or new_run_id(run_name(competition, notebook)))
    run_dir.mkdir(parents=True, exist_ok=False)
    output = run_dir / "notebook.ipynb"
    commit, dirty = git_state()
    started, t0 = _now(), time.perf_counter()
    values = _jsonable({**declared_values(known), **params})
    update_manifest(run_dir, run_id=run_dir.name, competition=competition, notebook=str(notebook),
                    params=values, overrides=_jsonable(params), seed=values.get("seed"), metrics={}, score=None,
                    status="running", started=started, git_commit=commit, git_dirty=dirty,
                    packages=package_versions())
    env_before = {k: os.environ.get(k) for k in (RUN_DIR_ENV, "PYTHONHASHSEED")}
    os.environ.update({RUN_DIR_ENV: str(run_dir.resolve()), "PYTHONHASHSEED": "0"})  # plots stay inline
    error: RunError | None = None
    try:
        papermill.execute_notebook(str(notebook), str(output), parameters=params, kernel_name="python3",
                                   cwd=str(notebook.parent), progress_bar=progress, log_output=False)
    except PapermillExecutionError as exc:
        error = RunError(f"cell In [{exc.exec_count}] failed: {exc.ename}: {exc.evalue}\n"
                         f"partial notebook kept in {output}", cell=exc.exec_count, ename=exc.ename,
                         evalue=exc.evalue)
    except Exception as exc:  # kernel died, bad notebook: still keep the record
        error = RunError(f"run failed before finishing: {type(exc).__name__}: {exc}\n"
                         f"partial notebook (if any) kept in {output}", ename=type(exc).__name__, evalue=str(exc))
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
