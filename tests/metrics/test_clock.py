"""The common-sense error between two times on a 12-hour dial, checked against hand-worked values and a
brute-force reference (the smallest |difference + k*720| over whole turns of the dial)."""
import numpy as np
import pytest

from kitlib.metrics import common_sense_error, common_sense_summary


@pytest.mark.parametrize(
    "true, pred, minutes",
    [
        ((3, 59), (4, 1), 2),  # across the hour
        ((11, 58), (0, 2), 4),  # across 12 o'clock
        ((0, 2), (11, 58), 4),  # same the other way round
        ((12, 0), (0, 0), 0),  # 12 reads as 0
        ((6, 0), (0, 0), 360),  # opposite sides: the largest error
        ((1, 0), (7, 30), 330),  # 390 minutes forward = 330 back
        ((5, 17), (5, 17), 0),
        ((2, 10), (2, 55), 45),
    ],
)
def test_common_sense_error_hand_worked(true, pred, minutes):
    assert common_sense_error([true], [pred]).tolist() == [minutes]


def test_common_sense_error_is_vectorised_and_takes_one_pair():
    err = common_sense_error([[3, 59], [11, 58], [6, 0]], [[4, 1], [0, 2], [0, 0]])
    assert err.tolist() == [2, 4, 360]
    assert err.dtype == np.int64
    assert common_sense_error((3, 59), (4, 1)).tolist() == [2]


def test_common_sense_error_matches_brute_force_reference():
    rng = np.random.default_rng(0)
    true = np.stack([rng.integers(0, 12, 500), rng.integers(0, 60, 500)], axis=1)
    pred = np.stack([rng.integers(0, 12, 500), rng.integers(0, 60, 500)], axis=1)
    reference = [
        min(abs(t[0] * 60 + t[1] - (p[0] * 60 + p[1]) + 720 * k) for k in (-1, 0, 1)) for t, p in zip(true, pred)
    ]
    err = common_sense_error(true, pred)
    assert err.tolist() == reference
    assert err.max() <= 360
    assert common_sense_error(pred, true).tolist() == reference  # symmetric


def test_summary_hand_worked():
    true = [(1, 0), (3, 59), (11, 58), (2, 0)]
    pred = [(1, 0), (4, 1), (0, 2), (2, 10)]  # errors 0, 2, 4, 10
    assert common_sense_summary(true, pred) == {"mean": 4.0, "median": 3.0, "within_5min": 0.75}
    assert common_sense_summary(true, pred, within=2) == {"mean": 4.0, "median": 3.0, "within_2min": 0.5}


@pytest.mark.parametrize(
    "true, pred, match",
    [
        ([[1, 2, 3]], [[1, 2, 3]], r"true_hm must have shape \(n, 2\).*\(1, 3\)"),
        ([[13, 0]], [[1, 0]], r"true_hm row 0: hour 13 is outside 0..12"),
        ([[1, 0], [1, 60]], [[1, 0], [1, 0]], r"true_hm row 1: minute 60 is outside 0..59"),
        ([[1, 0]], [[1, 0.5]], r"pred_hm row 0: \[1.0, 0.5\] is not whole"),
        ([[1, 0], [2, 0]], [[1, 0]], r"true_hm has 2 times but pred_hm has 1"),
        (np.empty((0, 2)), np.empty((0, 2)), r"empty"),
    ],
)
def test_bad_inputs_say_what_is_wrong(true, pred, match):
    with pytest.raises(ValueError, match=match):
        common_sense_error(true, pred)
