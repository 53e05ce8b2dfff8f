"""Relation F1 (SOMD Subtask II) against counts worked out by hand."""
import pytest

from kitlib.metrics import relation_f1, relation_prf, relation_report, somd_score

# sentence 0: two true relations, the model finds one and adds a wrong one (wrong object)
# sentence 1: one true relation, found; sentence 2: nothing true, one predicted
TRUE = [[("Version_of", 3, 1), ("Developer_of", 5, 1)], [("URL_of", 4, 0)], []]
PRED = [[("Version_of", 3, 1), ("Developer_of", 5, 2)], [("URL_of", 4, 0), ("URL_of", 4, 0)], [("Version_of", 2, 0)]]


def test_micro_pools_the_counts_and_repeats_count_once():
    # tp 2 (Version_of 3 1, URL_of 4 0); predicted 4 (the repeat counts once); true 3
    out = relation_prf(TRUE, PRED)
    assert out["precision"] == pytest.approx(2 / 4) and out["recall"] == pytest.approx(2 / 3)
    assert out["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3)) and out["support"] == 3


def test_macro_averages_the_types_found_in_truth_or_predictions():
    # Developer_of: 0/1, 0/1 -> F1 0; URL_of: 1/1, 1/1 -> F1 1; Version_of: 1/2, 1/1 -> F1 2/3
    assert relation_f1(TRUE, PRED, "macro") == pytest.approx((0 + 1 + 2 / 3) / 3)
    report = relation_report(TRUE, PRED)
    assert list(report.index) == ["Developer_of", "URL_of", "Version_of", "micro", "macro"]
    assert report.loc["Version_of", "predicted"] == 2 and report.loc["Version_of", "support"] == 1
    assert report.loc["macro", "f1"] == pytest.approx((1 + 2 / 3) / 3)


def test_nothing_predicted_or_nothing_true_scores_zero_and_bad_input_is_named():
    assert relation_f1(TRUE, [[], [], []]) == 0.0 and relation_f1([[], [], []], PRED) == 0.0
    assert relation_f1([[]], [[]], "macro") == 0.0
    with pytest.raises(ValueError, match="3 true sentences but 2 predicted"):
        relation_f1(TRUE, PRED[:2])
    with pytest.raises(ValueError, match=r"Unknown average 'weighted'; expected one of \['micro', 'macro'\]"):
        relation_f1(TRUE, PRED, "weighted")


def test_somd_score_is_the_mean_of_the_two_f1():
    assert somd_score(0.8, 0.4) == pytest.approx(0.6)
