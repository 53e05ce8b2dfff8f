"""kitlib.tasks.images: the layouts and every refusal, decoding and its cache, batches and augmentation, the CNN and
its weights folder, the folds (a fold never sees its validation rows), the time budget's plan under a fake clock,
and the CNN against pixels + logistic regression on a generated set."""
import json

import numpy as np
import pandas as pd
import pytest
import torch
from image_sets import write_image_set
from PIL import Image

from kitlib.budget import Budget
from kitlib.errors import DataError, ParameterError
from kitlib.fitting import Recipe
from kitlib.tasks import images
from kitlib.tasks.tabular import Problem


def small_set(tmp_path, layout="table", **kw):
    folder = tmp_path / layout
    truth = write_image_set(folder, layout=layout, n_train=kw.pop("n_train", 24), n_test=kw.pop("n_test", 8),
                            classes=kw.pop("classes", 3), **kw)
    return folder, truth


def problem_of(layout: images.ImageLayout, folder, metric="accuracy", holds="labels") -> Problem:
    target = layout.label_column or "label"
    labels = tuple(sorted(layout.train_table(folder)[target].unique()))
    return Problem(id=layout.test_image_column, targets=(target,), task="multiclass" if len(labels) > 2 else "binary",
                   metric=metric, holds=holds, labels={target: labels})


# ------------------------------------------------------------------------------------------------ layouts
def test_the_table_layout_ids_without_their_extension(tmp_path):
    folder, _ = small_set(tmp_path, "table", png_share=0.0)
    layout = images.find_image_layout(folder)
    assert (layout.layout, layout.image_dir, layout.test_image_dir, layout.image_column) == (
        "table", "train_images", "test_images", "image_id")
    assert (layout.extension, layout.test_ids_file, layout.n_train, layout.n_test) == (
        ".jpg", "sample_submission.csv", 24, 8)
    paths = layout.train_paths(folder, layout.train_table(folder))
    assert [p.name for p in paths[:2]] == ["img00000.jpg", "img00001.jpg"]
    assert "train.csv column 'image_id' -> train_images/*.jpg (24 images)" in layout.describe()


def test_the_table_layout_with_mixed_extensions_a_test_csv_and_other_folder_names(tmp_path):
    folder, _ = small_set(tmp_path, "table", png_share=0.5)
    (folder / "train_images").rename(folder / "images")
    (folder / "test_images").rename(folder / "test")
    sample = pd.read_csv(folder / "sample_submission.csv")
    sample[["image_id"]].to_csv(folder / "test.csv", index=False)
    layout = images.find_image_layout(folder)
    assert (layout.image_dir, layout.test_image_dir, layout.extension, layout.test_ids_file) == (
        "images", "test", "*", "test.csv")
    assert len(layout.test_paths(folder, layout.test_table(folder))) == 8


def test_the_class_folder_layout_gives_labels_from_the_folders(tmp_path):
    folder, _ = small_set(tmp_path, "folders")
    layout = images.find_image_layout(folder)
    assert (layout.layout, layout.image_dir, layout.test_image_dir, layout.image_column, layout.label_column) == (
        "folders", "train", "test", "file", "label")
    table = layout.train_table(folder)
    assert list(table.columns) == ["file", "label"] and len(table) == 24
    assert all(f.startswith(f"{label}/") for f, label in zip(table.file, table.label))
    assert layout.test_extension == "" and layout.test_paths(folder, layout.test_table(folder))[0].parent.name == "test"


def test_spec_fields_round_trip_through_the_spec_and_the_competition_inputs(tmp_path):
    folder, _ = small_set(tmp_path, "folders")
    layout = images.find_image_layout(folder)
    fields = layout.spec_fields()
    assert set(fields) == set(images.SPEC_KEYS) and all(isinstance(v, str) for v in fields.values())
    again = images.ImageLayout.from_spec({"images": fields, "files": {"train": "train.csv"}})
    assert again == images.ImageLayout(**{**layout.__dict__, "n_train": 0, "n_test": 0})
    assert images.ImageLayout.from_spec(fields, "x.toml", "train.csv").image_dir == "train"
    with pytest.raises(ParameterError, match=r"x.toml: key 'image_dir' must be a string"):
        images.ImageLayout.from_spec({**fields, "image_dir": 3}, "x.toml")
    with pytest.raises(ParameterError, match=r"x.toml: key 'image_layout': Unknown image layout 'grid'"):
        images.ImageLayout.from_spec({**fields, "image_layout": "grid"}, "x.toml")


def test_no_images_is_none(tmp_path):
    (tmp_path / "train.csv").write_text("id,x,y\n1,2,3\n")
    assert images.find_image_layout(tmp_path) is None


def test_ids_without_images_are_named_with_their_rows(tmp_path):
    folder, _ = small_set(tmp_path, "table")
    train = pd.read_csv(folder / "train.csv")
    train.loc[[3, 5], "image_id"] = ["ghost-1", "ghost-2"]
    train.to_csv(folder / "train.csv", index=False)
    with pytest.raises(DataError, match=r"train.csv column 'image_id': 2 of 24 ids name no image in .*train_images "
                                        r"\(24 image files there\), e.g. row 4 'ghost-1', row 6 'ghost-2'"):
        images.find_image_layout(folder)


def test_test_ids_without_images_are_named(tmp_path):
    folder, _ = small_set(tmp_path, "folders")
    sample = pd.read_csv(folder / "sample_submission.csv")
    sample.loc[0, "file"] = "missing.jpg"
    sample.to_csv(folder / "sample_submission.csv", index=False)
    with pytest.raises(DataError, match=r"sample_submission.csv column 'file': 1 of 8 ids name no image .* row 1 "
                                        r"'missing.jpg'"):
        images.find_image_layout(folder)


def test_an_unreadable_image_is_named(tmp_path):
    folder, _ = small_set(tmp_path, "table", png_share=0.0)
    (folder / "train_images" / "img00007.jpg").write_text("not a picture")
    with pytest.raises(DataError, match=r"img00007.jpg: not a readable image \(UnidentifiedImageError"):
        images.find_image_layout(folder)


def test_images_in_no_known_layout_are_refused_naming_what_was_found(tmp_path):
    (tmp_path / "pictures").mkdir()
    for i in range(3):
        Image.new("RGB", (8, 8)).save(tmp_path / "pictures" / f"{i}.png")
    (tmp_path / "train.csv").write_text("name,label\na,0\nb,1\n")
    with pytest.raises(DataError, match=r"images in \{'pictures/': 3\}, but train.csv has columns \['name', 'label'\]"
                                        r", none of whose first 200 values name an image there.*--images DIR"):
        images.find_image_layout(tmp_path)
    with pytest.raises(DataError, match=r"--images 'nope': no such folder"):
        images.find_image_layout(tmp_path, images.ImageOptions(images="nope"))


def test_class_folders_without_a_sample_are_refused(tmp_path):
    folder, _ = small_set(tmp_path, "folders")
    (folder / "sample_submission.csv").unlink()
    with pytest.raises(DataError, match=r"class folders \['circle', 'square', 'triangle'\] in train/, but no "
                                        r"sample_submission.csv"):
        images.find_image_layout(folder)


# ---------------------------------------------------------------------------------------- reading, cache
def test_read_image_resizes_any_size_to_gray_or_colour_and_names_a_bad_file(tmp_path):
    Image.new("RGBA", (37, 11), (10, 200, 30, 128)).save(tmp_path / "a.png")
    Image.new("L", (5, 90), 77).save(tmp_path / "b.jpg")
    assert images.read_image(tmp_path / "a.png", 16, 3).shape == (16, 16, 3)
    gray = images.read_image(tmp_path / "b.jpg", 8, 1)
    assert gray.shape == (8, 8, 1) and gray.dtype == np.uint8 and abs(int(gray.mean()) - 77) <= 2
    assert images.read_image(tmp_path / "b.jpg", 8, 3).shape == (8, 8, 3)
    assert images.choose_channels([tmp_path / "b.jpg"]) == 1 and images.choose_channels([tmp_path / "a.png"]) == 3
    (tmp_path / "c.jpg").write_bytes(b"\xff\xd8\xff broken")
    with pytest.raises(DataError, match=r"c.jpg \(train.csv row 4\): not a readable image"):
        images.read_image(tmp_path / "c.jpg", 8, 3, "train.csv row 4")
    with pytest.raises(DataError, match=r"d.jpg: not a readable image \(file not found\)"):
        images.read_image(tmp_path / "d.jpg", 8, 3)


def test_the_decoded_cache_is_keyed_by_content_and_read_as_a_memory_map(tmp_path):
    folder, _ = small_set(tmp_path, "table")
    layout = images.find_image_layout(folder)
    data = images.load(problem_of(layout, folder), layout, folder)
    cache = tmp_path / "cache"
    first = images.decoded(data.paths, 16, 3, cache, where=data.where, workers=0)
    assert isinstance(first, np.memmap) and first.shape == (24, 16, 16, 3)
    assert np.array_equal(first, images.decoded(data.paths, 16, 3, None, workers=0))
    (entry,) = [p for p in cache.iterdir() if not p.name.startswith(".")]
    again = images.decoded(data.paths, 16, 3, cache, workers=0)
    assert np.array_equal(first, again) and len(list(cache.iterdir())) == 1
    Image.new("RGB", (9, 9), (255, 0, 0)).save(data.paths[0], format="JPEG")  # a changed file: a new entry
    changed = images.decoded(data.paths, 16, 3, cache, workers=0)
    assert len(list(cache.iterdir())) == 2 and not np.array_equal(changed[0], first[0])
    data.paths[2].write_text("broken")
    with pytest.raises(DataError, match=r"img00002.jpg \(train.csv row 3\): not a readable image"):
        images.decoded(data.paths, 16, 3, cache, where=data.where, workers=0)
    assert len([p for p in cache.iterdir() if not p.name.startswith(".")]) == 2 and entry.is_dir()


def test_load_names_an_unknown_label_and_a_missing_picture(tmp_path):
    folder, _ = small_set(tmp_path, "table")
    layout = images.find_image_layout(folder)
    problem = problem_of(layout, folder)
    data = images.load(problem, layout, folder)
    assert data.y.shape == (24, 1) and list(data.keys.columns) == ["image_id"] and len(data.test_paths) == 8
    assert data.head(5).y.shape == (5, 1) and len(data.head(5).test_paths) == 8
    train = pd.read_csv(folder / "train.csv")
    train.loc[2, "label"] = "hexagon"
    train.to_csv(folder / "train.csv", index=False)
    with pytest.raises(DataError, match=r"train.csv row 3: column 'label': 'hexagon' is not one of"):
        images.load(problem, layout, folder)
    train.loc[2, "label"] = "circle"
    train.to_csv(folder / "train.csv", index=False)
    (folder / "train_images" / "img00004.jpg").unlink(missing_ok=True)
    (folder / "train_images" / "img00004.png").unlink(missing_ok=True)
    with pytest.raises(DataError, match=r"train.csv row 5: column 'image_id': id 'img00004' has no image"):
        images.load(problem, layout, folder)


# ----------------------------------------------------------------------------------- batches, augmentation
def test_batches_shuffle_from_their_generator_and_augment_in_range():
    pixels = np.random.default_rng(0).integers(0, 256, (10, 8, 8, 3), dtype=np.uint8)
    y = np.arange(10).reshape(-1, 1).astype(float)
    plain = list(images.PixelBatches(pixels, y, np.arange(10), batch_size=4))
    assert [len(x) for x, _ in plain] == [4, 4, 2] and plain[0][0].shape == (4, 3, 8, 8)
    assert plain[0][0].is_contiguous(memory_format=torch.channels_last)
    first = [t[:, 0].tolist() for _, t in images.PixelBatches(pixels, y, np.arange(10), batch_size=4, shuffle=True,
                                                                 seed=3)]
    again = [t[:, 0].tolist() for _, t in images.PixelBatches(pixels, y, np.arange(10), batch_size=4, shuffle=True,
                                                                 seed=3)]
    assert first == again and sorted(sum(first, [])) == list(range(10))
    assert first != [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    x, t = next(iter(images.PixelBatches(pixels, y, np.array([7, 2]), batch_size=4)))  # rows in the order given
    assert t[:, 0].tolist() == [7.0, 2.0] and torch.allclose(x[0], plain[1][0][3])
    augment = images.batch_augmenter("flip,vflip,crop,color")
    out = augment(torch.rand(6, 3, 8, 8), torch.Generator().manual_seed(0))
    assert out.shape == (6, 3, 8, 8) and out.min() >= 0 and out.max() <= 1
    assert images.batch_augmenter("none") is None and len(images.tta_views("flip,crop", True)) == 2
    assert len(images.tta_views("vflip", True)) == 3 and len(images.tta_views("flip", False)) == 1
    with pytest.raises(ParameterError, match=r"augment 'flip,rotate': unknown \['rotate'\]; expected"):
        images.parse_augment("flip,rotate")
    with pytest.raises(ParameterError, match=r"unknown \['resnet'\]; expected a comma-separated list of \['pixels'"):
        images.parse_models("cnn,resnet")
    assert images.parse_models("cnn") == ("pixels", "cnn")


# ------------------------------------------------------------------------------------------- the network
def test_heads_loss_and_predictions_for_classes_and_values():
    heads = images.Heads([("class", 3), ("value", 1)], np.array([[0, 10.0], [1, 20.0], [2, 30.0]]))
    out = torch.tensor([[5.0, 0.0, 0.0, 0.0], [0.0, 5.0, 0.0, 1.0]])
    loss = heads.loss(out, torch.tensor([[0, 20.0], [1, 20.0]]))
    assert loss.ndim == 0 and loss.item() > 0
    pred = heads.predictions(out.numpy())
    assert np.allclose(pred[:, :3].sum(axis=1), 1) and pred[0, 0] > 0.9
    assert pred[1, 3] == pytest.approx(20 + np.std([10, 20, 30]))


def test_weights_round_trip_adapt_their_channels_and_a_planted_file_is_refused(tmp_path):
    torch.manual_seed(0)
    model = images.SmallCNN(images.CNNConfig(channels=3, outputs=4, width=4))
    images.save_weights(model, tmp_path / "w")
    assert json.loads((tmp_path / "w" / "cnn.json").read_text())["width"] == 4
    same = images.load_weights(tmp_path / "w", images.CNNConfig(3, 4, width=99))  # the folder's width wins
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), same.state_dict().values()))
    gray = images.load_weights(tmp_path / "w", images.CNNConfig(1, 2))
    assert gray.features[0].weight.shape[1] == 1 and gray.head[1].out_features == 2
    assert torch.equal(gray.features[3].weight, model.features[3].weight)
    with pytest.raises(DataError, match=r"expected a folder holding cnn.pt and cnn.json"):
        images.load_weights(tmp_path, images.CNNConfig(3, 4))
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "w" / "cnn.pt")
    with pytest.raises(DataError, match=r"cnn.pt: weights that do not fit the CNN of width 4"):
        images.load_weights(tmp_path / "w", images.CNNConfig(3, 4))


class RecordingPixels:
    """A pixel array that records which rows were read, so a test can see what training touched."""

    def __init__(self, pixels):
        self.pixels, self.read = pixels, set()

    @property
    def shape(self):
        return self.pixels.shape

    def __len__(self):
        return len(self.pixels)

    def __getitem__(self, rows):
        self.read.update(np.atleast_1d(np.arange(len(self.pixels))[rows]).tolist())
        return self.pixels[rows]


def test_a_fold_never_sees_its_validation_rows_while_training(tmp_path):
    rng = np.random.default_rng(0)
    pixels = RecordingPixels(rng.integers(0, 256, (30, 16, 16, 3), dtype=np.uint8))
    y = (np.arange(30) % 3).reshape(-1, 1).astype(float)
    problem = Problem(id="id", targets=("label",), task="multiclass", metric="accuracy", holds="labels",
                      labels={"label": ("a", "b", "c")})
    seen = {}
    fit_fold = images.cnn_fold(problem, pixels, y, rng.integers(0, 256, (5, 16, 16, 3), dtype=np.uint8),
                               images.CNNSettings(width=4), Recipe(epochs=2, batch_size=8, progress=False, seed=0),
                               keep=lambda k, model: seen.update({k: set(pixels.read)}))
    train, val = np.arange(10, 30), np.arange(10)
    result = fit_fold(0, train, val)
    assert seen[0] and seen[0] <= set(train.tolist())
    assert result.val.shape == (10, 3) and result.test.shape == (5, 3) and np.allclose(result.val.sum(axis=1), 1)
    assert result.info["epochs"] == 2


# -------------------------------------------------------------------------------------------- the budget
class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_the_plan_cuts_epochs_then_folds_under_a_fake_clock():
    clock = FakeClock()
    budget = Budget(100, clock=clock)
    plan = images.CNNPlan(budget, rows=100, val_rows=25, test_rows=0, epochs=20, train_ips=100, predict_ips=1e9,
                          folds=4, reserve=10, min_epochs=2)
    assert plan.epochs_for(0, 4) == 20 and budget.cuts == []  # 90 s for 4 folds at 1 s an epoch: 22 would fit
    clock.now = 50.0
    plan.fold_done(50.0)  # the fold took 50 s where 20 were expected: every estimate now x2.5
    assert plan.epoch_seconds() == pytest.approx(2.5)
    assert plan.epochs_for(1, 3) == 5  # 40 s left before the reserve, over 3 folds
    assert budget.cuts[0]["what"] == "cnn epochs from fold 1" and "5 of 20 epochs" in budget.cuts[0]["reason"]
    clock.now = 83.0
    assert plan.epochs_for(2, 2) == 2  # too little for two folds: the minimum, for this one
    clock.now = 88.0
    assert plan.epochs_for(3, 1) == 0 and plan.stopped and plan.epochs_for(4, 1) == 0
    assert budget.cuts[-1]["what"] == "cnn fold 3" and "with 2 epochs, 2 s left" in budget.cuts[-1]["reason"]
    assert len(budget.cuts) == 2 and not plan.must_stop()
    clock.now = 95.0
    assert plan.must_stop()
    assert images.CNNPlan(Budget(0), 10, 2, 2, 7, 1.0, 1.0).epochs_for(0, 5) == 7  # no limit: the recipe's epochs


def test_a_cnn_cut_short_of_folds_is_compared_on_the_folds_every_model_ran():
    from kitlib.tasks.tabular import ModelResult

    problem = Problem(id="id", targets=("label",), task="binary", metric="accuracy", holds="labels",
                      labels={"label": ("a", "b")})
    y = np.array([[0], [1], [0], [1], [0], [1]], dtype=float)
    folds = np.array([0, 0, 1, 1, 2, 2])
    inputs = images.ImageInputs(problem, y, np.zeros((6, 2, 2, 1)), np.zeros((1, 2, 2, 1)), folds)
    good = np.array([[0.9, 0.1], [0.1, 0.9]] * 3)
    cut = good.copy()
    cut[4:] = np.nan
    results = {"pixels": ModelResult("pixels", "pixels", good, good[:1], [0, 1, 2], [1.0, 1.0, 1.0], 1.0, [[]], 1.0),
               "cnn": ModelResult("cnn", "cnn", cut, good[:1], [0, 1], [1.0, 1.0], 1.0, [[]], 1.0)}
    kept, shared = images.common_folds(results, inputs)
    assert shared.fold_ids == [0, 1] and kept["pixels"].fold_ids == [0, 1] and kept["pixels"].fold_scores == [1, 1]
    assert list(shared.folds) == [0, 0, 1, 1, -1, -1] and results["pixels"].fold_ids == [0, 1, 2]


@pytest.mark.parametrize("task", ["multi-label", "regression"])
def test_several_targets_and_values_come_out_as_the_problems_columns(task):
    rng = np.random.default_rng(1)
    pixels, test = (rng.integers(0, 256, (n, 16, 16, 1), dtype=np.uint8) for n in (20, 4))
    if task == "multi-label":
        problem = Problem(id="id", targets=("a", "b"), task="binary", metric="roc_auc", holds="probabilities",
                          labels={"a": ("0", "1"), "b": ("0", "1")})
        y = rng.integers(0, 2, (20, 2)).astype(float)
    else:
        problem = Problem(id="id", targets=("age",), task="regression", metric="rmse", holds="values")
        y = rng.normal(40, 10, (20, 1))
    width = len(problem.columns)
    train, val = np.arange(5, 20), np.arange(5)
    baseline = images.pixels_fold(problem, images.pixel_features(pixels, 4), y, images.pixel_features(test, 4))(
        0, train, val)
    cnn = images.cnn_fold(problem, pixels, y, test, images.CNNSettings(width=2, augment="none"),
                          Recipe(epochs=1, batch_size=8, progress=False))(0, train, val)
    for result in (baseline, cnn):
        assert result.val.shape == (5, width) and result.test.shape == (4, width)
        assert np.isfinite(problem.score(y[val], result.val))
    if task == "regression":
        assert 10 < cnn.val.mean() < 70  # values on the target's scale
    with pytest.raises(ParameterError, match=r"image_size 8: the CNN needs pictures of at least 16 pixels"):
        images.cnn_fold(problem, pixels[:, :8, :8], y, test, images.CNNSettings(), Recipe(epochs=1))(0, train, val)


def test_any_torch_network_can_stand_in_for_the_kits():
    rng = np.random.default_rng(2)
    pixels, test = (rng.integers(0, 256, (n, 16, 16, 3), dtype=np.uint8) for n in (12, 3))
    y = (np.arange(12) % 2).reshape(-1, 1).astype(float)
    problem = Problem(id="id", targets=("t",), task="binary", metric="accuracy", holds="labels",
                      labels={"t": ("a", "b")})
    built = []

    def network(channels, outputs):
        built.append((channels, outputs))
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(channels * 16 * 16, outputs))

    settings = images.CNNSettings(network=network, tta=False)
    result = images.cnn_fold(problem, pixels, y, test, settings, Recipe(epochs=1, batch_size=4, progress=False))(
        0, np.arange(4, 12), np.arange(4))
    assert built == [(3, 2)] and result.val.shape == (4, 2) and result.test.shape == (3, 2)


def test_the_cnn_beats_pixels_and_logistic_regression_in_the_same_run(tmp_path, capsys):
    """Generated digits (upscaled, shifted, noisy; colour and gray, JPEG and PNG) in the class-folder layout, 3 folds:
    the CNN's out-of-fold accuracy beats the pixel baseline's on the same folds (figures in the output)."""
    from kitlib.folds import assign_folds
    from kitlib.tasks.tabular import choose_final

    folder, _ = small_set(tmp_path, "folders", kind="digits", n_train=450, n_test=30, classes=5)
    layout = images.find_image_layout(folder)
    problem = problem_of(layout, folder)
    data = images.load(problem, layout, folder)
    pixels, test_pixels = images.decode(data, 32, folder, workers=0, progress=False)
    folds = assign_folds(len(data.y), n_splits=3, stratify=problem.stratify(data.y), seed=0)
    inputs = images.ImageInputs(problem, data.y, pixels, test_pixels, folds)
    recipe = Recipe(epochs=10, lr=2e-3, batch_size=32, weight_decay=5e-4, warmup=0.1, seed=0, progress=False)
    results = images.evaluate_models(["pixels", "cnn"], inputs, recipe, images.CNNSettings(width=16), Budget(0),
                                     pixel_size=16)
    final = choose_final(*images.common_folds(results, inputs))
    print(final.table)
    assert results["cnn"].mean > results["pixels"].mean + 0.05, final.table
    assert final.name in ("cnn", "ensemble") and (tmp_path / "folders" / ".kitcache" / "images").is_dir()


def test_ids_that_are_paths_from_the_data_folder(tmp_path):
    folder, _ = small_set(tmp_path, "table", png_share=0.0)
    for name in ("train.csv", "sample_submission.csv"):
        table = pd.read_csv(folder / name)
        sub = "train_images" if name == "train.csv" else "test_images"
        table["image_id"] = sub + "/" + table["image_id"] + ".jpg"
        table.to_csv(folder / name, index=False)
    layout = images.find_image_layout(folder)
    assert (layout.image_dir, layout.test_image_dir, layout.extension, layout.test_extension) == (".", ".", "", "")
    assert layout.train_paths(folder, layout.train_table(folder))[0] == folder / "train_images" / "img00000.jpg"
