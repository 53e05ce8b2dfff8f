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


# ------------------------------------------------------------------ issue 24: manifests of any shape
def _manifest(runs_dir, name: str, text: str) -> None:
    folder = runs_dir / name
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(text)


def test_a_score_that_is_not_a_number_counts_as_missing(kit_dirs, capsys):
    import json

    runs_dir = kit_dirs[0]
    for name, score in [("a", "0.93"), ("b", 0.5), ("c", True), ("d", None)]:
        _manifest(runs_dir, f"sentiment-classification-{name}", json.dumps(
            {"run_id": f"sentiment-classification-{name}", "competition": "sentiment-classification", "status": "ok",
             "score": score, "started": f"2026-01-0{ord(name) - 96}", "seconds": "12", "cv": {"mean": "x"},
             "params": ["not", "a", "table"]}))
    assert main(["runs", "--all"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("sentiment-classification-b") and "0.5000" in lines[1]  # the one real score first
    assert all(" - " in line for line in lines[2:])


def test_an_unreadable_manifest_is_listed_under_any_filter(kit_dirs, capsys):
    runs_dir = kit_dirs[0]
    _manifest(runs_dir, "sentiment-classification-torn", '{"run_id": "sentiment-classification-to')
    for args in (["runs"], ["runs", "--all"], ["runs", "sentiment-classification"],
                 ["runs", "sentiment-classification", "--all"]):
        assert main(args) == 0
        assert "sentiment-classification-torn  unreadable" in capsys.readouterr().out, args


def test_kit_runs_survives_any_manifest():
    """Generated JSON of any shape in the fields kit runs reads: the table is printed, never a traceback."""
    import json
    import tempfile
    from datetime import timedelta
    from pathlib import Path

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.text(max_size=8), inner, max_size=3), max_leaves=6)
    fields = st.sampled_from(["run_id", "competition", "status", "score", "cv", "params", "started", "seconds",
                              "submission", "data_dir", "kind", "inputs", "method", "heartbeat", "sweep"])
    manifests = st.dictionaries(fields, values, max_size=8) | values

    @settings(max_examples=60, deadline=timedelta(seconds=10), derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(manifests, min_size=1, max_size=3))
    def check(found):
        import os

        with tempfile.TemporaryDirectory() as folder:
            for i, manifest in enumerate(found):
                path = Path(folder) / f"run-{i}"
                path.mkdir()
                (path / "manifest.json").write_text(json.dumps(manifest))
            before = os.environ.get("KIT_RUNS_DIR")
            os.environ["KIT_RUNS_DIR"] = folder
            try:
                rows = runs_table.list_runs(include_all=True)
                assert len(rows) == len(found)
                runs_table.format_runs(rows)
                runs_table.list_runs("sentiment-classification", include_all=True)
            finally:
                if before is None:
                    os.environ.pop("KIT_RUNS_DIR", None)
                else:
                    os.environ["KIT_RUNS_DIR"] = before

    check()
