"""Comparing models: the results table best first, ties in the order models were added, and the metrics
the run records for them."""
import numpy as np
import pandas as pd
import pytest

from kitlib.comparison import cv_metrics, cv_table, metric_key, model_metrics, rank
from kitlib.errors import ParameterError
from kitlib.folds import CVResult


def cv(fold_scores: list[float], score: float) -> CVResult:
    rows = np.arange(4)
    return CVResult(oof=np.zeros(4), test=None, fold_scores=fold_scores, score=score, models=[None] * 2,
                    infos=[{}, {}], folds=np.array([0, 0, 1, 1]), fold_ids=[0, 1], rows=rows)


CVS = {"random forest": cv([0.5, 0.7], 0.61), "MLP": cv([0.8, 0.6], 0.72), "MLP (Optuna)": cv([0.7, 0.7], 0.69)}


@pytest.mark.parametrize(("name", "key"), [("random forest", "random_forest"), ("MLP (Optuna)", "mlp_optuna"),
                                           ("item-kNN", "item_knn"), ("zero-shot", "zero_shot"), ("HGB", "hgb")])
def test_a_models_name_becomes_a_metric_suffix(name, key):
    assert metric_key(name) == key


def test_a_name_without_letters_or_digits_is_refused():
    with pytest.raises(ParameterError, match=r"model name '\(\)' has no letter or digit"):
        metric_key("()")


def test_the_cv_table_puts_the_best_mean_first_under_the_metrics_direction():
    table = cv_table(CVS)
    assert list(table.columns) == ["cv mean", "cv std", "out of fold"]
    assert list(table.index) == ["MLP", "MLP (Optuna)", "random forest"]
    tied = {"b": cv([0.25, 0.75], 0.5), "a": cv([0.5, 0.5], 0.5), "c": cv([0.75, 0.25], 0.5)}
    assert list(cv_table(tied).index) == list(cv_table(tied, mode="min").index) == ["b", "a", "c"]
    assert table.loc["random forest"].tolist() == pytest.approx([0.6, 0.1, 0.61])
    assert list(cv_table(CVS, mode="min").index) == ["random forest", "MLP", "MLP (Optuna)"]
    assert list(cv_table(CVS, by="out of fold").index) == ["MLP", "MLP (Optuna)", "random forest"]


def test_the_cv_table_refuses_nothing_to_compare_and_unknown_columns_or_modes():
    with pytest.raises(ParameterError, match="no models to compare"):
        cv_table({})
    with pytest.raises(ParameterError, match=r"Unknown column 'score' to rank by; expected one of \['cv mean'"):
        cv_table(CVS, by="score")
    with pytest.raises(ParameterError, match=r"Unknown mode 'up'; expected one of \['max', 'min'\]"):
        cv_table(CVS, mode="up")


def test_rank_breaks_ties_with_later_columns_each_in_its_own_direction():
    table = pd.DataFrame({"acc": [0.9, 0.95, 0.95, 0.95], "loss": [0.1, 0.4, 0.3, 0.3]}, index=list("abcd"))
    assert list(rank(table, {"acc": "max", "loss": "min"}).index) == ["c", "d", "b", "a"]
    assert list(rank(table, "loss", "min").index) == ["a", "c", "d", "b"]
    with pytest.raises(ParameterError, match=r"Unknown column 'f1' to rank by; expected one of \['acc', 'loss'\]"):
        rank(table, "f1")


def test_cv_metrics_record_the_chosen_model_then_every_model():
    metrics = cv_metrics("val_weighted_f1", CVS, "MLP")
    assert metrics == pytest.approx({
        "val_weighted_f1": 0.72, "val_weighted_f1_cv_mean": 0.7, "val_weighted_f1_cv_std": 0.1,
        "val_weighted_f1_random_forest": 0.61, "val_weighted_f1_mlp": 0.72, "val_weighted_f1_mlp_optuna": 0.69})
    with_means = cv_metrics("auc", CVS, "MLP", per_model=("score", "mean"))
    assert with_means["auc_random_forest_cv_mean"] == pytest.approx(0.6) and len(with_means) == 9
    with pytest.raises(ParameterError, match=r"Unknown model 'SVM'; expected one of \['random forest'"):
        cv_metrics("auc", CVS, "SVM")
    with pytest.raises(ParameterError, match=r"Unknown per-model figure 'median'"):
        cv_metrics("auc", CVS, "MLP", per_model=("median",))


def test_model_metrics_name_each_row_and_column():
    table = pd.DataFrame({"hr_at_10": [0.5, 0.3], "ndcg_at_10": [0.25, 0.125], "mrr": [0.2, 0.1]},
                         index=["item-kNN", "popularity"])
    assert model_metrics(table, ["hr_at_10", "ndcg_at_10"], prefix="val_") == {
        "val_hr_at_10_item_knn": 0.5, "val_ndcg_at_10_item_knn": 0.25,
        "val_hr_at_10_popularity": 0.3, "val_ndcg_at_10_popularity": 0.125}
    assert len(model_metrics(table)) == 6
    with pytest.raises(ParameterError, match=r"Unknown column 'map'; expected one of \['hr_at_10'"):
        model_metrics(table, ["map"])
