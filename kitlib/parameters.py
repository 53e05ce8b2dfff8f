"""A notebook's parameters: read from its tagged ``parameters`` cell, checked, converted, resolved.

``kit run``, ``kit params``, ``kit kernel`` and ``kitlib.run.start`` read parameters through here: unknown names
are an error listing the known ones, CLI strings become the declared types, and path-like values are made
absolute against the directory the command was started in.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from .errors import ParameterError

PATH_PARAMS = ("data_dir", "corpus", "model", "embed_model", "extra_train", "checkpoints")
PATH_SUFFIXES = ("_dir", "_path", "_file")


def notebook_parameters(notebook: str | Path) -> dict[str, dict]:
    """The notebook's parameters cell as papermill reads it: name -> {default, inferred_type_name, help}.

    Raises ``ParameterError`` naming the file when it is not a Jupyter notebook.
    """
    import nbformat
    import papermill

    try:
        return papermill.inspect_notebook(str(notebook))
    except (nbformat.reader.NotJSONError, nbformat.ValidationError, json.JSONDecodeError, KeyError,
            AttributeError, TypeError, UnicodeDecodeError) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ParameterError(f"{notebook}: not a Jupyter notebook ({type(exc).__name__}: {reason})") from None


def resolve_paths(params: dict[str, Any], base: Path) -> dict[str, Any]:
    """``params`` with relative path-like values made absolute against ``base`` (see the module docstring).

    ``data_dir`` and names ending in ``_dir``/``_path``/``_file`` are resolved whether or not they exist (an
    error then names the absolute path); ``model``, ``corpus``, ``checkpoints`` and the other names only when
    the path exists (they may also be hub ids or run ids). Comma-separated lists are resolved item by item.
    """
    out = dict(params)
    for name, value in params.items():
        if not isinstance(value, str) or not value or value == "demo":
            continue
        if name == "storage":
            for prefix in ("sqlite:///", "journal:"):
                rest = value[len(prefix):]
                if value.startswith(prefix) and rest and not rest.startswith("/"):
                    out[name] = prefix + str((base / rest).resolve())
            continue
        always = name == "data_dir" or name.endswith(PATH_SUFFIXES)
        if name not in PATH_PARAMS and not always:
            continue
        parts = [p.strip() for p in value.split(",")]
        resolved = [str((base / p).resolve()) if p and not Path(p).expanduser().is_absolute()
                    and (always or (base / p).exists()) else p for p in parts]
        out[name] = ",".join(resolved)
    return out


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
