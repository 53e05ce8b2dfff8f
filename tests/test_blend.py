"""kit blend: compatible runs only, weights chosen out of fold, a new run folder with a valid submission."""
import json

import numpy as np
import pandas as pd
import pytest
from blend_runs import probability, spouse, spouse_run

from kitlib import blend, predictions, run, runs_table, submit
from kitlib.cli import main
from kitlib.competitions import sentiment_classification as sentiment
from kitlib.ensemble import nested
from kitlib.errors import DataError, ParameterError

LABELS = sentiment.LABELS
N, N_TEST = 60, 12


@pytest.fixture
def data_dir(tmp_path):
    return sentiment.write_demo(tmp_path / "data", seed=4, n_train=40, n_val=20, n_test=N_TEST)


def fake_run(runs_dir, name, data_dir, probs, test_probs, folds, *, target=None, competition="sentiment-classification",
             fold_seed=0):
    """A finished sentiment run folder holding the given out-of-fold and test probabilities."""
    folder = runs_dir / name
    folder.mkdir(parents=True)
    keys = pd.DataFrame({"file": ["train.csv"] * 40 + ["val.csv"] * 20, "row": list(range(1, 41)) + list(range(1, 21))})
    target = target if target is not None else TRUTH
    oof = predictions.frame(keys.iloc[:len(probs)], probs, sentiment.PROBABILITIES, fold=folds,
                            target={"label": np.asarray(LABELS)[target]})
    test = predictions.frame(pd.DataFrame({"file": "sample_submission.csv", "row": range(1, N_TEST + 1)}), test_probs,
                             sentiment.PROBABILITIES)
    predictions.write(folder, oof, test)
    run.update_manifest(folder, run_id=name, competition=competition, status="ok", score=0.0, data_dir=str(data_dir),
                        data=[{"path": "train.csv", "sha256": "abc"}], params={"fold_seed": fold_seed, "seed": 0},
                        cv={"mean": 0.5, "std": 0.1, "folds": [0.5]})
    return folder


TRUTH = np.arange(N) % 3
FOLDS = np.arange(N) % 4


def complementary(first_half: bool) -> np.ndarray:
    """Right and confident on one half of the rows, mildly wrong on the other."""
    probs = np.zeros((N, 3))
    right = (np.arange(N) < N // 2) == first_half
    for i, t in enumerate(TRUTH):
        wrong = (t + 1) % 3
        if right[i]:
            probs[i, t], probs[i, wrong], probs[i, (t + 2) % 3] = 0.8, 0.1, 0.1
        else:
            probs[i, t], probs[i, wrong], probs[i, (t + 2) % 3] = 0.35, 0.45, 0.2
    return probs


def test_a_blend_of_complementary_runs_scores_above_both(kit_dirs, data_dir):
    runs_dir = kit_dirs[0]
    test_probs = np.tile([0.2, 0.5, 0.3], (N_TEST, 1))
    a = fake_run(runs_dir, "sentiment-classification-a", data_dir, complementary(True), test_probs, FOLDS)
    b = fake_run(runs_dir, "sentiment-classification-b", data_dir, complementary(False), test_probs, FOLDS)
    alone = [sentiment.score_predictions(predictions.read(f)[0]) for f in (a, b)]
    out = blend.blend([a.name, str(b)], method="weights", message="two halves")
    manifest = run.read_manifest(out)
    assert out.name.startswith("sentiment-classification-blend-") and manifest["status"] == "ok"
    assert manifest["inputs"] == [a.name, b.name] and manifest["message"] == "two halves"
    assert manifest["cv"]["nested"] and len(manifest["cv"]["folds"]) == 4 and manifest["cv"]["n_rows"] == N
    assert manifest["score"] > max(alone) and manifest["score"] == pytest.approx(1.0)
    assert abs(sum(manifest["weights"].values()) - 1.0) < 1e-9
    oof, test = predictions.read(out)
    assert len(oof) == N and oof["fold"].tolist() == FOLDS.tolist() and len(test) == N_TEST
    submit.validate_submission(manifest["submission"]["path"], "sentiment-classification", data_dir)
    assert set(pd.read_csv(manifest["submission"]["path"]).label) == {"neutral"}
    listed = [r["run_id"] for r in runs_table.list_runs("sentiment-classification")]
    assert out.name in listed  # blend runs are listed among the others


def test_weights_are_chosen_on_the_other_folds(kit_dirs, data_dir, monkeypatch):
    """Each fold's weights are searched on the rows of the other folds only, then scored on that fold."""
    runs_dir = kit_dirs[0]
    test_probs = np.full((N_TEST, 3), 1 / 3)
    a = fake_run(runs_dir, "sentiment-classification-a", data_dir, complementary(True), test_probs, FOLDS)
    b = fake_run(runs_dir, "sentiment-classification-b", data_dir, complementary(False), test_probs, FOLDS)
    seen = []
    real = nested.METHODS["weights"]

    def spy(preds, rows, scorer, settings):  # the blend hands the ensemble row numbers (its metric scores frames)
        seen.append(sorted(set(FOLDS[rows].tolist())))
        return real(preds, rows, scorer, settings)

    monkeypatch.setitem(nested.METHODS, "weights", spy)
    blend.blend([a.name, b.name])
    assert seen == [[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2], [0, 1, 2, 3]]  # four folds, then all rows for test
    seen.clear()
    blend.blend([a.name, b.name], method="mean")
    assert seen == []  # equal weights: nothing is searched


def test_mismatched_runs_are_refused_with_what_differs(kit_dirs, data_dir):
    runs_dir = kit_dirs[0]
    probs, test_probs = complementary(True), np.full((N_TEST, 3), 1 / 3)
    a = fake_run(runs_dir, "sentiment-classification-a", data_dir, probs, test_probs, FOLDS)
    other_folds = fake_run(runs_dir, "sentiment-classification-f", data_dir, probs, test_probs, (FOLDS + 1) % 4,
                           fold_seed=7)
    with pytest.raises(ParameterError, match=r"use different fold assignments \(fold_seed 0 vs 7; first differing "
                                             r"out-of-fold row 1\)"):
        blend.blend([a.name, other_folds.name])
    fewer = fake_run(runs_dir, "sentiment-classification-r", data_dir, probs[:50], test_probs, FOLDS[:50],
                     target=TRUTH[:50])
    with pytest.raises(ParameterError, match=r"differ in their oof rows: 60 vs 50"):
        blend.blend([a.name, fewer.name])
    rec = fake_run(runs_dir, "recommender-x", data_dir, probs, test_probs, FOLDS, competition="recommender")
    with pytest.raises(ParameterError, match=r"runs of different competitions cannot be blended"):
        blend.blend([a.name, rec.name])
    with pytest.raises(ParameterError, match=r"Unknown blend method 'median'"):
        blend.blend([a.name, a.name], method="median")
    one_fold = [fake_run(runs_dir, f"sentiment-classification-{x}", data_dir, probs, test_probs, np.zeros(N, int))
                for x in "12"]
    with pytest.raises(ParameterError, match=r"hold a single validation fold.*use --method mean"):
        blend.blend([f.name for f in one_fold])
    assert run.read_manifest(blend.blend([f.name for f in one_fold], method="mean"))["cv"]["folds"] == [
        pytest.approx(sentiment.score_predictions(predictions.read(one_fold[0])[0]))]
    assert main(["blend", a.name, other_folds.name]) == 2  # a refusal is a usage error, nothing written
    assert len([p for p in runs_dir.iterdir() if "-blend-" in p.name]) == 1  # only the mean blend above


def test_manifest_cv_is_the_folds_summary(kit_dirs):
    r = run.start("sentiment-classification", params={"seed": 0})
    oof = predictions.frame({"row": [1, 2]}, [[1, 0, 0], [0, 1, 0]], sentiment.PROBABILITIES, fold=[0, 1],
                            target={"label": ["negative", "neutral"]})
    r.log_cv({"metric": "val_weighted_f1", "mean": 1.0, "std": 0.0, "folds": [1.0, 1.0], "n_rows": 2}, oof, None)
    manifest = json.loads((r.dir / "manifest.json").read_text())
    assert manifest["cv"]["n_rows"] == 2 and manifest["predictions"] == {"oof.parquet": str(r.dir / "oof.parquet")}


# ------------------------------------------------------------------ issue 24: inputs a blend cannot take
def two_runs(runs_dir, data_dir):
    test_probs = np.tile([0.2, 0.5, 0.3], (N_TEST, 1))
    return [fake_run(runs_dir, f"sentiment-classification-{x}", data_dir, complementary(x == "a"), test_probs, FOLDS)
            for x in "ab"]


def blend_folders(runs_dir):
    return [p for p in runs_dir.iterdir() if "-blend-" in p.name]


def test_a_moved_data_folder_is_one_line_and_leaves_no_running_blend(kit_dirs, data_dir, capsys):
    runs_dir = kit_dirs[0]
    a, b = two_runs(runs_dir, data_dir)
    data_dir.rename(data_dir.with_name("moved"))
    assert main(["blend", a.name, b.name]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"run {a.name} recorded its data folder '{data_dir}', which does not exist" in err
    assert [run.read_manifest(p)["status"] for p in blend_folders(runs_dir)] in ([], ["failed"])


def test_a_blend_that_fails_after_its_folder_exists_is_recorded_failed(kit_dirs, data_dir, monkeypatch):
    runs_dir = kit_dirs[0]
    a, b = two_runs(runs_dir, data_dir)
    monkeypatch.setattr(submit, "write_submission", lambda *args, **kw: (_ for _ in ()).throw(
        OSError(28, "No space left on device", "submissions/x.csv")))
    with pytest.raises(DataError, match="No space left on device: submissions/x.csv"):
        blend.blend([a.name, b.name])
    (folder,) = blend_folders(runs_dir)
    manifest = run.read_manifest(folder)
    assert manifest["status"] == "failed" and "No space left on device" in manifest["error"]
    assert folder.name not in [r["run_id"] for r in runs_table.list_runs("sentiment-classification")]


def test_a_run_blended_with_itself_is_refused(kit_dirs, data_dir, capsys):
    runs_dir = kit_dirs[0]
    a, _ = two_runs(runs_dir, data_dir)
    assert main(["blend", a.name, a.name]) == 2
    assert f"run {a.name} is given twice" in capsys.readouterr().err
    with pytest.raises(ParameterError, match="is given twice"):
        blend.blend([a.name, str(a)])  # by id and by folder: the same run
    assert blend_folders(runs_dir) == []


def test_an_oof_table_without_folds_is_refused_naming_run_file_and_column(kit_dirs, data_dir):
    runs_dir = kit_dirs[0]
    a, b = two_runs(runs_dir, data_dir)
    oof = pd.read_parquet(b / "oof.parquet").drop(columns="fold")
    oof.to_parquet(b / "oof.parquet", index=False)
    with pytest.raises(DataError, match=rf"run {b.name}: .*oof.parquet has no 'fold' column"):
        blend.blend([a.name, b.name])
    assert blend_folders(runs_dir) == []


@pytest.mark.parametrize("table, value", [("oof.parquet", np.nan), ("test_predictions.parquet", np.inf)])
def test_a_prediction_that_is_not_a_number_is_refused_naming_the_row(kit_dirs, data_dir, table, value):
    runs_dir = kit_dirs[0]
    a, b = two_runs(runs_dir, data_dir)
    frame = pd.read_parquet(b / table)
    frame.loc[6, "p_neutral"] = value
    frame.to_parquet(b / table, index=False)
    with pytest.raises(DataError, match=rf"run {b.name}: .*{table} row 7: column 'p_neutral' is (nan|inf); "
                                        r"expected a finite number"):
        blend.blend([a.name, b.name])
    assert blend_folders(runs_dir) == []


def test_a_blend_of_smoke_runs_is_a_smoke_run(kit_dirs, data_dir):
    runs_dir = kit_dirs[0]
    a, b = two_runs(runs_dir, data_dir)
    run.update_manifest(a, params={"smoke": True})
    out = blend.blend([a.name, b.name], method="mean")
    manifest = run.read_manifest(out)
    assert manifest["smoke"] is True and manifest["params"]["smoke"] is True
    assert out.name not in [r["run_id"] for r in runs_table.list_runs("sentiment-classification")]  # like any smoke run


# ------------------------------------------------------------------ issue 25: methods over a kit new competition
M = 600
M_FOLDS = np.arange(M) % 5


def copies_and_good(seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Twenty noisy copies of one signal, then one good input (the last): positive-class probabilities and y."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=M)
    y = (latent + rng.normal(scale=0.7, size=M) > 0).astype(np.int64)
    copies = [probability(latent + rng.normal(scale=3.0, size=M)) for _ in range(20)]
    return [*copies, probability(latent + rng.normal(scale=0.5, size=M))], y


@pytest.mark.parametrize("seed", [0, 1])
def test_bagged_hill_over_noisy_copies_and_one_good_input(kit_dirs, tmp_path, monkeypatch, seed):
    spouse(tmp_path / "data", monkeypatch)
    inputs, y = copies_and_good(seed)
    for i, p in enumerate(inputs):
        spouse_run(kit_dirs[0], f"spouse-{i:02d}", tmp_path / "data", p, y, M_FOLDS)
    assert main(["blend", "spouse-*", "--bags", "20", "--seed", str(seed)]) == 0  # hill: more than 3 inputs
    (out,) = blend_folders(kit_dirs[0])
    manifest = run.read_manifest(out)
    best = max(manifest["input_scores"].values(), key=lambda s: s["blend_cv"]["mean"])["blend_cv"]
    assert manifest["method"] == "hill" and manifest["settings"]["bags"] == 20 and len(manifest["inputs"]) == 21
    assert abs(manifest["cv"]["mean"] - best["mean"]) <= best["std"]  # within the best input's fold spread
    assert manifest["cv"]["in_sample"] >= best["score"]  # in-sample: at least the best input's on the same rows
    assert manifest["weights"]["spouse-20"] == max(manifest["weights"].values())
    assert {s["bag"] for s in manifest["hill_steps"]} == set(range(20))
    submit.validate_submission(manifest["submission"]["path"], "spouse", tmp_path / "data")


def test_stack_on_two_complementary_inputs_beats_both_in_nested_cv(kit_dirs, tmp_path, monkeypatch, capsys):
    spouse(tmp_path / "data", monkeypatch)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, M)
    signal, first = 2.0 * (y - 0.5), np.arange(M) < M // 2
    a = spouse_run(kit_dirs[0], "spouse-a", tmp_path / "data", probability(
        np.where(first, signal + rng.normal(size=M), rng.normal(size=M))), y, M_FOLDS)
    b = spouse_run(kit_dirs[0], "spouse-b", tmp_path / "data", probability(
        np.where(first, rng.normal(size=M), signal + rng.normal(size=M))), y, M_FOLDS)
    assert main(["blend", a.name, b.name, "--method", "stack"]) == 0
    printed = capsys.readouterr().out
    assert "stacker: logistic over 2 features" in printed and "in-sample (optimistic)" in printed
    manifest = run.read_manifest(blend_folders(kit_dirs[0])[0])
    alone = [s["blend_cv"]["mean"] for s in manifest["input_scores"].values()]
    assert manifest["cv"]["mean"] > max(alone) + 0.05 and manifest["cv"]["nested"] is True
    assert manifest["weights"] is None and manifest["stacker"]["kind"] == "logistic"
    assert manifest["stacker"]["features"] == ["spouse-a:p_1", "spouse-b:p_1"]
    assert np.array(manifest["stacker"]["coef"]).shape == (1, 2) and min(manifest["stacker"]["coef"][0]) > 0
    oof, test = predictions.read(blend_folders(kit_dirs[0])[0])
    assert np.allclose(oof[["p_0", "p_1"]].sum(axis=1), 1.0) and len(test) == 20
    submit.validate_submission(manifest["submission"]["path"], "spouse", tmp_path / "data")


def test_rank_suits_order_based_metrics_only(kit_dirs, tmp_path, monkeypatch, data_dir):
    spouse(tmp_path / "spouse-data", monkeypatch, metric="log_loss")
    inputs, y = copies_and_good(0)
    names = [spouse_run(kit_dirs[0], f"spouse-{i}", tmp_path / "spouse-data", p, y, M_FOLDS).name for i, p in
             enumerate(inputs[-2:])]
    with pytest.raises(ParameterError, match=r"spouse's 'val_log_loss' scores the values themselves: use method "
                                             r"'mean', 'weights', 'hill' or 'stack'"):
        blend.blend(names, method="rank")
    a, b = two_runs(kit_dirs[0], data_dir)  # weighted F1 reads each row's most probable class: ranks within rows
    manifest = run.read_manifest(blend.blend([a.name, b.name], method="rank"))
    assert manifest["method"] == "rank" and manifest["cv"]["nested"] is False
    assert manifest["weights"] == {a.name: 0.5, b.name: 0.5}


def test_one_validation_fold_takes_mean_and_rank_only(kit_dirs, data_dir):
    runs_dir = kit_dirs[0]
    probs, test_probs = complementary(True), np.full((N_TEST, 3), 1 / 3)
    one = [fake_run(runs_dir, f"sentiment-classification-{x}", data_dir, probs, test_probs, np.zeros(N, int))
           for x in "123"]
    for method in ("hill", "weights", "stack"):
        with pytest.raises(ParameterError, match=rf"hold a single validation fold, so {method} cannot choose on other "
                                                 r"folds and be scored on this one; use --method mean or rank"):
            blend.blend([f.name for f in one], method=method)
    assert run.read_manifest(blend.blend([f.name for f in one], method="rank"))["cv"]["folds"] == [
        pytest.approx(sentiment.score_predictions(predictions.read(one[0])[0]))]
