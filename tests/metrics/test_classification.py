import pytest
from sklearn.metrics import f1_score

from kitlib.metrics import accuracy, weighted_f1


def test_weighted_f1_hand_worked():
    # true: a a a b b c ; pred: a a b b c c
    # a: tp2 fp0 fn1 -> P 1, R 2/3, F1 0.8 (support 3)
    # b: tp1 fp1 fn1 -> F1 0.5 (support 2);  c: tp1 fp1 fn0 -> P 1/2, R 1, F1 2/3 (support 1)
    # weighted = (3*0.8 + 2*0.5 + 1*2/3) / 6 = 0.6777...
    y_true = ["a", "a", "a", "b", "b", "c"]
    y_pred = ["a", "a", "b", "b", "c", "c"]
    assert weighted_f1(y_true, y_pred) == pytest.approx((2.4 + 1.0 + 2 / 3) / 6)
    assert weighted_f1(y_true, y_pred) == pytest.approx(f1_score(y_true, y_pred, average="weighted"))


def test_class_never_predicted_scores_zero():
    # c never predicted -> its F1 is 0 with weight 1/4; a: P 2/3 R 1 -> 0.8 weight 2/4; b: 1.0 weight 1/4
    assert weighted_f1(["a", "a", "b", "c"], ["a", "a", "b", "a"]) == pytest.approx((2 * 0.8 + 1.0 + 0) / 4)


def test_accuracy_hand_worked():
    assert accuracy([1, 2, 3, 4], [1, 2, 0, 4]) == 0.75


def test_inputs_checked():
    with pytest.raises(ValueError, match="same length"):
        accuracy([1, 2], [1])
    with pytest.raises(ValueError, match="empty"):
        weighted_f1([], [])
