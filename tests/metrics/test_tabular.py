"""Tabular metrics by hand and against scikit-learn; metric lookup by name."""
import math

import numpy as np
import pytest
from sklearn import metrics as sk

from kitlib.metrics import METRICS, find_metric, log_loss, macro_f1, mae, map_at_3, rmse, rmsle, roc_auc


def test_regression_metrics_by_hand():
    assert rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(math.sqrt(4 / 3))
    assert mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)
    assert rmsle([0, math.e - 1], [math.e - 1, math.e - 1]) == pytest.approx(math.sqrt(0.5))
    with pytest.raises(ValueError, match="greater than -1"):
        rmsle([1.0], [-2.0])


def test_classification_metrics_by_hand_and_against_scikit_learn():
    y, p = ["a", "a", "b", "c"], ["a", "b", "b", "b"]
    # a: P 1, R 1/2 -> 2/3; b: P 1/3, R 1 -> 1/2; c: 0
    assert macro_f1(y, p) == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)  # 3 of 4 pairs ordered
    assert log_loss([1, 0], [0.8, 0.3]) == pytest.approx(-(math.log(0.8) + math.log(0.7)) / 2)
    rng = np.random.default_rng(0)
    t = rng.integers(0, 3, 50)
    probs = rng.dirichlet(np.ones(3), 50)
    assert roc_auc(t, probs) == pytest.approx(sk.roc_auc_score(t, probs, multi_class="ovr"))
    assert log_loss(t, probs) == pytest.approx(sk.log_loss(t, probs))
    assert map_at_3(["a", "b"], ["b a c", "c d e"]) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="needs both classes"):
        roc_auc([1, 1], [0.2, 0.3])


def test_metrics_by_name_with_direction():
    assert {m: METRICS[m].mode for m in ("roc_auc", "log_loss", "rmse", "accuracy")} == {
        "roc_auc": "max", "log_loss": "min", "rmse": "min", "accuracy": "max"}
    assert find_metric("ROC-AUC").name == "roc_auc" and find_metric("macro").name == "macro_f1"
    with pytest.raises(KeyError, match=r"ambiguous metric 'rm'.*matches \['rmse', 'rmsle'\]"):
        find_metric("rm")
    with pytest.raises(KeyError, match=r"unknown metric 'auc'; expected one of \['accuracy'"):
        find_metric("auc")
