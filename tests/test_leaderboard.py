"""CV against the leaderboard (kitlib.leaderboard) on a ledger of generated rows and generated run records: the
table keeps the platform's strings, the correlation and the fit agree with scipy and numpy, the CV noise follows
its two formulas (worked out by hand here), the plot is written, and kit runs gains lb and lb - cv."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from kitlib import cli, leaderboard, plots, run, submit
from kitlib.ledger import LEDGER_COLUMNS

COMP = "sentiment-classification"  # a built-in competition (max is better); nothing here asks its platform
K = 5


def a_run(run_id: str, folds: list[float], fold_of_row: list[int] | None = None) -> str:
    """A run record with these per-fold scores (mean and std as numpy gives them) and, when ``fold_of_row`` is
    given, an oof.parquet with that fold column (keys 0..n-1)."""
    folder = run.runs_dir() / run_id
    folder.mkdir(parents=True)
    cv = {"metric": "val_weighted_f1", "mean": float(np.mean(folds)), "std": float(np.std(folds)), "folds": folds}
    (folder / "manifest.json").write_text(json.dumps({"run_id": run_id, "competition": COMP, "status": "ok",
                                                      "score": cv["mean"], "cv": cv, "params": {}}))
    if fold_of_row is not None:
        n = len(fold_of_row)
        pd.DataFrame({"id": range(n), "fold": fold_of_row, "label": ["a"] * n, "p_a": np.linspace(0, 1, n)}).to_parquet(
            folder / "oof.parquet")
    return run_id


def a_row(minute: int, run_id: str, state: str = "scored", public: str = "", private: str = "", error: str = "",
          status: str = "uploaded") -> dict:
    time = f"2026-02-01T10:{minute:02d}:00.000000+00:00"
    return {**dict.fromkeys(LEDGER_COLUMNS, ""), "time": time, "competition": COMP, "file": f"/s/{run_id}.csv",
            "sha256": f"{minute:064d}", "run_id": run_id, "upload_status": status, "platform_id": str(100 + minute),
            "platform_status": state, "public_score": public, "private_score": private, "platform_error": error}


SHARED = [k for k in range(K) for _ in range(4)]  # 20 rows, 4 per fold


@pytest.fixture
def ledger(kit_dirs) -> pd.DataFrame:
    """Five scored uploads, one pending, one error, one 'not uploaded' (never listed)."""
    a_run("r1", [0.70, 0.72, 0.71, 0.69, 0.73], SHARED)
    a_run("r2", [0.74, 0.75, 0.73, 0.76, 0.72], SHARED)  # per-fold gains over r1: 4, 3, 2, 7, -1 hundredths
    a_run("r3", [0.80, 0.79, 0.81, 0.78, 0.82], list(reversed(SHARED)))  # other folds
    a_run("r4", [0.60, 0.62, 0.61, 0.59, 0.63])  # no oof.parquet
    rows = [a_row(1, "r1", public="0.700000"), a_row(2, "r2", public="0.7150"),  # +0.015: noise on shared folds
            a_row(3, "r4", public="0.600"), a_row(4, "r3", public="0.790", private="0.785"),
            a_row(5, "r3", public="0.8"),  # +0.01 over r3 itself: shared folds, no noise, a real gain
            a_row(6, "r2", state="pending"), a_row(7, "r1", state="error", error="bad file"),
            {**a_row(8, "r1", state=""), "upload_status": "not uploaded"}]
    for row in rows:
        submit.append_ledger(row)
    return submit.read_ledger()


def test_the_table_keeps_the_platforms_strings_and_says_each_state(ledger):
    table = leaderboard.lb_table(ledger, COMP)
    assert table.run.tolist() == ["r1", "r2", "r4", "r3", "r3", "r2", "r1"]  # not the unuploaded one
    assert table.public.tolist()[:5] == ["0.700000", "0.7150", "0.600", "0.790", "0.8"]  # never rounded
    assert table.state.tolist()[5:] == ["pending", "error: bad file"]
    assert table.lb_minus_cv.iloc[1] == pytest.approx(0.7150 - np.mean([0.74, 0.75, 0.73, 0.76, 0.72]))
    assert pd.isna(table.lb_minus_cv.iloc[5])
    text = leaderboard.format_table(table)
    assert "0.700000" in text and "0.7150" in text and "0.7400 +- 0.0141 (5)" in text and "-0.0250" in text


def test_correlation_and_fit_agree_with_scipy_and_numpy(ledger):
    from scipy import stats

    table = leaderboard.lb_table(ledger, COMP)
    cv = np.array([np.mean(f) for f in ([0.70, 0.72, 0.71, 0.69, 0.73], [0.74, 0.75, 0.73, 0.76, 0.72],
                                        [0.60, 0.62, 0.61, 0.59, 0.63], [0.80, 0.79, 0.81, 0.78, 0.82],
                                        [0.80, 0.79, 0.81, 0.78, 0.82])])
    public = np.array([0.7, 0.715, 0.6, 0.79, 0.8])
    found = leaderboard.correlation(table)
    assert found.n == 5
    assert found.pearson == pytest.approx(stats.pearsonr(cv, public)[0])
    assert found.spearman == pytest.approx(stats.spearmanr(cv, public)[0])
    slope, intercept, n = leaderboard.linear_fit(table)
    assert (slope, intercept) == pytest.approx(tuple(np.polyfit(cv, public, 1))) and n == 5
    assert leaderboard.correlation(table.iloc[:2]) is None and leaderboard.linear_fit(table.iloc[:1]) is None


def test_gains_inside_the_cv_noise_by_hand(ledger):
    table = leaderboard.lb_table(ledger, COMP)
    # r2 - r1 per fold: 0.04, 0.03, 0.02, 0.07, -0.01; mean 0.03, deviations 1, 0, -1, 4, -4 hundredths: the
    # variance is 34/5 = 6.8 (hundredths squared), so the noise is 2 x sqrt(6.8e-4) / sqrt(5) = 0.02332
    shared = 2 * math.sqrt(6.8e-4) / math.sqrt(K)
    assert leaderboard.shared_folds("r1", "r2") and not leaderboard.shared_folds("r1", "r3")
    assert leaderboard.cv_noise("r2", "r1") == (pytest.approx(shared), "shared folds")
    # r3 and r2 on other folds: each std sqrt(2) hundredths, so 2 x sqrt(2e-4 + 2e-4) / sqrt(5) = 0.01789
    separate = 2 * math.sqrt(4e-4) / math.sqrt(K)
    assert leaderboard.cv_noise("r3", "r2") == (pytest.approx(separate), "separate folds")
    assert leaderboard.cv_noise("r4", "r1") == (pytest.approx(separate), "separate folds")  # no oof.parquet for r4
    assert leaderboard.cv_noise("r3", "r3") == (0.0, "shared folds")

    (noisy,) = leaderboard.inside_noise(table, "max")  # r2: +0.015 < 0.0233; r3: +0.075; r3 again: +0.01 > 0
    assert (noisy.run, noisy.previous_run, noisy.how, noisy.public, noisy.previous) == (
        "r2", "r1", "shared folds", "0.7150", "0.700000")
    assert noisy.gain == pytest.approx(0.015) and noisy.noise == pytest.approx(shared)
    text = leaderboard.format_lb(table, "max")
    assert "inside the CV noise: 2026-02-01 10:02:00 r2 public 0.7150 beats 0.700000 (r1) by 0.015" in text
    assert "correlation of CV mean and public score over 5 scored uploads: Pearson" in text

    bigger = table.copy()
    bigger.loc[1, "public"] = "0.730"  # +0.03 over r1: outside the noise
    assert leaderboard.inside_noise(bigger, "max") == []
    assert leaderboard.inside_noise(bigger, "min") == []  # lower is better: only r4 beats the best, by 0.1
    assert "inside the CV noise: no new best public score was" in leaderboard.format_lb(bigger, "max")


def test_the_plot_is_written_beside_the_ledger_and_a_notebook_can_draw_it(ledger):
    table = leaderboard.current_table(COMP)
    path = leaderboard.save_plot(table, COMP)
    assert path == submit.ledger_path().parent / f"lb-{COMP}.png" and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    figure = plots.cv_vs_public(table, title="t")
    ax = figure.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert "public = CV" in labels and any(label.startswith("fit: ") for label in labels)
    identity = next(line for line in ax.get_lines() if line.get_label() == "public = CV")
    assert list(identity.get_xdata()) == list(identity.get_ydata())
    assert leaderboard.save_plot(table.iloc[5:], COMP) is None  # nothing scored: no plot


def test_kit_lb_of_a_competition_without_status_calls_prints_the_table(ledger, capsys, monkeypatch):
    assert cli.main(["lb", COMP]) == 0
    out = capsys.readouterr().out
    assert "aicrowd-cli 0.1.18 has no call" in out and "0.700000" in out and "plot: " in out


def test_kit_runs_gains_lb_and_lb_minus_cv(ledger, capsys):
    assert cli.main(["runs", COMP]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "lb" in lines[0].split() and "lb - cv" in lines[0]
    r3 = next(line for line in lines if line.startswith("r3"))
    assert " 0.8 " in r3 and "0.0000  " in r3  # the latest scored upload of r3, minus its CV mean 0.80
    r1 = next(line for line in lines if line.startswith("r1"))
    assert " 0.700000 " in r1 and "-0.0100" in r1


def test_the_readme_example_is_made_through_the_stand_in(tmp_path):
    """tests/lb_example.py (the README's "After the upload" table) runs and says what the README shows."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).with_name("lb_example.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIT_", "KAGGLE_"))}
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "example")], capture_output=True, text=True,
                          timeout=240, env=env)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("== demo-competition (kaggle): 7 uploads read, 7 changed, 1 pending\n")
    assert "Pearson 0.997, Spearman 1.000" in out and "public = 1.0434 x cv - 0.0402" in out
    assert "lgbm-seed-2 public 0.87310 beats 0.87190" in out and "error: Submission contains NaN" in out
    assert (tmp_path / "example" / "submissions" / "lb-demo-competition.png").is_file()
