"""kit import: predictions made elsewhere become a run after every check, scored by the kit, flagged when too good."""
import numpy as np
import pandas as pd
import pytest

from kitlib import imports, predictions, run, runs_table, submit
from kitlib.cli import main
from kitlib.competitions import get_competition
from kitlib.competitions import sentiment_classification as sentiment
from kitlib.errors import DataError, ParameterError
from kitlib.provenance import run_concerns

COMP = "sentiment-classification"
LABELS = list(sentiment.LABELS)
N_TRAIN, N_VAL, N_TEST = 40, 20, 12


@pytest.fixture
def data_dir(tmp_path):
    return sentiment.write_demo(tmp_path / "data", seed=4, n_train=N_TRAIN, n_val=N_VAL, n_test=N_TEST)


def truth(data_dir) -> np.ndarray:
    data = sentiment.load(data_dir)
    return np.concatenate([data.y_train, data.y_val])


def files(tmp_path, data_dir, change=None, probs=None, n_folds=4):
    """An out-of-fold and a test file as a teammate would write them from `kit folds` (CSV), with ``change`` applied
    to the out-of-fold frame; returns their paths."""
    folds = get_competition(COMP).folds(data_dir, n_folds, 0)
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(3), size=len(folds)) if probs is None else probs
    oof = pd.concat([folds, pd.DataFrame(p, columns=sentiment.PROBABILITIES)], axis=1)
    test = pd.concat([pd.DataFrame({"file": "sample_submission.csv", "row": np.arange(1, N_TEST + 1)}),
                      pd.DataFrame(rng.dirichlet(np.ones(3), size=N_TEST), columns=sentiment.PROBABILITIES)], axis=1)
    if change is not None:
        oof = change(oof)
    oof.to_csv(tmp_path / "oof.csv", index=False)
    test.to_parquet(tmp_path / "test.parquet", index=False)
    return tmp_path / "oof.csv", tmp_path / "test.parquet"


def test_an_import_is_a_run_with_both_tables_the_kits_score_and_a_valid_submission(kit_dirs, tmp_path, data_dir):
    oof_file, test_file = files(tmp_path, data_dir, change=lambda f: f.assign(score=0.999)[::-1])  # any order
    out = imports.import_predictions(COMP, oof_file, test_file, data_dir=data_dir, n_folds=4, fold_seed=0,
                                     message="a teammate's logreg")
    manifest = run.read_manifest(out)
    assert out.name.startswith(f"{COMP}-import-") and manifest["status"] == "ok" and manifest["imported"] is True
    assert manifest["source"]["oof"] == {"path": str(oof_file.resolve()), "sha256": submit.file_sha256(oof_file)}
    assert manifest["source"]["test"]["sha256"] == submit.file_sha256(test_file)
    assert (manifest["n_folds"], manifest["fold_seed"]) == (4, 0) and manifest["warnings"] == []
    assert sorted(d["path"] for d in manifest["data"]) == sorted(str(p) for p in data_dir.iterdir() if p.is_file())
    oof, test = predictions.read(out)
    assert list(oof.columns) == ["file", "row", "fold", "label", *sentiment.PROBABILITIES]
    assert oof["row"].tolist()[:3] == [1, 2, 3]
    assert oof["label"].tolist() == np.asarray(LABELS)[truth(data_dir)].tolist()
    assert len(test) == N_TEST and test["row"].tolist() == list(range(1, N_TEST + 1))
    own = [sentiment.score_predictions(oof[oof.fold == k]) for k in range(4)]
    assert manifest["cv"]["folds"] == pytest.approx(own) and manifest["score"] == pytest.approx(
        sentiment.score_predictions(oof))  # the kit's own computation; the file's 'score' column is never read
    submit.validate_submission(manifest["submission"]["path"], COMP, data_dir)
    assert out.name in [r["run_id"] for r in runs_table.list_runs(COMP)]
    assert "imported from oof.csv" in runs_table.format_runs(runs_table.list_runs(COMP))
    assert [c.kind for c in run_concerns(manifest)] == []  # not the demo data, not smoke


def bad_key(f):
    f.loc[8, "row"] = 999
    return f


def twice(f):
    f.loc[5, ["file", "row"]] = f.loc[4, ["file", "row"]].to_numpy()
    return f


def wrong_fold(f):
    f.loc[4, "fold"] = (f.loc[4, "fold"] + 1) % 4
    return f


def nan(f):
    f.loc[6, "p_neutral"] = np.nan
    return f


def above_one(f):
    f.loc[2, ["p_negative", "p_neutral", "p_positive"]] = [1.2, -0.1, -0.1]
    return f


def off_sum(f):
    f.loc[7, "p_neutral"] += 0.01
    return f


def wrong_label(f):
    f["label"] = np.asarray(LABELS)[(np.arange(len(f)) % 3)]
    return f


@pytest.mark.parametrize("change, message", [
    (bad_key, r"oof.csv row 9: key \(file='train.csv', row=999\) is not a labelled row of the competition"),
    (twice, r"oof.csv row 6: key \(file='train.csv', row=5\) appears twice"),
    (lambda f: f.iloc[:-3], r"oof.csv: 3 of the 60 rows the folds validate have no prediction; the first is "
                            r"\(file='val.csv', row=18\)"),
    (wrong_fold, r"oof.csv row 5: fold \d, but kit folds sentiment-classification --n-folds 4 --fold-seed 0 put this "
                 r"row in fold \d"),
    (lambda f: f.drop(columns="fold"), r"oof.csv: no 'fold' column; give each row's fold as kit folds"),
    (lambda f: f.drop(columns="p_neutral"), r"oof.csv: missing prediction column\(s\) \['p_neutral'\]"),
    (lambda f: f.assign(p_maybe=0.0), r"oof.csv: unknown prediction column\(s\) \['p_maybe'\]"),
    (nan, r"oof.csv row 7: column 'p_neutral' is nan; expected a finite number"),
    (above_one, r"oof.csv row 3: column 'p_negative' is 1.2; a class probability lies in \[0, 1\]"),
    (off_sum, r"oof.csv row 8: p_negative \+ p_neutral \+ p_positive = 1.01; class probabilities sum to 1"),
    (wrong_label, r"oof.csv row \d+: column 'label' is '\w+', but the data says '\w+'"),
    (lambda f: f.drop(columns="row"), r"oof.csv: no key column\(s\) \['row'\]"),
])
def test_each_refusal_names_the_file_the_row_and_what_differs(kit_dirs, tmp_path, data_dir, change, message):
    oof_file, test_file = files(tmp_path, data_dir, change)
    with pytest.raises(DataError, match=message):
        imports.import_predictions(COMP, oof_file, test_file, data_dir=data_dir, n_folds=4, fold_seed=0)
    assert not kit_dirs[0].exists() or list(kit_dirs[0].iterdir()) == []  # nothing written


def test_test_rows_and_folds_settings_are_checked_too(kit_dirs, tmp_path, data_dir):
    oof_file, test_file = files(tmp_path, data_dir)
    test = pd.read_parquet(test_file)
    test.iloc[:-1].to_parquet(tmp_path / "short.parquet")
    with pytest.raises(DataError, match=r"short.parquet: 1 of the 12 test rows have no prediction; the first is "
                                        r"\(file='sample_submission.csv', row=12\)"):
        imports.import_predictions(COMP, oof_file, tmp_path / "short.parquet", data_dir=data_dir, n_folds=4)
    with pytest.raises(DataError, match=r"oof.csv row \d+: fold \d, but kit folds sentiment-classification "
                                        r"--n-folds 5"):
        imports.import_predictions(COMP, oof_file, test_file, data_dir=data_dir)  # the notebook's 5 folds
    with pytest.raises(ParameterError, match="recommender has no fold assignment to share: it validates on one "
                                             "leave-last-out split"):
        imports.import_predictions("recommender", oof_file, test_file)


def test_a_binary_target_may_give_the_positive_class_alone():
    from kitlib.competitions.rows import RowTables
    from kitlib.import_checks import ROW, check_columns

    tables = RowTables(pd.DataFrame({"id": ["a", "b"]}), pd.DataFrame({"id": ["c"]}), ("p_0", "p_1"), (("p_0", "p_1"),))
    frame = pd.DataFrame({ROW: [1, 2], "id": ["a", "b"], "p_1": [0.25, 1.0]})
    assert check_columns(frame, "f.csv", tables)["p_0"].tolist() == [0.75, 0.0]


def test_a_label_copy_is_accepted_but_flagged_and_scored_by_the_kit(kit_dirs, tmp_path, data_dir, capsys):
    onehot = np.eye(3)[truth(data_dir)]
    oof_file, test_file = files(tmp_path, data_dir, probs=onehot)
    assert main(["import", COMP, "--oof", str(oof_file), "--test", str(test_file), "--data-dir", str(data_dir),
                 "--n-folds", "4", "--fold-seed", "0"]) == 0
    out = capsys.readouterr()
    assert "warning: the out-of-fold predictions equal the labels" in out.err
    assert "nested CV cannot see leakage inside an input" in out.err
    (manifest,) = [run.read_manifest(p) for p in kit_dirs[0].iterdir()]
    assert manifest["score"] == 1.0 and manifest["cv"]["folds"] == [1.0] * 4
    assert len(manifest["warnings"]) == 1 and "equal the labels" in manifest["warnings"][0]


def test_an_import_far_above_every_kit_run_is_flagged(kit_dirs, tmp_path, data_dir):
    y = truth(data_dir)
    probs = np.full((len(y), 3), 0.2)
    probs[np.arange(len(y)), y] = 0.6  # right on every row, but not a copy of the labels
    kit_run = kit_dirs[0] / f"{COMP}-20260101-000000-abcd"
    kit_run.mkdir(parents=True)
    shas = [{"path": str(p), "sha256": submit.file_sha256(p)} for p in sorted(data_dir.iterdir()) if p.is_file()]
    run.update_manifest(kit_run, run_id=kit_run.name, competition=COMP, status="ok", score=0.6, data=shas,
                        params={"smoke": False}, cv={"metric": "val_weighted_f1", "mean": 0.6, "std": 0.05})
    oof_file, test_file = files(tmp_path, data_dir, probs=probs)
    out = imports.import_predictions(COMP, oof_file, test_file, data_dir=data_dir, n_folds=4, fold_seed=0)
    (warning,) = run.read_manifest(out)["warnings"]
    assert warning.startswith(f"CV 1.0000 beats the best kit run {kit_run.name} (0.6000 +- 0.0500) by 8.0 fold "
                              "standard deviations")


def test_folds_from_a_run_take_its_rows_folds_and_settings(kit_dirs, tmp_path, data_dir):
    folds = get_competition(COMP).folds(data_dir, 3, 7, smoke=False)
    source = kit_dirs[0] / f"{COMP}-20260101-000000-beef"
    source.mkdir(parents=True)
    oof = folds.assign(label=np.asarray(LABELS)[truth(data_dir)], p_negative=0.2, p_neutral=0.5, p_positive=0.3)
    predictions.write(source, oof, None)
    shas = [{"path": str(p), "sha256": submit.file_sha256(p)} for p in sorted(data_dir.iterdir()) if p.is_file()]
    run.update_manifest(source, run_id=source.name, competition=COMP, status="ok", data_dir=str(data_dir), data=shas,
                        params={"n_folds": 3, "fold_seed": 7, "smoke": True})
    oof_file, test_file = files(tmp_path, data_dir, change=lambda f: f.drop(columns="fold"))
    out = imports.import_predictions(COMP, oof_file, test_file, folds_from=source.name)
    manifest = run.read_manifest(out)
    assert (manifest["n_folds"], manifest["fold_seed"], manifest["smoke"]) == (3, 7, True)  # the run's, smoke too
    assert predictions.read(out)[0]["fold"].tolist() == folds["fold"].tolist()
    assert [c.kind for c in run_concerns(manifest)] == ["smoke"]
    with pytest.raises(ParameterError, match=r"--n-folds and --fold-seed go without it"):
        imports.import_predictions(COMP, oof_file, test_file, folds_from=source.name, n_folds=3)
    with pytest.raises(ParameterError, match=r"--folds-from .* ran on .*, whose files differ"):
        other = sentiment.write_demo(tmp_path / "other", seed=5, n_train=N_TRAIN, n_val=N_VAL, n_test=N_TEST)
        imports.import_predictions(COMP, oof_file, test_file, data_dir=other, folds_from=source.name)
