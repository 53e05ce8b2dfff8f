"""``kit runs``: the table of runs, best score first, read from the manifests in the runs folder.

Smoke, failed, running and interrupted runs stay out unless asked for; a ``running`` run whose heartbeat
stopped shows as ``interrupted``; a manifest that cannot be read is listed, never hidden; blend runs sit
among the others. Each row shows the score (the competition metric on the pooled out-of-fold predictions),
the CV mean +- std over the folds, the data folder and what differs between the listed runs: parameters, and the
spec file and the feature set (:mod:`kitlib.project_state`) where the runs recorded them.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
import time
from pathlib import Path
from typing import Any

from .competitions import Competition, competition_name, get_competition
from .errors import ParameterError
from .leaderboard import latest_public
from .leaderboard import number as number_of_text
from .project_state import feature_digest
from .runtime import runs_dir, stale_after_s

_SHAPES: dict[str, type] = {"params": dict, "cv": dict, "submission": dict, "sweep": dict, "metrics": dict,
                             "inputs": list, "spec": dict, "features": dict}
_TEXTS = ("run_id", "competition", "status", "started", "heartbeat", "data_dir", "kind", "method", "error")


def number(value: Any) -> float | None:
    """``value`` as a float when it is a finite number (not a bool), else ``None`` (missing)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def clean_row(data: dict, folder: str) -> dict:
    """A manifest made safe to sort and show, whatever was written into it: a score, seconds or CV figure that is
    not a finite number is missing; a field of the wrong kind (``params`` not a table, ``started`` not text) is
    emptied or written as text; ``run_id`` defaults to the ``folder`` name."""
    row = dict(data)
    for key, kind in _SHAPES.items():
        if key in row and not isinstance(row[key], kind):
            row[key] = kind()
    for key in _TEXTS:
        if row.get(key) is not None and not isinstance(row[key], str):
            row[key] = json.dumps(row[key], default=str)
    row["run_id"] = row.get("run_id") or folder
    row["score"], row["seconds"] = number(row.get("score")), number(row.get("seconds"))
    if row.get("cv"):
        cv = dict(row["cv"])
        cv["mean"], cv["std"] = number(cv.get("mean")), number(cv.get("std"))
        cv["folds"] = cv.get("folds") if isinstance(cv.get("folds"), list) else []
        row["cv"] = cv
    if row.get("submission") and not isinstance(row["submission"].get("path"), str):
        row["submission"] = {}
    return row


def is_ranked(row: dict) -> bool:
    """True for a finished run on real settings: status ``ok`` and not a smoke run."""
    return row.get("status") == "ok" and not (row.get("params") or {}).get("smoke")


def effective_status(row: dict, now: float | None = None) -> str:
    """The status to show: a ``running`` run whose ``heartbeat`` is older than
    :func:`kitlib.runtime.stale_after_s` (``KIT_STALE_AFTER_S``, default 120 s) stopped: ``interrupted``."""
    status = row.get("status") or "?"
    beat = row.get("heartbeat")
    if status != "running" or not beat:
        return status
    try:
        age = (now or time.time()) - _dt.datetime.fromisoformat(str(beat)).timestamp()
    except ValueError:
        return status
    limit = stale_after_s()
    return "interrupted" if age > limit else status


def list_runs(competition: str | Competition | None = None, *, include_all: bool = False) -> list[dict]:
    """Manifests of the runs (of ``competition`` if given), best score first within each competition.

    Smoke, failed, running and interrupted runs are left out unless ``include_all``; runs without a score
    come last, newest first (a score that is not a number counts as none). Blend runs are listed among the
    others. A run whose heartbeat stopped shows as ``interrupted`` (:func:`effective_status`); a manifest that
    cannot be read is listed as ``unreadable`` (with its folder) under any filter, never hidden; a readable one
    with fields of the wrong kind is shown with those fields missing (:func:`clean_row`).
    """
    competition = competition_name(competition)
    rows = []
    folder = runs_dir()
    for path in sorted(folder.glob("*/manifest.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except (ValueError, OSError) as exc:  # listed under any filter: its competition cannot be known
            rows.append({"run_id": path.parent.name, "status": "unreadable", "error": f"{path}: {exc}",
                         "score": None})
            continue
        data = clean_row(data, path.parent.name)
        data["status"] = effective_status(data)
        if competition and (data.get("competition") or "") != competition:
            continue
        if include_all or is_ranked(data):
            rows.append(data)

    def key(row: dict):
        try:
            sign = -1 if get_competition(row.get("competition") or "").mode == "max" else 1
        except ParameterError:
            sign = 1
        score = row.get("score")
        return (row.get("competition") or "", score is None, sign * score if score is not None else 0,
                _neg_time(row.get("started") or ""))

    return sorted(rows, key=key)


def _neg_time(started: str) -> str:
    return "".join(chr(0x10FFFF - ord(c)) for c in started)


def data_label(row: dict) -> str:
    """``demo`` for a run on the embedded demo set, else its data folder (relative when inside the project)."""
    folder = row.get("data_dir")
    if not folder:
        return "-"
    try:
        if Path(folder).resolve() == get_competition(row.get("competition") or "").demo_dir.resolve():
            return "demo"
    except ParameterError:
        pass
    return _shown_path(str(folder))


def compared(row: dict) -> dict:
    """What "differs" compares for one run: its parameters, and ``spec`` (the spec file's sha256, 8 digits) and
    ``features`` (:func:`kitlib.project_state.feature_digest`) when the run recorded them."""
    params = dict(row.get("params") or {})
    spec = row.get("spec") if isinstance(row.get("spec"), dict) else {}
    features = feature_digest(row.get("features"))
    if spec.get("sha256") and "spec" not in params:
        params["spec"] = str(spec["sha256"])[:8]
    if features and "features" not in params:
        params["features"] = features
    return params


def differing_params(rows: list[dict], limit: int = 4) -> list[str]:
    """One text per row naming the parameters whose values differ between the notebook runs of ``rows``
    (``data_dir`` aside, at most ``limit``), the spec file and feature set first (:func:`compared`); a blend run
    says what it blends, an import which file it read."""
    runs = [row for row in rows if row.get("kind") not in ("blend", "import")]
    values = [compared(row) for row in runs]
    names: list[str] = [n for n in ("spec", "features") if any(n in v for v in values)]
    for params in values:
        names += [n for n in params if n not in names and n != "data_dir"]
    differ = [n for n in names if len({json.dumps(v.get(n), default=str) for v in values}) > 1][:limit]
    out = []
    shown = iter(values)
    for row in rows:
        if row.get("kind") == "blend":
            out.append(f"blend ({row.get('method')}) of {len(row.get('inputs') or [])} inputs")
        elif row.get("kind") == "import":
            source = (row.get("source") or {}).get("oof") if isinstance(row.get("source"), dict) else None
            out.append(f"imported from {Path(str((source or {}).get('path') or '?')).name}")
        else:
            params = next(shown)
            out.append(" ".join(f"{n}={json.dumps(params.get(n), default=str)}" for n in differ) or "-")
    return out


def _shown_path(path: str) -> str:
    """``path`` relative to the working directory when it lies below it, else as it is."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def format_runs(rows: list[dict]) -> str:
    """A plain-text table of runs: id, status, the score (the competition metric on the pooled validation
    predictions, which ranks the table), CV mean +- std over the folds, ``lb`` (the public score of the run's latest
    scored upload, as the platform gave it: ``kit lb`` reads it) and ``lb - cv``, the data, the parameters that
    differ between the listed runs, seconds and submission."""
    if not rows:
        return "no runs yet (kit run COMPETITION; kit runs --all lists smoke and failed runs too)"
    differ: list[str] = [""] * len(rows)
    for name in {row.get("competition") for row in rows}:  # parameters compare within a competition
        where = [i for i, row in enumerate(rows) if row.get("competition") == name]
        for i, text in zip(where, differing_params([rows[i] for i in where])):
            differ[i] = text
    public = latest_public()
    table = [("run", "status", "metric", "score", "cv mean +- std", "lb", "lb - cv", "data", "differs", "seconds",
              "submission")]
    for i, row in enumerate(rows):
        try:
            metric = get_competition(row.get("competition") or "").metric
        except ParameterError:
            metric = "?"
        score, cv = row.get("score"), row.get("cv") or {}
        sub = (row.get("submission") or {}).get("path", "")
        spread = (f"{cv['mean']:.4f} +- {cv['std']:.4f} ({len(cv.get('folds') or [])})"
                  if isinstance(cv.get("mean"), (int, float)) and isinstance(cv.get("std"), (int, float)) else "-")
        lb = public.get(str(row.get("run_id")), "")
        public_score = number_of_text(lb)
        gap = public_score - cv["mean"] if public_score is not None and isinstance(cv.get("mean"), float) else None
        table.append((row.get("run_id", "?"), row.get("status", "?"), metric,
                      f"{score:.4f}" if isinstance(score, (int, float)) else "-", spread, lb or "-",
                      f"{gap:+.4f}" if gap is not None else "-", data_label(row), differ[i],
                      f"{row['seconds']:.0f}" if isinstance(row.get("seconds"), (int, float)) else "-",
                      _shown_path(sub) if sub else "-"))
    widths = [max(len(str(r[i])) for r in table) for i in range(len(table[0]))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in table)
