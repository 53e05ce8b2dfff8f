"""kit runs: best first, CV spread, data folder, differing parameters; smoke and failed runs only when asked."""
from kitlib import run, runs_table
from kitlib.cli import main
from kitlib.competitions import sentiment_classification as sentiment


def test_kit_runs_table_best_first(kit_dirs, monkeypatch):
    runs_dir = kit_dirs[0]
    for name, score in [("a", 0.5), ("b", 0.9), ("c", None)]:
        folder = runs_dir / f"sentiment-classification-{name}"
        folder.mkdir(parents=True)
        run.update_manifest(folder, run_id=folder.name, competition="sentiment-classification", status="ok",
                            score=score, started=f"2026-01-0{len(name)}")
    rows = runs_table.list_runs("sentiment-classification")
    assert [r["run_id"][-1] for r in rows] == ["b", "a", "c"]
    table = runs_table.format_runs(rows)
    assert table.splitlines()[1].startswith("sentiment-classification-b") and "0.9000" in table


def test_kit_runs_leaves_smoke_and_failed_runs_out_unless_asked(kit_dirs, capsys):
    runs_dir = kit_dirs[0]
    for name, status, smoke, score in [("a", "ok", False, 0.7), ("b", "ok", True, 0.9), ("c", "failed", False, None)]:
        folder = runs_dir / f"sentiment-classification-{name}"
        folder.mkdir(parents=True)
        run.update_manifest(folder, run_id=folder.name, competition="sentiment-classification", status=status,
                            score=score, params={"smoke": smoke, "seed": len(name), "lr": 0.1 if name == "a" else 0.2},
                            cv={"mean": score or 0.0, "std": 0.01, "folds": [1, 2]},
                            data_dir=str(sentiment.COMPETITION.demo_dir))
    assert [r["run_id"][-1] for r in runs_table.list_runs()] == ["a"]
    assert [r["run_id"][-1] for r in runs_table.list_runs(include_all=True)] == ["b", "a", "c"]
    assert main(["runs", "--all"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert "cv mean +- std" in table[0] and "differs" in table[0]
    assert "0.9000 +- 0.0100 (2)" in table[1] and " demo " in table[1] and "smoke=true" in table[1]
    assert "lr=0.2" in table[1] and "lr=0.1" in table[2]
    assert main(["runs", "no-such-competition"]) == 2
