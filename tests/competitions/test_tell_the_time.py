"""The clock renderer (hands where the label says), the demo files, pre-processing, the heads'
encoding/decoding, and the dial points a run keeps for blending (score, submission, the smoke run's tables)."""
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from kitlib.competitions import tell_the_time as clocks
from kitlib.competitions.spec import ROOT
from kitlib.errors import DataError, ParameterError
from kitlib.metrics import common_sense_error

pytestmark = pytest.mark.keras

SIZE = 150


def _ray_profile(img, radius, center=(SIZE / 2 - 0.5, SIZE / 2 - 0.5), step=1.0):
    """Mean grey level along short arcs at ``radius``: (angles in degrees clockwise from up, levels)."""
    angles = np.arange(0, 360, step)
    rad = np.deg2rad(angles)
    cx, cy = center
    xs = np.rint(cx + radius * np.sin(rad)).astype(int)
    ys = np.rint(cy - radius * np.cos(rad)).astype(int)
    return angles, img[ys, xs].astype(float)


def _darkest(angles, levels, exclude=None, window=20):
    """Middle (circular mean) of the darkest stretch of a profile, away from ``exclude``."""
    if exclude is not None:
        levels = levels.copy()
        levels[_angle_diff(angles, exclude) < window] = np.inf
    darkest = np.deg2rad(angles[levels <= levels.min() + 10])
    return float(np.rad2deg(np.arctan2(np.sin(darkest).mean(), np.cos(darkest).mean())) % 360)


def _angle_diff(a, b):
    d = np.abs(np.asarray(a, dtype=float) - b) % 360
    return np.minimum(d, 360 - d)


def test_hand_angles_hand_worked():
    assert clocks.hand_angles(3, 0) == (90.0, 0.0)
    assert clocks.hand_angles(3, 30) == (105.0, 180.0)  # the hour hand is half way to 4
    assert clocks.hand_angles(11, 58) == (359.0, 348.0)
    assert clocks.hand_angles(0, 0, rotation=90) == (90.0, 90.0)
    assert clocks.hand_angles(6, 0, rotation=-90) == (90.0, 270.0)


@pytest.mark.parametrize("hour, minute, rotation", [(3, 0, 0), (10, 40, 0), (7, 12, 0), (1, 50, 90), (8, 25, -135)])
def test_hands_in_the_image_agree_with_the_label(hour, minute, rotation):
    style = clocks.clean_style(rotation=rotation, hand_tail=0.0)
    img = clocks.render_clock(hour, minute, style, SIZE)
    dial = SIZE / 2 * style.radius
    # the minute hand alone reaches beyond the hour hand's tip
    angles, levels = _ray_profile(img, dial * (style.hour_length + style.minute_length) / 2)
    minute_at = _darkest(angles, levels)
    assert _angle_diff(minute_at, (6 * minute + rotation) % 360) <= 2
    # nearer the centre both hands cross the circle; the hour hand is the dark spot away from the minute hand
    angles, levels = _ray_profile(img, dial * style.hour_length * 0.7)
    hour_at = _darkest(angles, levels, exclude=minute_at)
    assert _angle_diff(hour_at, (30 * hour + minute / 2 + rotation) % 360) <= 3
    # the 12 o'clock marker, the widest tick, sits where the rotation says
    angles, levels = _ray_profile(img, dial * (1 - style.rim_width - style.tick_length * 0.8), step=0.5)
    dark = levels < (style.face + style.ink) / 2
    widest = max(_runs(angles, dark), key=len)
    assert _angle_diff(np.mean(widest), rotation % 360) <= 3


def _runs(angles, mask):
    runs, current = [], []
    for a, m in zip(angles, mask):
        if m:
            current.append(a)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    if len(runs) > 1 and mask[0] and mask[-1]:  # a run across 0 degrees
        runs[0] = [a - 360 for a in runs.pop()] + runs[0]
    return [np.array(r) for r in runs]


def test_hour_hand_is_shorter_and_wider_in_every_sampled_style():
    rng = np.random.default_rng(0)
    for _ in range(200):
        s = clocks.ClockStyle.sample(rng)
        assert s.hour_length + 0.19 < s.minute_length and s.hour_width > s.minute_width
        assert -180 <= s.rotation <= 180


def test_make_clocks_is_deterministic_and_index_stable():
    images, labels = clocks.make_clocks(5, seed=7, size=48)
    again, again_labels = clocks.make_clocks(5, seed=7, size=48)
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(labels, again_labels)
    assert images.shape == (5, 48, 48) and images.dtype == np.uint8 and labels.shape == (5, 2)
    assert labels[:, 0].max() <= 11 and labels[:, 1].max() <= 59 and labels.min() >= 0
    first3, _ = clocks.make_clocks(3, seed=7, size=48)
    np.testing.assert_array_equal(first3, images[:3])  # clock i does not depend on n
    tail, tail_labels = clocks.make_clocks(2, seed=7, size=48, start=3)
    np.testing.assert_array_equal(tail, images[3:])
    np.testing.assert_array_equal(tail_labels, labels[3:])
    other, _ = clocks.make_clocks(5, seed=8, size=48)
    assert not np.array_equal(other, images)
    flat = clocks.make_clocks(2, seed=7, size=48, max_rotation=0)
    assert flat[0].shape == (2, 48, 48)


def test_render_rejects_impossible_times():
    with pytest.raises(ParameterError, match="time 13:00 is outside"):
        clocks.render_clock(13, 0, clocks.clean_style())


def test_write_demo_writes_once_and_load_clocks_reads_it(tmp_path):
    out = clocks.write_demo(tmp_path / "demo", seed=0, n=6, n_test=3)
    images, labels, test = clocks.load_clocks(out)
    assert images.shape == (6, 150, 150) and labels.shape == (6, 2) and test.shape == (3, 150, 150)
    np.testing.assert_array_equal(images, clocks.make_clocks(6, seed=0)[0])
    np.testing.assert_array_equal(test, clocks.make_clocks(3, seed=0, start=6)[0])  # unseen clocks
    stamp = (out / "images.npy").stat().st_mtime_ns
    clocks.write_demo(out, seed=0, n=6, n_test=3)
    assert (out / "images.npy").stat().st_mtime_ns == stamp  # second call: nothing rewritten
    clocks.write_demo(out, seed=0, n=4, n_test=3)
    assert clocks.load_clocks(out)[0].shape[0] == 4  # other sizes: regenerated
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "images.npy", "labels.npy", "test_images.npy"]


def test_load_clocks_names_the_bad_file_and_row(tmp_path):
    with pytest.raises(DataError, match="missing images.npy"):
        clocks.load_clocks(tmp_path)
    np.save(tmp_path / "images.npy", np.zeros((3, 20, 20), np.uint8))
    np.save(tmp_path / "labels.npy", np.array([[1, 5], [2, 75], [3, 0]]))
    with pytest.raises(DataError, match=r"labels.npy row 1: \[2, 75\]; expected hour 0..12, minute 0..59"):
        clocks.load_clocks(tmp_path)
    np.save(tmp_path / "labels.npy", np.array([[1, 5], [12, 7]]))
    with pytest.raises(DataError, match=r"labels.npy: expected shape \(3, 2\)"):
        clocks.load_clocks(tmp_path)
    np.save(tmp_path / "labels.npy", np.array([[1, 5], [12, 7], [0, 0]]))
    assert clocks.load_clocks(tmp_path)[1][1].tolist() == [0, 7]  # 12 o'clock is hour 0


def test_add_synthetic_keeps_the_real_set_and_matches_its_size():
    real = np.full((2, 40, 40), 7, np.uint8)
    images, labels = clocks.add_synthetic(real, [[1, 2], [3, 4]], n=3, seed=1)
    assert images.shape == (5, 40, 40) and labels.shape == (5, 2)
    np.testing.assert_array_equal(images[:2], real)
    assert labels[:2].tolist() == [[1, 2], [3, 4]]
    with pytest.raises(ParameterError, match="square"):
        clocks.add_synthetic(np.zeros((2, 40, 30), np.uint8), [[1, 2], [3, 4]], n=1)


def test_preprocess_resizes_and_stretches_contrast():
    dull = np.full((1, 150, 150), 100, np.uint8)
    dull[0, :, 75:] = 140  # a low-contrast image: two grey levels 40 apart
    x = clocks.preprocess(dull, size=30, contrast="stretch")
    assert x.shape == (1, 30, 30, 1) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    plain = clocks.preprocess(dull, size=30, contrast="none")
    assert plain.max() == pytest.approx(140 / 255)
    with pytest.raises(ParameterError, match=r"Unknown contrast 'gamma'; expected one of \['none', 'stretch'\]"):
        clocks.preprocess(dull, contrast="gamma")


def test_polar_unwrapping_turns_rotation_into_a_shift():
    style = clocks.clean_style(rotation=0.0, center=(0.0, 0.0))
    a = clocks.unwrap_polar(clocks.render_clock(2, 10, style)[None], n_radii=16, n_angles=72)
    turned = clocks.render_clock(2, 10, clocks.clean_style(rotation=50.0, center=(0.0, 0.0)))[None]
    b = clocks.unwrap_polar(turned, n_radii=16, n_angles=72)
    assert a.shape == (1, 16, 72, 1)
    shifted = np.roll(a, 10, axis=2)  # 50 degrees = 10 columns of 5 degrees
    assert np.abs(shifted - b).mean() < 0.25 * np.abs(a - b).mean()


ALL_TIMES = np.array([(h, m) for h in range(12) for m in range(60)])


@pytest.mark.parametrize("head", clocks.HEADS)
def test_encode_then_decode_gives_back_every_time(head):
    targets = clocks.encode_targets(ALL_TIMES, head)
    if head == "two-head":
        pred = {"hour": np.eye(12)[targets["hour"]], "minute": np.eye(60)[targets["minute"]]}
    elif head == "single-720":
        pred = np.eye(720)[targets]
    else:  # periodic and polar targets are already what a perfect model predicts
        pred = targets
    np.testing.assert_array_equal(clocks.decode_predictions(pred, head), ALL_TIMES)


def test_periodic_decoding_takes_the_hour_from_the_minute_hand():
    # 3:58: the hour hand is almost at 4; read slightly past 4 it must still give 3:58, not 4:58
    hour_hand, minute_hand = np.deg2rad(30 * 3 + 58 / 2 + 3), np.deg2rad(6 * 58)
    pred = np.array([[np.sin(hour_hand), np.cos(hour_hand), np.sin(minute_hand), np.cos(minute_hand)]])
    assert clocks.decode_periodic(pred).tolist() == [[3, 58]]
    assert common_sense_error([[3, 58]], clocks.decode_periodic(pred)).tolist() == [0]


def test_unknown_head_lists_the_heads():
    expected = r"Unknown head 'clock'; expected one of \['two-head', 'periodic', 'single-720', 'polar'\]"
    with pytest.raises(ParameterError, match=expected):
        clocks.encode_targets(ALL_TIMES, "clock")


@pytest.mark.parametrize("head", clocks.HEADS)
def test_models_train_a_step_and_decode(head):
    import kitlib.keras as kk

    kk.use_backend()
    images, labels = clocks.make_clocks(8, seed=0, size=64)
    x = clocks.model_inputs(images, head, size=16, n_radii=8, n_angles=24)
    model, loss, weights = clocks.build_clock_model(head, x.shape[1:], filters=(4,), dense=8, augment=False)
    result = kk.fit(model, x, clocks.encode_targets(labels, head, n_angles=24), loss=loss, loss_weights=weights,
                    recipe=kk.Recipe(epochs=1, batch_size=4, progress=False))
    times = clocks.decode_predictions(kk.predict(model, x), head)
    assert times.shape == (8, 2) and result.history[0]["loss"] > 0
    assert (times[:, 0] < 12).all() and (times[:, 1] < 60).all()


def test_importing_the_competition_imports_no_framework():
    code = ("import sys, kitlib.competitions.tell_the_time as c; "
            "print(sorted(m for m in ('keras', 'torch', 'tensorflow', 'jax') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT).stdout
    assert out.strip() == "[]"
    assert clocks.COMPETITION.demo is clocks.write_demo and clocks.COMPETITION.metric == "val_cse_mean"


# ---------------------------------------------------------------------------- dial predictions
def test_dial_points_by_hand_and_back():
    np.testing.assert_allclose(clocks.dial_points([0, 180, 360, 540]), [[1, 0], [0, 1], [-1, 0], [0, -1]], atol=1e-12)
    every = np.arange(720)
    assert clocks.dial_minutes(clocks.dial_points(every)).tolist() == every.tolist()
    assert clocks.dial_minutes(3 * clocks.dial_points([239])).tolist() == [239]  # only the angle counts
    assert clocks.dial_minutes(np.zeros((1, 2))).tolist() == [0]  # the centre reads as 12 o'clock


def test_averaging_dial_points_is_a_circular_mean():
    # 11:58 and 0:02 average to 0:00 (the minutes themselves would average to 6:00)
    assert clocks.dial_minutes(clocks.dial_points([718, 2]).mean(0, keepdims=True)).tolist() == [0]
    # 11:50 and 0:20: ten minutes before and twenty after 12, so 0:05
    assert clocks.dial_minutes(clocks.dial_points([710, 20]).mean(0, keepdims=True)).tolist() == [5]


def _dial_frame(ids, predicted, truth=None):
    frame = pd.DataFrame({"id": ids})
    if truth is not None:
        frame["fold"], frame["minutes"] = 0, truth
    points = clocks.dial_points(predicted)
    return frame.assign(pred_dial_cos=points[:, 0], pred_dial_sin=points[:, 1])


def test_score_is_the_mean_common_sense_error_of_the_dial_reading():
    # 11:58 vs 0:02 is 4 minutes, 3:59 vs 4:01 is 2, 0:00 vs 6:00 is 360: mean 122
    frame = _dial_frame([0, 1, 2], predicted=[2, 241, 360], truth=[718, 239, 0])
    assert clocks.score_predictions(frame) == pytest.approx(122.0)
    assert clocks.DIAL_COLUMNS == ("pred_dial_cos", "pred_dial_sin")
    assert clocks.score_predictions(_dial_frame([5], predicted=[17], truth=[17])) == 0.0
    reference = common_sense_error([[11, 58], [3, 59], [0, 0]], [[0, 2], [4, 1], [6, 0]]).mean()
    assert clocks.score_predictions(frame) == pytest.approx(reference)


def test_submission_reads_the_dial_back_in_id_order(tmp_path):
    test = _dial_frame([1, 0], predicted=[241, 718])
    sub = clocks.predictions_to_submission(test, tmp_path)
    assert sub.to_dict("list") == {"id": [0, 1], "hour": [11, 4], "minute": [58, 1]}
    np.save(tmp_path / "test_images.npy", np.zeros((3, 20, 20), np.uint8))
    with pytest.raises(DataError, match=r"2 test predictions for the 3 clocks of .*test_images.npy"):
        clocks.predictions_to_submission(test, tmp_path)
    with pytest.raises(DataError, match=r"ids must be 0..1, one per test clock; sorted row 2 has id 4"):
        clocks.predictions_to_submission(test.assign(id=[4, 0]), None)


def test_the_competition_blends_dial_points_scored_on_validation():
    comp = clocks.COMPETITION
    assert comp.metric == "val_cse_mean" and comp.mode == "min"
    spec = comp.predictions
    assert spec.key == ("id",) and spec.target == "minutes"
    assert spec.score is clocks.score_predictions and spec.to_submission is clocks.predictions_to_submission


@pytest.mark.notebook
def test_smoke_run_keeps_the_held_out_and_test_predictions(kit_dirs):
    from kitlib import predictions, run
    from kitlib.execute import execute

    folder = execute("tell-the-time", {"smoke": "true", "seed": "1", "fold_seed": "0"})
    manifest = run.read_manifest(folder)
    assert manifest["status"] == "ok", manifest.get("error")
    oof, test = predictions.read(folder)
    assert manifest["score"] == manifest["metrics"]["val_cse_mean"] == pytest.approx(clocks.score_predictions(oof))
    assert manifest["cv"]["metric"] == "val_cse_mean" and manifest["cv"]["folds"] == [manifest["score"]]
    # the held-out clocks of the 300 smoke clocks are the ones fold_seed 0 draws, whatever the seed
    held_out = np.sort(np.random.default_rng(0).permutation(300)[:45])  # in the competition's row order
    assert oof["id"].tolist() == held_out.tolist() and (oof["fold"] == 0).all()
    assert list(oof.columns) == ["id", "fold", "minutes", "pred_dial_cos", "pred_dial_sin"]
    _, labels, test_images = clocks.load_clocks(manifest["data_dir"])
    assert oof["minutes"].tolist() == clocks.time_to_minutes(labels[held_out]).tolist()
    np.testing.assert_allclose(np.hypot(oof.pred_dial_cos, oof.pred_dial_sin), 1.0)
    assert test["id"].tolist() == list(range(len(test_images)))  # one row per test clock
    submission = pd.read_csv(manifest["submission"]["path"])
    pd.testing.assert_frame_equal(submission, clocks.predictions_to_submission(test, manifest["data_dir"]))


@pytest.mark.parametrize("edit, message", [
    (lambda f: f.iloc[:0], r"0 rows; the test files of .* has 4"),
    (lambda f: f.iloc[[0, 2, 1, 3]], r"column 'id' differs from the test files of .* in row\(s\) 2, 3"),
    (lambda f: f.assign(hour=["1", "25", "2", "3"]), r"column 'hour': '25' in row\(s\) 2 is not one of"),
    (lambda f: f.assign(minute=["1", "-7", "2", "3"]), r"column 'minute': '-7' in row\(s\) 2 is not one of"),
    (lambda f: f.assign(hour=["1", "nan", "2", "3"]), r"column 'hour': 'nan' in row\(s\) 2 is not one of"),
])
def test_malformed_clock_submissions_are_refused(tmp_path, edit, message):
    from kitlib.errors import SubmissionError
    from kitlib.submit import validate_submission

    np.save(tmp_path / "test_images.npy", np.zeros((4, 8, 8), np.uint8))
    good = pd.DataFrame({"id": ["0", "1", "2", "3"], "hour": ["0", "11", "5", "6"], "minute": ["0", "59", "30", "7"]})
    good.to_csv(tmp_path / "ok.csv", index=False)
    validate_submission(tmp_path / "ok.csv", "tell-the-time", tmp_path)
    edit(good).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(SubmissionError, match=message):
        validate_submission(tmp_path / "bad.csv", "tell-the-time", tmp_path)
