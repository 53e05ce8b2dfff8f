"""``kit run``: execute a notebook with papermill, with checked parameters, and keep its run folder.

``execute(target, overrides)`` resolves the notebook (a competition name or a path), checks the overrides
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
    the notebook. Writes ``runs/<run-id>/notebook.ipynb`` and ``manifest.json`` (``params`` holds the
    declared values with the overrides until the notebook records its effective ones). Raises
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
                    params=_jsonable({**declared_values(known), **params}), overrides=_jsonable(params),
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
