"""MNIST-family IDX files, the bundled digits, the fixed pixel permutation, the two models, and how a run is
scored (on the validation hold-out, never the test labels), keeps its predictions and blends."""
import gzip

import numpy as np
import pandas as pd
import pytest

from kitlib.competitions import image_classification as images
from kitlib.competitions.image_classification import (
    IDX_FILES,
    load_digits_dataset,
    load_idx_dataset,
    load_image_dataset,
    permute_pixels,
    pixel_permutation,
    read_idx,
    write_idx,
)
from kitlib.errors import DataError, ParameterError

pytestmark = pytest.mark.keras


def test_read_idx_decodes_hand_written_bytes(tmp_path):
    # magic 0x00000801 (unsigned bytes, 1 dimension), size 3, then the labels 7, 0, 9
    plain = tmp_path / "labels-idx1-ubyte"
    plain.write_bytes(b"\x00\x00\x08\x01" + b"\x00\x00\x00\x03" + bytes([7, 0, 9]))
    assert read_idx(plain).tolist() == [7, 0, 9]
    # magic 0x00000803 (3 dimensions 2x2x3), gzip'd like the files MNIST ships
    zipped = tmp_path / "images-idx3-ubyte.gz"
    with gzip.open(zipped, "wb") as handle:
        handle.write(b"\x00\x00\x08\x03" + b"\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x03" + bytes(range(12)))
    arr = read_idx(zipped)
    assert arr.shape == (2, 2, 3) and arr.dtype == np.uint8
    assert arr[1, 0].tolist() == [6, 7, 8]


@pytest.mark.parametrize("name", ["x-idx3-ubyte", "x-idx3-ubyte.gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float32])
def test_write_then_read_round_trips(tmp_path, name, dtype):
    arr = (np.arange(2 * 5 * 4).reshape(2, 5, 4) * 3 - 7).astype(dtype) if dtype != np.uint8 else \
        np.arange(40, dtype=np.uint8).reshape(2, 5, 4)
    back = read_idx(write_idx(tmp_path / name, arr))
    assert back.dtype == dtype and back.shape == arr.shape
    np.testing.assert_array_equal(back, arr)


def test_bad_magic_names_the_file_and_what_was_expected(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(20))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: bad magic number 0x89504e47; expected.*0x00000803"):
        read_idx(path)


def test_wrong_size_says_declared_and_actual(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    with gzip.open(path, "wb") as handle:  # declares 2x28x28 = 1568 bytes but holds 1000
        handle.write(b"\x00\x00\x08\x03" + (2).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + bytes(1000))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.gz: header declares shape \(2, 28, 28\).*"
                                        r"1568 bytes.*holds 1000 bytes"):
        read_idx(path)


def test_truncated_header_and_missing_file(tmp_path):
    short = tmp_path / "short"
    short.write_bytes(b"\x00\x00")
    with pytest.raises(DataError, match="short: 2 bytes"):
        read_idx(short)
    with pytest.raises(DataError, match="no such IDX file"):
        read_idx(tmp_path / "absent.gz")


def _write_set(folder, n_train=6, n_test=4):
    rng = np.random.default_rng(0)
    x_tr = rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8)
    x_te = rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8)
    y_tr, y_te = (np.arange(n_train) % 10).astype(np.uint8), (np.arange(n_test) % 10).astype(np.uint8)
    for stem, arr in zip(IDX_FILES, (x_tr, y_tr, x_te, y_te)):
        write_idx(folder / f"{stem}.gz", arr)
    return x_tr, y_tr, x_te, y_te


def test_load_idx_dataset_reads_the_four_standard_files(tmp_path):
    x_tr, y_tr, x_te, y_te = _write_set(tmp_path)
    split = load_idx_dataset(tmp_path)
    np.testing.assert_array_equal(split.x_train, x_tr)
    np.testing.assert_array_equal(split.x_test, x_te)
    assert split.y_train.tolist() == y_tr.tolist() and split.y_test.dtype == np.int64
    fashion = load_image_dataset("fashion-mnist", tmp_path)
    assert fashion.class_names[9] == "Ankle boot"


def test_load_idx_dataset_names_a_missing_file_and_a_count_mismatch(tmp_path):
    _write_set(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"no t10k-labels-idx1-ubyte.gz.*holds \['t10k-images"):
        load_idx_dataset(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(3, dtype=np.uint8))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte: 4 images but \(3,\) labels"):
        load_idx_dataset(tmp_path)


def test_digits_are_the_offline_default():
    split = load_digits_dataset(seed=0)
    assert split.x_train.shape[1:] == (8, 8) and split.x_train.dtype == np.uint8
    assert len(split.x_train) + len(split.x_test) == 1797
    assert split.x_train.max() == 255  # 0..16 scaled to the full grey range
    assert sorted(set(split.y_test.tolist())) == list(range(10))  # stratified: every class in test
    again = load_image_dataset("digits", seed=0)
    np.testing.assert_array_equal(again.x_test, split.x_test)
    expected = r"Unknown dataset 'cifar'; expected one of \['auto', 'digits', 'fashion-mnist', 'mnist'\]"
    with pytest.raises(ParameterError, match=expected):
        load_image_dataset("cifar")


def test_permutation_is_one_fixed_bijection_shared_by_train_and_test():
    perm = pixel_permutation(64, seed=3)
    assert sorted(perm.tolist()) == list(range(64))  # a bijection of the 64 positions
    assert not np.array_equal(perm, np.arange(64))
    np.testing.assert_array_equal(perm, pixel_permutation(64, seed=3))
    assert not np.array_equal(perm, pixel_permutation(64, seed=4))

    rng = np.random.default_rng(0)
    train, test = rng.integers(0, 256, (5, 8, 8), dtype=np.uint8), rng.integers(0, 256, (3, 8, 8), dtype=np.uint8)
    p_train, p_test = permute_pixels(train, seed=3), permute_pixels(test, seed=3)
    assert p_train.shape == train.shape and p_train.dtype == np.uint8
    # the same source pixel lands on the same place in every image of both sets
    where = np.arange(64).reshape(1, 8, 8)
    moved = permute_pixels(where, seed=3).ravel()
    np.testing.assert_array_equal(p_train.reshape(5, 64), train.reshape(5, 64)[:, moved])
    np.testing.assert_array_equal(p_test.reshape(3, 64), test.reshape(3, 64)[:, moved])
    # nothing is lost: each image keeps its pixel values, and the inverse permutation restores it
    np.testing.assert_array_equal(np.sort(p_train.reshape(5, -1)), np.sort(train.reshape(5, -1)))
    inverse = np.argsort(moved)
    np.testing.assert_array_equal(p_test.reshape(3, 64)[:, inverse], test.reshape(3, 64))


def test_permute_pixels_rejects_flat_input():
    with pytest.raises(ParameterError, match=r"\(n, h, w\).*got shape \(4, 64\)"):
        permute_pixels(np.zeros((4, 64)), seed=0)


def test_models_give_logits_and_see_pixels_differently():
    """The MLP reads pixels as an unordered vector: a pixel permutation is undone exactly by permuting the
    rows of its first weight matrix. The CNN reads neighbourhoods: one changed pixel moves only the 3x3
    patch of its first convolution's output around it, where it moves every unit of the MLP's first layer."""
    import keras

    import kitlib.keras as kk

    kk.use_backend()
    kk.seed_everything(0)
    x = np.random.default_rng(0).random((3, 8, 8)).astype("float32")
    mlp = images.build_mlp((8, 8), 10, depth=2, width=16, dropout=0.0)
    cnn = images.build_cnn((8, 8), 10, filters=(4, 8), dense=8)
    assert kk.predict(mlp, x).shape == (3, 10) and kk.predict(cnn, x).shape == (3, 10)
    assert len(mlp.layers) == 1 + 1 + 2 + 1  # input, flatten, two hidden layers, logits
    with pytest.raises(ParameterError, match="depth must be >= 0"):
        images.build_mlp((8, 8), 10, depth=-1)

    # MLP: the same network with its first layer's input rows permuted gives the same logits on permuted pixels
    twin = images.build_mlp((8, 8), 10, depth=2, width=16, dropout=0.0)
    twin.set_weights(mlp.get_weights())
    kernel, bias = mlp.get_layer("dense1").get_weights()
    twin.get_layer("dense1").set_weights([kernel[pixel_permutation(64, seed=3)], bias])
    np.testing.assert_allclose(kk.predict(twin, permute_pixels(x, seed=3)), kk.predict(mlp, x), rtol=1e-4, atol=1e-5)

    # one pixel changed: what the first layer of each model sees move
    poked = x.copy()
    poked[:, 4, 4] += 1.0
    smooth = images.build_mlp((8, 8), 10, depth=1, width=16, activation="tanh", dropout=0.0)  # no unit is off
    dense1 = keras.Model(smooth.inputs, smooth.get_layer("dense1").output)
    conv1 = keras.Model(cnn.inputs, cnn.get_layer("conv1_1").output)
    moved_dense = np.abs(kk.predict(dense1, poked) - kk.predict(dense1, x)).max(axis=0)
    moved_conv = np.abs(kk.predict(conv1, poked) - kk.predict(conv1, x)).max(axis=(0, 3))
    assert moved_dense.shape == (16,) and moved_conv.shape == (8, 8)
    patch = np.zeros((8, 8), bool)
    patch[3:6, 3:6] = True
    assert (moved_conv[patch] > 0).all()
    assert moved_conv[~patch].max() <= 1e-3 * moved_conv[patch].min()  # zero, bar a GPU's rounding
    assert (moved_dense > 0).all()


# ----------------------------------------------------------------------------------- predictions
def test_softmax_by_hand_and_stable_for_large_logits():
    np.testing.assert_allclose(images.softmax(np.array([[0.0, np.log(3.0)]])), [[0.25, 0.75]])
    np.testing.assert_allclose(images.softmax(np.array([[1000.0, 1000.0], [-1000.0, 0.0]])), [[0.5, 0.5], [0.0, 1.0]])
    assert images.probability_columns(3) == ["p_0", "p_1", "p_2"]


def test_score_is_the_accuracy_of_the_most_probable_class():
    frame = pd.DataFrame({"id": [4, 9, 2, 7], "fold": 0, "label": [1, 0, 2, 2],
                          "p_0": [0.1, 0.7, 0.2, 0.6], "p_1": [0.8, 0.2, 0.5, 0.1], "p_2": [0.1, 0.1, 0.3, 0.3]})
    # most probable classes 1, 0, 1, 0 against labels 1, 0, 2, 2: two of four right
    assert images.predicted_classes(frame).tolist() == [1, 0, 1, 0]
    assert images.score_predictions(frame) == 0.5
    # classes are read from the column names, not their order
    assert images.score_predictions(frame[["label", "p_2", "p_0", "p_1"]]) == 0.5
    with pytest.raises(DataError, match=r"no probability columns p_<class index> among \['id', 'label'\]"):
        images.score_predictions(frame[["id", "label"]])


def test_submission_is_id_and_most_probable_label_in_id_order():
    test = pd.DataFrame({"id": [2, 0, 1], "p_0": [0.9, 0.2, 0.4], "p_1": [0.1, 0.8, 0.6]})
    sub = images.predictions_to_submission(test, None)
    assert list(sub.columns) == ["id", "label"]
    assert sub.to_dict("list") == {"id": [0, 1, 2], "label": [1, 1, 0]}
    with pytest.raises(DataError, match=r"ids must be 0..2, one per test image; sorted row 3 has id 5"):
        images.predictions_to_submission(test.assign(id=[5, 0, 1]), None)


def test_the_image_run_score_is_not_a_test_metric():
    comp = images.COMPETITION
    assert comp.metric == "val_accuracy" and not comp.metric.startswith("test") and comp.mode == "max"
    spec = comp.predictions
    assert spec.key == ("id",) and spec.target == "label"
    assert spec.score is images.score_predictions and spec.to_submission is images.predictions_to_submission


@pytest.mark.notebook
def test_two_seeds_share_the_hold_out_keep_predictions_and_blend(kit_dirs):
    """Two smoke runs, seeds 0 and 1, fold_seed 0: each is scored on its validation rows (the manifest's
    score is metrics["val_accuracy"], the accuracy of oof.parquet), keeps one row per test image, and the
    two blend into a run whose submission validates."""
    from kitlib import blend, predictions, run, submit
    from kitlib.execute import execute

    runs = [execute("image-classification", {"smoke": "true", "seed": str(seed), "fold_seed": "0",
                                             "compare_permuted": "false"}) for seed in (0, 1)]
    tables = []
    for folder in runs:
        manifest = run.read_manifest(folder)
        assert manifest["status"] == "ok", manifest.get("error")
        assert manifest["score"] == manifest["metrics"]["val_accuracy"]
        assert "test_accuracy" in manifest["metrics"]  # reported as a check, never the score
        oof, test = predictions.read(folder)
        assert manifest["score"] == pytest.approx(images.score_predictions(oof))
        assert manifest["cv"]["metric"] == "val_accuracy" and manifest["cv"]["folds"] == [manifest["score"]]
        assert len(oof) == manifest["cv"]["n_rows"] == round(0.15 * 600)  # the hold-out of 600 smoke images
        assert oof["id"].is_unique and oof["id"].between(0, 599).all() and (oof["fold"] == 0).all()
        assert list(oof.columns[:3]) == ["id", "fold", "label"] and predictions.prediction_columns(oof) == [
            f"p_{k}" for k in range(10)]
        np.testing.assert_allclose(oof.filter(like="p_").sum(axis=1), 1.0, rtol=1e-6)
        assert len(test) == 450 and test["id"].tolist() == list(range(450))  # a quarter of the 1,797 digits
        tables.append(oof)
    # same fold_seed: the same validation rows; other seed: other models
    pd.testing.assert_frame_equal(tables[0][["id", "fold", "label"]], tables[1][["id", "fold", "label"]])
    assert not np.allclose(tables[0].filter(like="p_"), tables[1].filter(like="p_"))

    out = blend.blend([folder.name for folder in runs], method="mean")
    manifest = run.read_manifest(out)
    assert manifest["status"] == "ok" and manifest["inputs"] == [folder.name for folder in runs]
    blended, _ = predictions.read(out)
    assert manifest["score"] == pytest.approx(images.score_predictions(blended))
    submit.validate_submission(manifest["submission"]["path"], "image-classification", manifest["data_dir"])


# ------------------------------------------------------------------------- malformed submissions
def _idx_folder(folder, n_train=12, n_test=5):
    rng = np.random.default_rng(0)
    for stem, n in zip(images.IDX_FILES, (n_train, n_train, n_test, n_test)):
        shape = (n, 4, 4) if "images" in stem else (n,)
        images.write_idx(folder / f"{stem}.gz", rng.integers(0, 10, shape).astype(np.uint8))
    return folder


@pytest.mark.parametrize("edit, message", [
    (lambda f: f.iloc[:0], r"0 rows; the test files of .* has 5"),
    (lambda f: f.iloc[:-1], r"4 rows; the test files of .* has 5"),
    (lambda f: f.iloc[[1, 0, 2, 3, 4]], r"column 'id' differs from the test files of .* in row\(s\) 1, 2"),
    (lambda f: f.assign(id=["0", "1", "1", "3", "4"]), r"in row\(s\) 3; 1 repeated value\(s\), first in row 3"),
    (lambda f: f.assign(label=["1", "banana", "2", "3", "4"]), r"column 'label': 'banana' in row\(s\) 2 is not one of"),
    (lambda f: f.assign(label=["1", "3.75", "2", "3", "4"]), r"'3.75' in row\(s\) 2 is not one of"),
    (lambda f: f.assign(label=["1", "", "2", "3", "4"]), r"column 'label' is empty in row\(s\) 2"),
])
def test_malformed_submissions_are_refused_against_the_test_ids(tmp_path, edit, message):
    from kitlib.errors import SubmissionError
    from kitlib.submit import validate_submission

    data_dir = _idx_folder(tmp_path)
    good = pd.DataFrame({"id": [str(i) for i in range(5)], "label": ["1", "2", "3", "4", "5"]})
    good.to_csv(tmp_path / "ok.csv", index=False)
    validate_submission(tmp_path / "ok.csv", "image-classification", data_dir)
    edit(good).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(SubmissionError, match=message):
        validate_submission(tmp_path / "bad.csv", "image-classification", data_dir)


def test_a_folder_of_idx_files_decides_the_dataset(tmp_path):
    from kitlib.errors import ParameterError

    data_dir = _idx_folder(tmp_path)
    assert images.choose_dataset("auto", data_dir) == "mnist"
    assert images.choose_dataset("auto", tmp_path / "nothing") == "digits"
    assert len(images.load_image_dataset("auto", data_dir).x_test) == 5
    with pytest.raises(ParameterError, match=r"holds IDX files \[.*\], but dataset is 'digits'.*pass -p dataset mnist"):
        images.load_image_dataset("digits", data_dir)
    assert images.test_ids(data_dir) == ["0", "1", "2", "3", "4"]
    assert len(images.test_ids(tmp_path / "nothing")) == 450  # the bundled digits' test split
