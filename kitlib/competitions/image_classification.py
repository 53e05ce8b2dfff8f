"""Image-classification data: the MNIST-family IDX files, scikit-learn's bundled 8x8 digits (the offline
default) and the fixed pixel permutation of the permuted-pixel experiment.

IDX is the format MNIST and Fashion-MNIST ship in (``train-images-idx3-ubyte.gz`` and friends): a 4-byte
magic number (two zero bytes, a type code, the number of dimensions), one big-endian uint32 per dimension,
then the values in C order. :func:`read_idx` reads it, gzip'd or not, and names the file and what is
wrong when the magic or the size does not match.

Runs keep their predictions (see :mod:`kitlib.predictions`): ``oof.parquet`` holds the validation hold-out of
the training images (key ``id``, the image's index in the training set; ``fold`` 0; the target ``label``) and
``test_predictions.parquet`` the test images (``id``, index in the test set); both with the class
probabilities ``p_<class index>``. :func:`score_predictions` is the run score (accuracy of the most probable
class), :func:`predictions_to_submission` the ``id,label`` submission.

Imports Keras only inside the model builders :func:`build_mlp` and :func:`build_cnn`.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import predictions
from ..data import read_idx, write_idx  # noqa: F401 (the IDX reader lives with the other file readers)
from ..errors import DataError, ParameterError
from .rows import FoldSettings, Rows, RowTables, holdout_table
from .spec import Competition, Predictions, SubmissionSpec

__all__ = [
    "IDX_FILES",
    "ImageSplit",
    "read_idx",
    "write_idx",
    "load_idx_dataset",
    "load_digits_dataset",
    "load_image_dataset",
    "pixel_permutation",
    "permute_pixels",
    "CLASS_NAMES",
    "probability_columns",
    "softmax",
    "predicted_classes",
    "score_predictions",
    "predictions_to_submission",
    "build_mlp",
    "build_cnn",
]

#: the four files of an MNIST-family data set: (train images, train labels, test images, test labels)
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

CLASS_NAMES = {
    "digits": [str(i) for i in range(10)],
    "mnist": [str(i) for i in range(10)],
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
}


@dataclass
class ImageSplit:
    """Images and labels of one data set: ``x_*`` are ``(n, h, w) uint8``, ``y_*`` are ``(n,) int64``."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    source: str


def _find(data_dir: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):  # torchvision/Kaggle spellings
        if (data_dir / name).is_file():
            return data_dir / name
    present = sorted(p.name for p in data_dir.iterdir()) if data_dir.is_dir() else []
    raise DataError(f"{data_dir}: no {stem}.gz (or {stem}); the folder holds {present}")


def load_idx_dataset(data_dir: str | os.PathLike, class_names: list[str] | None = None) -> ImageSplit:
    """Load MNIST or Fashion-MNIST from the four standard IDX files in ``data_dir`` (gzip'd or not).

    Raises ``DataError`` when a file is missing or malformed, or images and labels disagree in count.
    """
    data_dir = Path(data_dir)
    arrays = [read_idx(_find(data_dir, stem)) for stem in IDX_FILES]
    for images, labels, stem in ((arrays[0], arrays[1], IDX_FILES[0]), (arrays[2], arrays[3], IDX_FILES[2])):
        if images.ndim != 3:
            raise DataError(f"{data_dir / stem}: expected (n, height, width) images; got shape {images.shape}")
        if labels.ndim != 1 or len(labels) != len(images):
            raise DataError(f"{data_dir / stem}: {len(images)} images but {labels.shape} labels")
    return ImageSplit(
        x_train=arrays[0].astype(np.uint8), y_train=arrays[1].astype(np.int64),
        x_test=arrays[2].astype(np.uint8), y_test=arrays[3].astype(np.int64),
        class_names=class_names or [str(i) for i in range(int(arrays[1].max()) + 1)], source=str(data_dir),
    )


def load_digits_dataset(test_size: float = 0.25, seed: int = 0) -> ImageSplit:
    """scikit-learn's bundled 8x8 digits (1797 images, no download), split stratified into train/test.

    Pixel values 0..16 are scaled to 0..255 uint8 so every data set looks alike to the models.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = np.clip(digits.images * 16, 0, 255).astype(np.uint8)
    x_tr, x_te, y_tr, y_te = train_test_split(
        images, digits.target.astype(np.int64), test_size=test_size, random_state=seed, stratify=digits.target
    )
    return ImageSplit(x_tr, y_tr, x_te, y_te, CLASS_NAMES["digits"], "sklearn.datasets.load_digits")


def idx_files_in(data_dir: str | os.PathLike | None) -> list[str]:
    """The standard IDX files found in ``data_dir`` (gzip'd or not), by name."""
    if data_dir is None or not Path(data_dir).is_dir():
        return []
    found = []
    for stem in IDX_FILES:
        with contextlib.suppress(DataError):
            found.append(_find(Path(data_dir), stem).name)
    return found


def choose_dataset(dataset: str, data_dir: str | os.PathLike | None) -> str:
    """The data set a run uses: ``"auto"`` -> ``"mnist"`` when ``data_dir`` holds the four IDX files, else the
    bundled ``"digits"``. Raises ``ParameterError`` for an unknown name, or ``"digits"`` asked for with a
    folder of IDX files (its submission would have the digits' rows, not the folder's)."""
    if dataset not in (*CLASS_NAMES, "auto"):
        raise ParameterError(f"Unknown dataset {dataset!r}; expected one of {sorted([*CLASS_NAMES, 'auto'])}")
    found = idx_files_in(data_dir)
    if dataset == "auto":
        return "mnist" if len(found) == len(IDX_FILES) else "digits"
    if dataset == "digits" and found:
        raise ParameterError(f"data_dir {str(data_dir)!r} holds IDX files {found}, but dataset is 'digits' (the "
                             "bundled 8x8 digits): pass -p dataset mnist or fashion-mnist (or auto)")
    return dataset


def test_ids(data_dir: Path) -> list[str]:
    """The ids a submission must hold, in order: ``0 .. n-1`` over the test images the data folder decides
    (the IDX test file when there, else the bundled digits' test split)."""
    if len(idx_files_in(data_dir)) == len(IDX_FILES):
        n = len(read_idx(_find(Path(data_dir), IDX_FILES[3])))
    else:
        n = len(load_digits_dataset().y_test)
    return [str(i) for i in range(n)]


def load_image_dataset(dataset: str, data_dir: str | os.PathLike | None = None, seed: int = 0) -> ImageSplit:
    """``"digits"`` -> :func:`load_digits_dataset`; ``"mnist"``/``"fashion-mnist"`` -> the IDX files in
    ``data_dir``; ``"auto"`` -> :func:`choose_dataset`. Raises ``ParameterError`` for another name or digits
    with a folder of IDX files, ``DataError`` for missing/bad files."""
    dataset = choose_dataset(dataset, data_dir)
    if dataset == "digits":
        return load_digits_dataset(seed=seed)
    if data_dir is None:
        raise ParameterError(f"dataset {dataset!r} needs data_dir, the folder with its IDX files")
    return load_idx_dataset(data_dir, CLASS_NAMES[dataset])


def pixel_permutation(n_pixels: int, seed: int) -> np.ndarray:
    """The fixed permutation of ``n_pixels`` pixel positions drawn from ``seed`` (same seed, same order)."""
    if n_pixels < 1:
        raise ParameterError(f"n_pixels must be >= 1; got {n_pixels}")
    return np.random.default_rng(seed).permutation(n_pixels)


def permute_pixels(images: np.ndarray, seed: int) -> np.ndarray:
    """Shuffle the pixels of every image with one fixed permutation drawn from ``seed``.

    In: ``(n, h, w)`` (or ``(n, h, w, c)``, channels kept together). Out: same shape and dtype; pixel
    ``j`` of the output is pixel ``pixel_permutation(h*w, seed)[j]`` of the input, for every image, so
    calling it on train and test with the same seed applies the same bijection to both.
    """
    arr = np.asarray(images)
    if arr.ndim not in (3, 4):
        raise ParameterError(f"permute_pixels expects (n, h, w) or (n, h, w, c) images; got shape {arr.shape}")
    n, h, w = arr.shape[:3]
    flat = arr.reshape(n, h * w, *arr.shape[3:])
    return flat[:, pixel_permutation(h * w, seed)].reshape(arr.shape)


# ------------------------------------------------------------------------------------ predictions
def probability_columns(n_classes: int) -> list[str]:
    """``["p_0", ..., "p_<n_classes - 1>"]``: the class-probability columns of the prediction tables."""
    return predictions.columns("p_", range(n_classes))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``(n, k)`` logits (stable for large values): class probabilities summing to 1."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def predicted_classes(frame: pd.DataFrame) -> np.ndarray:
    """The class index of the largest ``p_<class index>`` column of each row (the first of equals).

    Raises ``DataError`` when ``frame`` has no ``p_`` columns or one is not named by a class index.
    """
    cols = [c for c in frame.columns if str(c).startswith("p_")]
    if not cols:
        raise DataError(f"no probability columns p_<class index> among {list(frame.columns)}")
    try:
        classes = np.array([int(str(c)[2:]) for c in cols], dtype=np.int64)
    except ValueError:
        raise DataError(f"probability columns {cols} must be named p_<class index>") from None
    return classes[frame[cols].to_numpy(dtype=np.float64).argmax(axis=1)]


def score_predictions(frame: pd.DataFrame) -> float:
    """Accuracy of the most probable class of each row (:func:`predicted_classes`) against its ``label``."""
    from ..metrics import accuracy

    return accuracy(frame["label"].to_numpy(dtype=np.int64), predicted_classes(frame))


def predictions_to_submission(test: pd.DataFrame, data_dir: Path | None = None) -> pd.DataFrame:
    """``id,label`` for every test image (``label`` the most probable class), in ``id`` order.

    ``data_dir`` is unused (there is no sample submission). Raises ``DataError`` when the ids are not
    0..n-1, one per test image.
    """
    ordered = predictions.by_position_id(test, "image")
    return pd.DataFrame({"id": ordered["id"].to_numpy().astype(np.int64), "label": predicted_classes(ordered)})


SMOKE_IMAGES = 600  # the training images a smoke run keeps: the first


def fold_rows(data_dir: Path, settings: FoldSettings) -> pd.DataFrame:
    """``id, fold`` of every training image (the first :data:`SMOKE_IMAGES` in smoke mode) of the data set
    ``settings.params["dataset"]`` (the digits' train/test split drawn from ``fold_seed``): a stratified hold-out of
    ``settings.params["val_fraction"]`` from ``fold_seed`` is fold 0, the images that only train -1."""
    from ..folds import holdout

    y = load_image_dataset(settings.params["dataset"], data_dir, seed=settings.fold_seed).y_train
    y = y[:SMOKE_IMAGES] if settings.smoke else y
    hold = holdout(len(y), float(settings.params["val_fraction"]), seed=settings.fold_seed, stratify=y)
    return holdout_table(pd.DataFrame({"id": np.arange(len(y), dtype=np.int64)}), hold.val)


def row_tables(data_dir: Path, settings: FoldSettings) -> RowTables:
    """Every training image (``id, label``), the test images' ids and the class probabilities ``p_0..p_<k-1>``."""
    data = load_image_dataset(settings.params["dataset"], data_dir, seed=settings.fold_seed)
    columns = tuple(probability_columns(len(data.class_names)))
    truth = pd.DataFrame({"id": np.arange(len(data.y_train), dtype=np.int64), "label": data.y_train})
    return RowTables(truth, pd.DataFrame({"id": np.arange(len(data.y_test), dtype=np.int64)}), columns, (columns,))


# ------------------------------------------------------------------------------------------ models
def build_mlp(
    input_shape: tuple[int, ...],
    n_classes: int,
    *,
    depth: int = 2,
    width: int = 256,
    activation: str = "relu",
    initializer: str = "glorot_uniform",
    dropout: float = 0.2,
    l1: float = 0.0,
    l2: float = 0.0,
):
    """A Keras multi-layer perceptron on flattened pixels: ``depth`` hidden layers of ``width`` units
    with ``activation``, ``initializer``, ``dropout`` and L1/L2 weight penalties; ``n_classes`` logits.

    It sees pixels as an unordered vector, so a fixed pixel permutation does not change what it can
    learn. Raises ``ParameterError`` for depth < 0 or width < 1.
    """
    import keras
    from keras import layers

    if depth < 0 or width < 1:
        raise ParameterError(f"depth must be >= 0 and width >= 1; got depth={depth}, width={width}")
    reg = keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 or l2) else None
    inputs = keras.Input(input_shape, name="image")
    x = layers.Flatten(name="flatten")(inputs)
    for i in range(depth):
        x = layers.Dense(width, activation=activation, kernel_initializer=initializer, kernel_regularizer=reg,
                         name=f"dense{i + 1}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"dropout{i + 1}")(x)
    outputs = layers.Dense(n_classes, kernel_initializer=initializer, name="logits")(x)
    return keras.Model(inputs, outputs, name="mlp")


def build_cnn(
    input_shape: tuple[int, ...],
    n_classes: int,
    *,
    filters: tuple[int, ...] = (32, 64),
    dense: int = 128,
    activation: str = "relu",
    initializer: str = "he_normal",
    dropout: float = 0.3,
    l2: float = 0.0,
):
    """A Keras CNN: per entry of ``filters`` two 3x3 convolutions (batch norm, ``activation``) and a 2x2
    max pool while the map is at least 4 pixels wide; then ``dense`` units and ``n_classes`` logits.

    Its 3x3 kernels assume neighbouring pixels belong together, which a pixel permutation breaks.
    ``input_shape`` is ``(h, w)`` or ``(h, w, c)``.
    """
    import keras
    from keras import layers

    reg = keras.regularizers.L2(l2) if l2 else None
    inputs = keras.Input(input_shape, name="image")
    x = layers.Reshape((*input_shape, 1), name="channels")(inputs) if len(input_shape) == 2 else inputs
    size = input_shape[0]
    for i, f in enumerate(filters):
        for j in (1, 2):
            x = layers.Conv2D(f, 3, padding="same", use_bias=False, kernel_initializer=initializer,
                              kernel_regularizer=reg, name=f"conv{i + 1}_{j}")(x)
            x = layers.BatchNormalization(name=f"bn{i + 1}_{j}")(x)
            x = layers.Activation(activation, name=f"act{i + 1}_{j}")(x)
        if size >= 4:
            x = layers.MaxPooling2D(2, name=f"pool{i + 1}")(x)
            size //= 2
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Dense(dense, activation=activation, kernel_initializer=initializer, kernel_regularizer=reg,
                     name="dense")(x)
    outputs = layers.Dense(n_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="cnn")


COMPETITION = Competition(
    name="image-classification",
    title="MNIST-family image classification with Keras (accuracy)",
    platform="local",
    slug="image-classification",
    metric="val_accuracy",  # the validation hold-out of the training images; test labels never score a run
    mode="max",
    submission=SubmissionSpec(file_name="submission.csv", columns=("id", "label"), key=("id",),
                              allowed={"label": tuple(str(i) for i in range(10))}, expected_key=test_ids),
    predictions=Predictions(key=("id",), target="label", score=score_predictions,
                            to_submission=predictions_to_submission),
    rows=Rows(folds=fold_rows, tables=row_tables, params=("dataset", "val_fraction"), n_folds="",
              smoke_n_folds=None),
)
