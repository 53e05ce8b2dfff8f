"""CV against the leaderboard: the table ``kit lb`` prints, the correlation of CV and public score, a linear fit,
and the submissions whose public gain lies inside the CV noise.

Everything here reads the ledger (:func:`kitlib.ledger.read_ledger`) and the runs' records (``manifest.json``'s
``cv``: mean, std and per-fold scores; ``oof.parquet``'s folds); nothing asks a platform, so it is tested on
generated rows.

- :func:`lb_table`: one row per upload of a competition, oldest first: time, run, CV mean, std and fold count,
  the public and private score exactly as the platform gave them (text), ``lb - cv`` (the public score minus the
  run's CV mean, in the metric's units), and the state (``scored``, ``pending``, ``error: <description>``, or
  the upload's own state while the platform has not been read).
- :func:`correlation` (Pearson and Spearman over scored uploads whose run has a CV mean, with their count),
  :func:`linear_fit` (public = slope x CV + intercept), :func:`inside_noise` (each new best public score whose
  gain over the previous best is within the CV noise of the two runs: 2 x std of their per-fold differences /
  sqrt(K) when they share folds, else 2 x sqrt(std_a^2 + std_b^2) / sqrt(K); std over folds as the runs record
  it, numpy's default).
- :func:`format_lb` puts them in words; :func:`save_plot` writes the CV-against-public plot beside the ledger
  (:func:`kitlib.plots.cv_vs_public` draws it, for notebooks too); :func:`latest_public` feeds ``kit runs``.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .competitions import Competition, get_competition
from .ledger import ledger_path, read_ledger
from .predictions import OOF_FILE, PREFIXES
from .runtime import runs_dir

SHOWN = ("uploading", "uploaded", "unknown")  # upload states the table lists
MIN_CORRELATION = 3  # scored uploads with a CV needed before a correlation is said


@dataclass(frozen=True)
class Correlation:
    """Pearson and Spearman correlation of CV mean and public score over ``n`` scored uploads (``nan`` when one of
    the two is constant)."""

    n: int
    pearson: float
    spearman: float


@dataclass(frozen=True)
class NoisyGain:
    """A new best public score whose gain over the previous best lies inside the CV noise of the two runs."""

    time: str
    run: str
    public: str
    previous: str
    previous_run: str
    gain: float
    noise: float
    how: str  # "shared folds" or "separate folds"


def number(text: object) -> float | None:
    """``text`` as a finite float, else ``None`` (a platform's score is text; an empty one is missing)."""
    try:
        value = float(str(text))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def run_cv(run_id: str) -> dict:
    """The ``cv`` record of run ``run_id`` (``mean``, ``std``, ``folds``), the figures that are not finite numbers
    left out; ``{}`` for a run that is gone or has none."""
    try:
        manifest = json.loads((runs_dir() / run_id / "manifest.json").read_text()) if run_id else {}
    except (OSError, ValueError):
        return {}
    cv = manifest.get("cv") if isinstance(manifest, dict) else None
    if not isinstance(cv, dict):
        return {}
    out = {k: v for k in ("mean", "std") if (v := number(cv.get(k))) is not None}
    folds = [number(f) for f in cv.get("folds")] if isinstance(cv.get("folds"), list) else []
    if folds and None not in folds:
        out["folds"] = folds
    return out


def lb_table(frame: pd.DataFrame, competition: str | Competition) -> pd.DataFrame:
    """The uploads (:data:`SHOWN`) of ``competition`` in the ledger ``frame``, oldest first, with their runs' CV
    (see the module docstring). Columns: ``time, run, cv_mean, cv_std, folds, public, private, lb_minus_cv,
    state, message``; ``public``/``private`` are the platform's strings (``""`` while unknown)."""
    name = get_competition(competition).name if not isinstance(competition, Competition) else competition.name
    columns = ["time", "run", "cv_mean", "cv_std", "folds", "public", "private", "lb_minus_cv", "state", "message"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    rows = frame[(frame["competition"] == name) & frame["upload_status"].isin(SHOWN)]
    out = []
    for row in rows.sort_values("time", kind="stable").to_dict("records"):
        cv = run_cv(row["run_id"])
        public = number(row["public_score"]) if row["platform_status"] == "scored" else None
        state = row["platform_status"] or row["upload_status"]
        if state == "error":
            state = f"error: {row['platform_error'] or '(no description)'}"
        out.append({"time": row["time"], "run": row["run_id"] or (row.get("kernel") or "-"),
                    "cv_mean": cv.get("mean"), "cv_std": cv.get("std"), "folds": len(cv.get("folds", [])),
                    "public": row["public_score"], "private": row["private_score"],
                    "lb_minus_cv": public - cv["mean"] if public is not None and "mean" in cv else None,
                    "state": state, "message": row["message"]})
    return pd.DataFrame(out, columns=columns)


def current_table(competition: str | Competition) -> pd.DataFrame:
    """:func:`lb_table` of the ledger as it is now: what a notebook plots with
    ``plots.cv_vs_public(leaderboard.current_table(COMPETITION))``."""
    return lb_table(read_ledger(), competition)


def _scored(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``(cv means, public scores)`` of the scored rows of ``table`` that have both."""
    pairs = [(row.cv_mean, number(row.public)) for row in table.itertuples()
             if row.state == "scored" and row.cv_mean is not None and not pd.isna(row.cv_mean)
             and number(row.public) is not None]
    if not pairs:
        return np.zeros(0), np.zeros(0)
    cv, public = (np.asarray(v, dtype=float) for v in zip(*pairs))
    return cv, public


def correlation(table: pd.DataFrame) -> Correlation | None:
    """Pearson and Spearman (Pearson of average ranks) correlation of CV mean and public score over the scored rows
    of ``table`` that have both; ``None`` below :data:`MIN_CORRELATION` such rows."""
    cv, public = _scored(table)
    if len(cv) < MIN_CORRELATION:
        return None

    def pearson(x: np.ndarray, y: np.ndarray) -> float:
        if np.ptp(x) == 0 or np.ptp(y) == 0:
            return float("nan")
        return float(np.corrcoef(x, y)[0, 1])

    ranks = (pd.Series(v).rank(method="average").to_numpy() for v in (cv, public))
    return Correlation(len(cv), pearson(cv, public), pearson(*ranks))


def linear_fit(table: pd.DataFrame) -> tuple[float, float, int] | None:
    """``(slope, intercept, n)`` of the least-squares line public = slope x CV + intercept over the scored rows of
    ``table``; ``None`` with fewer than two of them or a CV that never changes."""
    cv, public = _scored(table)
    if len(cv) < 2 or np.ptp(cv) == 0:
        return None
    slope, intercept = np.polyfit(cv, public, 1)
    return float(slope), float(intercept), len(cv)


def _fold_table(run_id: str) -> pd.DataFrame | None:
    """The columns of run ``run_id``'s ``oof.parquet`` that say which row fell into which fold (all but the
    predictions), rows in a fixed order; ``None`` when it cannot be read or has no ``fold``."""
    try:
        frame = pd.read_parquet(runs_dir() / run_id / OOF_FILE)
        keep = sorted((c for c in frame.columns if not str(c).startswith(PREFIXES)), key=str)
        if "fold" not in keep:
            return None
        table = frame[keep].astype(str)
        return table.sort_values(keep, kind="stable").reset_index(drop=True)
    except Exception:  # noqa: BLE001 - a missing or unreadable table: the folds cannot be shown to be shared
        return None


def shared_folds(run_a: str, run_b: str) -> bool:
    """True when the two runs' ``oof.parquet`` put the same rows in the same folds."""
    a, b = _fold_table(run_a), _fold_table(run_b)
    return a is not None and b is not None and list(a.columns) == list(b.columns) and a.equals(b)


def cv_noise(run_a: str, run_b: str) -> tuple[float, str] | None:
    """``(noise, how)``: how far apart the CV of two runs can be by chance (see the module docstring); ``None``
    when either run has no per-fold scores."""
    a, b = run_cv(run_a), run_cv(run_b)
    if "folds" not in a or "folds" not in b:
        return None
    k = min(len(a["folds"]), len(b["folds"]))
    if k and len(a["folds"]) == len(b["folds"]) and shared_folds(run_a, run_b):
        diff = np.asarray(a["folds"]) - np.asarray(b["folds"])
        return float(2 * np.std(diff) / math.sqrt(k)), "shared folds"
    if k and "std" in a and "std" in b:
        return float(2 * math.sqrt(a["std"] ** 2 + b["std"] ** 2) / math.sqrt(k)), "separate folds"
    return None


def inside_noise(table: pd.DataFrame, mode: str) -> list[NoisyGain]:
    """The scored rows of ``table`` (oldest first) that beat the best public score before them (``mode``: ``max``
    or ``min``, the metric's) by no more than the CV noise of the two runs."""
    sign = 1.0 if mode == "max" else -1.0
    best: tuple[float, dict] | None = None
    found = []
    for row in table.to_dict("records"):
        public = number(row["public"]) if row["state"] == "scored" else None
        if public is None:
            continue
        if best is not None and sign * (public - best[0]) > 0:
            noise = cv_noise(row["run"], best[1]["run"])
            gain = abs(public - best[0])
            if noise is not None and gain <= noise[0]:
                found.append(NoisyGain(row["time"], row["run"], row["public"], best[1]["public"], best[1]["run"],
                                       gain, noise[0], noise[1]))
        if best is None or sign * (public - best[0]) > 0:
            best = (public, row)
    return found


def _figure(value: float | None, spec: str) -> str:
    return "-" if value is None or pd.isna(value) else format(value, spec)


def format_table(table: pd.DataFrame) -> str:
    """The table as text, one upload a line (scores as the platform gave them, never rounded)."""
    lines = [("time (UTC)", "run", "cv mean +- std (K)", "public", "private", "lb - cv", "state")]
    for row in table.to_dict("records"):
        spread = (f"{row['cv_mean']:.4f} +- {row['cv_std']:.4f} ({row['folds']})"
                  if row["cv_mean"] is not None and not pd.isna(row["cv_mean"]) and row["cv_std"] is not None
                  and not pd.isna(row["cv_std"]) else _figure(row["cv_mean"], ".4f"))
        lines.append((str(row["time"])[:19].replace("T", " "), row["run"], spread, row["public"] or "-",
                      row["private"] or "-", _figure(row["lb_minus_cv"], "+.4f"), row["state"][:80]))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(lines[0]))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines)


def format_lb(table: pd.DataFrame, mode: str) -> str:
    """The table, then the correlation, the linear fit and the gains inside the CV noise, in words."""
    if table.empty:
        return "no uploads in the ledger yet (kit submit RUN --upload)"
    out = [format_table(table), ""]
    found = correlation(table)
    if found is None:
        out.append(f"correlation of CV mean and public score: needs {MIN_CORRELATION} scored uploads of runs with a "
                   f"CV ({len(_scored(table)[0])} so far)")
    else:
        out.append(f"correlation of CV mean and public score over {found.n} scored uploads: Pearson "
                   f"{found.pearson:.3f}, Spearman {found.spearman:.3f}")
    fit = linear_fit(table)
    if fit is not None:
        out.append(f"linear fit over {fit[2]}: public = {fit[0]:.4f} x cv {'+' if fit[1] >= 0 else '-'} "
                   f"{abs(fit[1]):.4f}")
    noisy = inside_noise(table, mode)
    for gain in noisy:
        out.append(f"inside the CV noise: {gain.time[:19].replace('T', ' ')} {gain.run} public {gain.public} beats "
                   f"{gain.previous} ({gain.previous_run}) by {gain.gain:.4g}, within the noise {gain.noise:.4g} "
                   f"({gain.how}): the gain may be luck")
    if not noisy and fit is not None:
        out.append("inside the CV noise: no new best public score was")
    return "\n".join(out)


def latest_public(frame: pd.DataFrame | None = None) -> dict[str, str]:
    """Run id -> the public score (the platform's text) of its latest scored upload, from the ledger ``frame``
    (default: :func:`read_ledger`)."""
    frame = read_ledger() if frame is None else frame
    if frame.empty:
        return {}
    scored = frame[(frame["platform_status"] == "scored") & (frame["run_id"] != "") & (frame["public_score"] != "")]
    return dict(zip(scored.sort_values("time", kind="stable")["run_id"],
                    scored.sort_values("time", kind="stable")["public_score"]))


def plot_path(competition: str) -> Path:
    """Where :func:`save_plot` writes: ``lb-<competition>.png`` beside the ledger."""
    return ledger_path().parent / f"lb-{competition}.png"


def save_plot(table: pd.DataFrame, competition: str | Competition) -> Path | None:
    """Write the plot of CV mean against public score (:func:`kitlib.plots.cv_vs_public`) to :func:`plot_path`;
    return the path, or ``None`` when no scored upload has a CV to plot."""
    from .plots import cv_vs_public

    comp = get_competition(competition) if not isinstance(competition, Competition) else competition
    if not len(_scored(table)[0]):
        return None
    figure = cv_vs_public(table, title=f"{comp.name}: CV against the public leaderboard", metric=comp.metric)
    path = plot_path(comp.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        figure.savefig(path, dpi=100, bbox_inches="tight")
    finally:
        import matplotlib.pyplot as plt

        plt.close(figure)
    return path


def competitions_uploaded(frame: pd.DataFrame) -> list[str]:
    """The competitions the ledger ``frame`` holds uploads of, in the order first recorded (known or not)."""
    if frame.empty:
        return []
    names = frame[frame["upload_status"].isin(SHOWN)]["competition"]
    return list(dict.fromkeys(names))

