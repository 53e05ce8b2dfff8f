"""AIcrowd "Sentiment Classification": 512-d face embeddings written as text lists -> 3 classes.

Files (the AIcrowd format, which the demo generator reproduces byte for byte in layout):

- ``train.csv`` / ``val.csv``: columns ``embeddings`` (``"[0.32, 0.98, ...]"``, 512 numbers), ``label``
  (``negative``/``neutral``/``positive``);
- ``sample_submission.csv``: ``embeddings`` and ``label`` (to fill in); the submission keeps its rows
  and order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import read_list_csv, require_files
from ..errors import DataError
from .spec import Competition, SubmissionSpec

LABELS = ("negative", "neutral", "positive")
DIM = 512
FILES = ("train.csv", "val.csv", "sample_submission.csv")


@dataclass
class SentimentData:
    """Parsed competition files: float32 features, integer labels (index into ``labels``), the sample."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    sample: pd.DataFrame
    files: dict[str, Path]
    labels: tuple[str, ...] = field(default=LABELS)


def _labels(frame: pd.DataFrame, name: str) -> np.ndarray:
    codes = frame["label"].map({label: i for i, label in enumerate(LABELS)}).to_numpy()
    bad = np.flatnonzero(pd.isna(codes))
    if len(bad):
        row = int(bad[0])
        raise DataError(f"{name} row {row + 1}: column 'label': {frame['label'].iloc[row]!r} "
                        f"is not one of {list(LABELS)}")
    return codes.astype(np.int64)


def load(data_dir: str | Path, cache: bool = True) -> SentimentData:
    """Read ``train.csv``, ``val.csv`` and ``sample_submission.csv`` from ``data_dir``.

    Raises ``DataError`` for a missing file or column, a malformed embedding (file, row and column
    named) or a label outside ``negative``/``neutral``/``positive``.
    """
    files = require_files(Path(data_dir), FILES)
    train, tr = read_list_csv(files["train.csv"], {"embeddings": DIM}, required=["label"], cache=cache)
    val, va = read_list_csv(files["val.csv"], {"embeddings": DIM}, required=["label"], cache=cache)
    _, te = read_list_csv(files["sample_submission.csv"], {"embeddings": DIM}, cache=cache)
    sample = pd.read_csv(files["sample_submission.csv"], dtype=str, keep_default_na=False)
    return SentimentData(
        X_train=tr["embeddings"], y_train=_labels(train, "train.csv"),
        X_val=va["embeddings"], y_val=_labels(val, "val.csv"),
        X_test=te["embeddings"], sample=sample, files=files,
    )


def make_embeddings(n: int, seed: int, dim: int = DIM, latent: int = 8, noise: float = 1.2,
                    interaction: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic face-embedding-like vectors with 3 classes, deterministic from ``seed``.

    A small latent code drives both the class and the 512 coordinates. The class mixes oblique linear
    directions with squared projections (``interaction`` sets their weight), which axis-aligned random
    forest splits and linear models find hard and an MLP learns; the coordinates are a fixed random
    mixing of the code squashed into (0, 1) like the real files, plus per-coordinate ``noise``, and 10%
    of labels are flipped. Tuned so a random forest scores about 0.61 and an MLP about 0.75 weighted F1.
    Returns ``(X float64 (n, dim), y int (n,))``.
    """
    world = np.random.default_rng(12345)  # the "world" (mixing, class directions) is shared by every split
    mixing = world.normal(size=(latent, dim)) / np.sqrt(latent)
    linear, quadratic = world.normal(size=(latent, 3)), world.normal(size=(latent, 3))
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, latent))
    y = (0.7 * z @ linear + interaction * (z @ quadratic) ** 2 / 2).argmax(axis=1)
    flip = rng.random(n) < 0.10
    y[flip] = rng.integers(0, 3, size=int(flip.sum()))
    X = 1.0 / (1.0 + np.exp(-(z @ mixing + noise * rng.normal(size=(n, dim)))))
    return X, y


def _write(path: Path, X: np.ndarray, labels: list[str]) -> None:
    lines = ["embeddings,label"]
    for row, label in zip(X, labels):
        lines.append('"[' + ", ".join(f"{v:.4f}" for v in row) + ']",' + label)
    path.write_text("\n".join(lines) + "\n")


def write_demo(out_dir: str | Path, seed: int = 0, n_train: int = 2000, n_val: int = 800, n_test: int = 600,
               force: bool = False) -> Path:
    """Write a demo set in the AIcrowd format into ``out_dir`` (same seed -> same bytes).

    Skips the work when all three files exist (unless ``force``). Returns ``out_dir``.
    """
    out = Path(out_dir)
    if not force and all((out / f).is_file() for f in FILES):
        return out
    out.mkdir(parents=True, exist_ok=True)
    X, y = make_embeddings(n_train + n_val + n_test, seed)
    names = [LABELS[i] for i in y]
    _write(out / "train.csv", X[:n_train], names[:n_train])
    _write(out / "val.csv", X[n_train:n_train + n_val], names[n_train:n_train + n_val])
    _write(out / "sample_submission.csv", X[n_train + n_val:], [""] * n_test)
    return out


# ------------------------------------------------------------------------------------------- model
def build_mlp(in_dim: int, hidden: int = 256, layers: int = 2, dropout: float = 0.2, n_classes: int = 3):
    """A plain MLP: ``layers`` x (Linear -> BatchNorm -> GELU -> Dropout), then a linear classifier."""
    from torch import nn

    blocks, width = [], in_dim
    for _ in range(layers):
        blocks += [nn.Linear(width, hidden), nn.BatchNorm1d(hidden), nn.GELU(), nn.Dropout(dropout)]
        width = hidden
    return nn.Sequential(*blocks, nn.Linear(width, n_classes))


def fit_mlp(X_train: np.ndarray, y_train: np.ndarray, X_val: np.ndarray, y_val: np.ndarray, *,
            hidden: int = 256, layers: int = 2, dropout: float = 0.2, lr: float = 1e-3,
            weight_decay: float = 1e-4, batch_size: int = 128, epochs: int = 40, patience: int = 8,
            label_smoothing: float = 0.0, seed: int = 0, device: str = "auto", callbacks=(),
            progress: bool = True):
    """Train :func:`build_mlp` with ``kitlib.train.fit`` (AdamW, cosine schedule, 5% warmup), early
    stopping on validation weighted F1 with the best weights restored. Returns the ``FitResult``."""
    from torch import nn

    from .. import train
    from ..metrics import weighted_f1
    from ..runtime import seed_everything

    seed_everything(seed)
    model = build_mlp(X_train.shape[1], hidden, layers, dropout)
    return train.fit(
        model,
        train.tensor_loader(X_train, y_train, batch_size=batch_size, shuffle=True, seed=seed),
        val=train.tensor_loader(X_val, y_val, batch_size=1024),
        loss_fn=nn.CrossEntropyLoss(label_smoothing=label_smoothing),
        metric=lambda y, logits: weighted_f1(y, logits.argmax(axis=1)),
        metric_name="weighted_f1",
        epochs=epochs, lr=lr, weight_decay=weight_decay, schedule="cosine", warmup=0.05,
        patience=patience, device=device, callbacks=list(callbacks), progress=progress,
        desc=f"mlp h={hidden}x{layers}",
    )


COMPETITION = Competition(
    name="sentiment-classification",
    title='AIcrowd "Sentiment Classification" (face embeddings -> 3 classes, weighted F1)',
    platform="aicrowd",
    slug="sentiment-classification",
    metric="val_weighted_f1",
    mode="max",
    submission=SubmissionSpec(
        file_name="submission.csv",
        columns=("embeddings", "label"),
        key=("embeddings",),
        allowed={"label": LABELS},
        sample="sample_submission.csv",
    ),
    demo=write_demo,
)
