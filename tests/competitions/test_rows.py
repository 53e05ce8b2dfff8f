"""Competition.folds and kit folds: one fold assignment per competition, its defaults from the notebook, the smoke
subset, hold-outs as one fold, kit new competitions as their template assigns folds, the recommender refused.
(tests/test_notebooks.py compares kit folds with every smoke run's oof.parquet.)"""
import numpy as np
import pandas as pd
import pytest
from tabular_sets import write_kaggle_set

from kitlib import scaffold
from kitlib.cli import main
from kitlib.competitions import get_competition
from kitlib.competitions import sentiment_classification as sentiment
from kitlib.competitions.rows import fold_settings
from kitlib.errors import ParameterError
from kitlib.folds import assign_folds


@pytest.fixture
def data_dir(tmp_path):
    return sentiment.write_demo(tmp_path / "data", seed=2, n_train=300, n_val=200, n_test=10)


def test_sentiment_folds_default_to_the_notebooks_parameters_and_smoke_subsets(tmp_path, data_dir, capsys):
    comp = get_competition("sentiment-classification")
    y = np.concatenate([sentiment.load(data_dir).y_train, sentiment.load(data_dir).y_val])
    table = comp.folds(data_dir)
    assert list(table.columns) == ["file", "row", "fold"] and len(table) == 500
    assert table["fold"].tolist() == assign_folds(500, n_splits=5, stratify=y, seed=0).tolist()  # the notebook's 5
    smoke = comp.folds(data_dir, smoke=True)
    assert len(smoke) == sentiment.SMOKE_ROWS and sorted(set(smoke["fold"])) == [0, 1]  # the smoke run's 2 folds
    assert smoke["fold"].tolist() == assign_folds(400, n_splits=2, stratify=y[:400], seed=0).tolist()
    out = tmp_path / "folds.csv"
    assert main(["folds", comp.name, "--data-dir", str(data_dir), "--n-folds", "3", "--fold-seed", "7",
                 "--out", str(out)]) == 0
    assert pd.read_csv(out).astype(str).values.tolist() == comp.folds(data_dir, 3, 7).astype(str).values.tolist()
    printed = capsys.readouterr().out
    assert "500 rows of sentiment-classification, 3 folds, fold_seed 7; keys ['file', 'row']" in printed


def test_the_science_exams_knob_is_folds_and_hold_outs_are_one_fold(tmp_path, capsys):
    exam = get_competition("llm-science-exam")
    assert (fold_settings(exam).n_folds, fold_settings(exam, smoke=True).n_folds) == (3, 2)
    clocks = get_competition("tell-the-time")
    settings = fold_settings(clocks)
    assert settings.n_folds == 1 and dict(settings.params) == {"n_train": 0, "val_fraction": 0.15}
    table = clocks.folds(n_folds=1, fold_seed=0, params={"n_train": 200, "val_fraction": 0.25})
    assert len(table) == 200 and (table["fold"] == 0).sum() == 50 and set(table["fold"]) == {-1, 0}
    with pytest.raises(ParameterError, match=r"tell-the-time validates on one hold-out \(fold 0; -1 for rows that "
                                             r"only train\): n_folds must be 1; got 5"):
        clocks.folds(n_folds=5)
    out = tmp_path / "clocks.csv"
    assert main(["folds", "tell-the-time", "--smoke", "-p", "val_fraction", "0.2", "--out", str(out)]) == 0
    assert pd.read_csv(out)["fold"].value_counts().to_dict() == {-1: 240, 0: 60}  # the smoke run's 300 clocks
    assert main(["folds", "tell-the-time", "-p", "epochs", "3", "--out", str(out)]) == 2
    assert "tell-the-time's folds read the parameters ['n_train', 'val_fraction']" in capsys.readouterr().err


def test_the_recommender_says_why_it_has_no_folds(tmp_path, capsys):
    assert main(["folds", "recommender", "--out", str(tmp_path / "f.csv")]) == 2
    assert ("recommender has no fold assignment to share: it validates on one leave-last-out split (each user's "
            "latest interaction, held out by time)") in capsys.readouterr().err
    assert not (tmp_path / "f.csv").exists()


def test_a_kit_new_competition_folds_as_its_template_does(tmp_path, kit_project):
    from kitlib.tasks.tabular import load

    folder = write_kaggle_set(tmp_path / "set", "multiclass", n_train=150, n_test=20)
    scaffold.new_competition("playground", folder)
    comp = get_competition("playground")
    data = load(comp.tabular, folder)
    table = comp.folds()
    assert list(table.columns) == ["id", "fold"] and table["id"].tolist() == data.keys["id"].tolist()
    expected = assign_folds(len(data.y), n_splits=5, stratify=comp.tabular.stratify(data.y), seed=0)
    assert table["fold"].tolist() == expected.tolist()
    assert sorted(set(comp.folds(smoke=True)["fold"])) == [0, 1]
