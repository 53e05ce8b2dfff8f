"""kitlib.tasks.tabular: the problem (encoding, scores, submissions), reading the files, the two models."""
import numpy as np
import pandas as pd
import pytest
from tabular_sets import write_kaggle_set

from kitlib import folds as kfolds
from kitlib import metrics, predictions
from kitlib.errors import DataError, ParameterError
from kitlib.tasks import tabular

FEATURES = dict(numeric=("x1", "x2", "x3", "x4", "x5"), categorical=("colour",))


def binary(metric="roc_auc", holds="probabilities") -> tabular.Problem:
    return tabular.Problem(id="id", targets=("target",), task="binary", metric=metric, holds=holds,
                           labels={"target": ("0", "1")}, **FEATURES)


def test_problem_columns_and_blocks():
    multi = tabular.Problem(id="id", targets=("a", "b"), task="binary", metric="roc_auc", holds="probabilities",
                            labels={"a": ("0", "1"), "b": ("no", "yes")})
    assert multi.columns == ["p_a_0", "p_a_1", "p_b_no", "p_b_yes"]
    assert [(t, s.start, s.stop) for t, s, _ in multi.blocks()] == [("a", 0, 2), ("b", 2, 4)]
    regression = tabular.Problem(id="id", targets=("price",), task="regression", metric="rmse", holds="values")
    assert regression.columns == ["pred_price"] and regression.stratify(np.zeros((3, 1))) is None
    assert binary().columns == ["p_0", "p_1"] and binary().mode == "max"


@pytest.mark.parametrize("kwargs, message", [
    (dict(task="ternary"), r"Unknown task 'ternary'; expected one of \['binary', 'multiclass', 'regression'\]"),
    (dict(metric="auc"), r"unknown metric 'auc'; expected one of \['accuracy'"),
    (dict(metric="r"), r"ambiguous metric 'r'.*matches \['roc_auc', 'rmse', 'rmsle'\]"),
    (dict(metric="rmse", holds="values"), "metric 'rmse' scores values; a binary problem"),
    (dict(labels={"target": ("1",)}), r"target 'target' needs at least two labels; got \['1'\]"),
    (dict(task="multiclass", labels={"target": ("a", "b", "c")}), "needs one column per class"),
])
def test_problem_refuses_what_does_not_fit(kwargs, message):
    args = {**dict(id="id", targets=("target",), task="binary", metric="roc_auc", holds="probabilities",
                   labels={"target": ("0", "1")}), **kwargs}
    with pytest.raises(ParameterError, match=message):
        tabular.Problem(**args)


def test_encode_names_the_file_row_and_column():
    p = binary()
    np.testing.assert_array_equal(p.encode(pd.DataFrame({"target": ["1", "0", " 1"]}))[:, 0], [1, 0, 1])
    with pytest.raises(DataError, match=r"train.csv row 2: column 'target': '7' is not one of \['0', '1'\]"):
        p.encode(pd.DataFrame({"target": ["1", "7"]}))
    reg = tabular.Problem(id="id", targets=("y",), task="regression", metric="mae", holds="values")
    with pytest.raises(DataError, match="train.csv row 3: column 'y': 'abc' is not a finite number"):
        reg.encode(pd.DataFrame({"y": ["1.5", "2", "abc"]}))
    with pytest.raises(DataError, match="missing target column 'y'"):
        reg.encode(pd.DataFrame({"x": [1]}))


def test_scores_agree_with_the_metrics_by_hand():
    y = np.array([[0], [1], [1], [0]], dtype=float)
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    assert binary().score(y, probs) == pytest.approx(metrics.roc_auc([0, 1, 1, 0], [0.1, 0.8, 0.4, 0.7]))
    assert binary("accuracy", "labels").score(y, probs) == pytest.approx(0.5)  # rows 1, 2 right
    ranked = tabular.Problem(id="id", targets=("g",), task="multiclass", metric="map_at_3", holds="ranked",
                             labels={"g": ("a", "b", "c", "d")})
    scores = np.array([[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]])
    assert ranked.score(np.array([[2.0], [3.0]]), scores) == pytest.approx((1 / 2 + 0) / 2)  # c second; d not in top 3
    multi = tabular.Problem(id="id", targets=("a", "b"), task="regression", metric="rmse", holds="values")
    assert multi.score(np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([[1.0, 2.0], [1.0, 2.0]])) == pytest.approx(1.0)


def test_to_submission_follows_the_sample_and_its_ids():
    per_class = tabular.Problem(id="id", targets=("target",), task="multiclass", metric="log_loss",
                                holds="probabilities", labels={"target": ("A", "B", "C")},
                                class_columns={"A": "Class_A", "B": "Class_B", "C": "Class_C"})
    test = predictions.frame({"id": ["7", "5"]}, np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]]), per_class.columns)
    sample = pd.DataFrame({"id": ["5", "7"], "Class_A": "0", "Class_B": "0", "Class_C": "0"})
    out = per_class.to_submission(test, sample)
    assert list(out.columns) == ["id", "Class_A", "Class_B", "Class_C"] and list(out.id) == ["5", "7"]
    np.testing.assert_allclose(out[["Class_A", "Class_B", "Class_C"]].to_numpy(float),
                               [[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
    labels = binary("accuracy", "labels").to_submission(
        predictions.frame({"id": ["5", "7"]}, np.array([[0.2, 0.8], [0.6, 0.4]]), ["p_0", "p_1"]),
        pd.DataFrame({"id": ["5", "7"], "target": "0"}))
    assert list(labels.target) == ["1", "0"]
    with pytest.raises(DataError, match=r"sample_submission.csv row 2: column 'id': id '9' has no test prediction"):
        per_class.to_submission(test, pd.DataFrame({"id": ["5", "9"], "Class_A": "0", "Class_B": "0", "Class_C": "0"}))


def test_load_checks_the_files(tmp_path):
    folder = write_kaggle_set(tmp_path / "set", "binary", 60, 20)
    data = tabular.load(binary(), folder)
    assert data.X.shape == (60, 6) and data.X_test.shape == (20, 6) and data.y.shape == (60, 1)
    assert list(data.X.columns) == ["colour", "x1", "x2", "x3", "x4", "x5"]  # categorical first
    assert data.X.x2.isna().any() and data.X.colour.isna().any() and data.keys.id.iloc[0] == "0"
    assert data.head(10).X.shape == (10, 6) and data.head(10).X_test.shape == (20, 6)
    test = pd.read_csv(folder / "test.csv", dtype=str)
    test.loc[2, "x3"] = "three"
    test.to_csv(folder / "test.csv", index=False)
    with pytest.raises(DataError, match="test.csv row 3: column 'x3': 'three' is not a number"):
        tabular.load(binary(), folder)
    test.loc[2, "x3"] = "0.5"
    test.loc[5, "id"] = test.loc[4, "id"]
    test.to_csv(folder / "test.csv", index=False)
    with pytest.raises(DataError, match="test.csv row 6: column 'id': id '64' appears twice"):
        tabular.load(binary(), folder)
    (folder / "test.csv").unlink()
    with pytest.raises(DataError, match=r"missing \['test.csv'\]"):
        tabular.load(binary(), folder)


def cross_validate(problem, data, kind, n_folds=4):
    folds = kfolds.assign_folds(len(data.y), n_splits=n_folds, stratify=problem.stratify(data.y), seed=0)
    fit_fold = tabular.model_fold(kind, problem, data.X, data.y, data.X_test)
    return kfolds.cross_validate(fit_fold, folds, score=lambda idx, pred: problem.score(data.y[idx], pred)), folds


def test_gradient_boosting_beats_the_linear_baseline_on_non_linear_structure(tmp_path):
    data = tabular.load(binary(), write_kaggle_set(tmp_path / "set", "binary", 1500, 100, seed=1))
    linear, _ = cross_validate(binary(), data, "linear")
    hgb, folds = cross_validate(binary(), data, "hgb")
    assert hgb.mean > linear.mean + 0.1, (hgb.mean, linear.mean)
    assert hgb.oof.shape == (1500, 2) and hgb.test.shape == (100, 2)
    np.testing.assert_allclose(hgb.oof.sum(axis=1), 1.0)
    importance = tabular.permutation_importance(hgb.models[0], binary(), data.X[folds == 0], data.y[folds == 0],
                                                repeats=2)
    assert importance.index[0] == "x1" and importance.loc["x5", "importance"] < importance.loc["colour", "importance"]


def test_models_handle_unseen_categories_missing_classes_and_rmsle(tmp_path):
    p = binary()
    X = pd.DataFrame({"colour": ["red", "blue", np.nan, "red"] * 10, "x1": np.arange(40.0), "x2": [np.nan, 1.0] * 20,
                      "x3": 1.0, "x4": 0.0, "x5": 0.0})
    y = (np.arange(40) % 2).reshape(-1, 1).astype(float)
    X_new = X.head(3).assign(colour=["violet", np.nan, "red"])
    for kind in tabular.MODELS:
        models = tabular.fit_models(kind, p, X, y)
        probs = tabular.predict(models, p, X_new)
        assert probs.shape == (3, 2) and np.isfinite(probs).all()
    three = tabular.Problem(id="id", targets=("g",), task="multiclass", metric="accuracy", holds="labels",
                            labels={"g": ("a", "b", "c")}, **FEATURES)
    models = tabular.fit_models("linear", three, X, y)  # class "c" never seen in this fold
    assert tabular.predict(models, three, X_new)[:, 2].tolist() == [0.0, 0.0, 0.0]
    counts = tabular.Problem(id="id", targets=("n",), task="regression", metric="rmsle", holds="values", **FEATURES)
    values = tabular.predict(tabular.fit_models("linear", counts, X, np.arange(40.0)[:, None]), counts, X_new)
    assert (values >= 0).all()
    with pytest.raises(ParameterError, match=r"Unknown hgb parameter\(s\) \['depth'\]; expected some of"):
        tabular.make_model("hgb", p, {"depth": 3})
    with pytest.raises(ParameterError, match=r"Unknown model 'forest'; expected one of \['linear', 'hgb'\]"):
        tabular.make_model("forest", p)
