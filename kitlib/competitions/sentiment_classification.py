"""AIcrowd "Sentiment Classification": 512-d face embeddings written as text lists -> 3 classes.

Files (the AIcrowd format, which the demo generator reproduces byte for byte in layout):

- ``train.csv`` / ``val.csv``: columns ``embeddings`` (``"[0.32, 0.98, ...]"``, 512 numbers), ``label``
  (``negative``/``neutral``/``positive``);
- ``sample_submission.csv``: ``embeddings`` and ``label`` (to fill in); the submission keeps its rows
  and order.

The labelled rows of ``train.csv`` and ``val.csv`` are cross-validated together (stratified folds);
a row's key in the prediction tables is ``(file, row)``, its file and 1-based row number.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .. import predictions
from ..data import read_list_csv, require_files, write_atomic
from ..errors import DataError
from ..fitting import Recipe
from ..folds import FoldResult, assign_folds
from .rows import FoldSettings, Rows, RowTables
from .spec import Competition, Predictions, SubmissionSpec

LABELS = ("negative", "neutral", "positive")
DIM = 512
FILES = ("train.csv", "val.csv", "sample_submission.csv")
PROBABILITIES = tuple(predictions.columns("p_", LABELS))
SMOKE_ROWS = 400  # the labelled rows a smoke run keeps: the first of train.csv


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


def labelled_rows(data: SentimentData) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """``(X, y, keys)`` of every labelled row, ``train.csv`` then ``val.csv``; ``keys`` holds ``file, row``."""
    keys = pd.DataFrame({"file": ["train.csv"] * len(data.y_train) + ["val.csv"] * len(data.y_val),
                         "row": np.r_[np.arange(1, len(data.y_train) + 1), np.arange(1, len(data.y_val) + 1)]})
    return np.concatenate([data.X_train, data.X_val]), np.concatenate([data.y_train, data.y_val]), keys


def test_keys(data: SentimentData) -> pd.DataFrame:
    """The keys of the test rows (``sample_submission.csv`` row numbers)."""
    return pd.DataFrame({"file": "sample_submission.csv", "row": np.arange(1, len(data.X_test) + 1)})


def _labelled_keys(data_dir: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """``(keys, label codes)`` of every labelled row, ``train.csv`` then ``val.csv``, read without the embeddings."""
    files = require_files(Path(data_dir), FILES)
    codes = [_labels(pd.read_csv(files[name], usecols=["label"], dtype=str, keep_default_na=False), name)
             for name in ("train.csv", "val.csv")]
    keys = pd.DataFrame({"file": ["train.csv"] * len(codes[0]) + ["val.csv"] * len(codes[1]),
                         "row": np.r_[np.arange(1, len(codes[0]) + 1), np.arange(1, len(codes[1]) + 1)]})
    return keys, np.concatenate(codes)


def fold_rows(data_dir: Path, settings: FoldSettings) -> pd.DataFrame:
    """``file, row, fold`` of every labelled row (``train.csv`` then ``val.csv``; the first :data:`SMOKE_ROWS` in
    smoke mode): ``settings.n_folds`` folds stratified by the label, shuffled from ``settings.fold_seed``."""
    keys, y = _labelled_keys(data_dir)
    if settings.smoke:
        keys, y = keys.iloc[:SMOKE_ROWS], y[:SMOKE_ROWS]
    return keys.assign(fold=assign_folds(len(y), n_splits=settings.n_folds, stratify=y, seed=settings.fold_seed))


def row_tables(data_dir: Path, settings: FoldSettings) -> RowTables:
    """Every labelled row (``file, row, label``), the test rows (``sample_submission.csv`` row numbers) and the
    class probabilities :data:`PROBABILITIES`."""
    keys, y = _labelled_keys(data_dir)
    sample = pd.read_csv(Path(data_dir) / "sample_submission.csv", usecols=["label"], dtype=str, keep_default_na=False)
    test = pd.DataFrame({"file": "sample_submission.csv", "row": np.arange(1, len(sample) + 1)})
    return RowTables(keys.assign(label=np.asarray(LABELS)[y]), test, PROBABILITIES, (PROBABILITIES,))


def score_predictions(frame: pd.DataFrame) -> float:
    """Weighted F1 of the most probable class of each row against its ``label``."""
    from ..metrics import weighted_f1

    return weighted_f1(frame["label"].to_numpy(), np.asarray(LABELS)[frame[list(PROBABILITIES)].to_numpy().argmax(1)])


def predictions_to_submission(test: pd.DataFrame, data_dir: Path) -> pd.DataFrame:
    """``sample_submission.csv`` with ``label`` set to each test row's most probable class."""
    sample = pd.read_csv(Path(data_dir) / "sample_submission.csv", dtype=str, keep_default_na=False)
    ordered = test.sort_values("row")
    if len(ordered) != len(sample):
        raise DataError(f"{len(ordered)} test predictions for the {len(sample)} rows of sample_submission.csv")
    return sample.assign(label=np.asarray(LABELS)[ordered[list(PROBABILITIES)].to_numpy().argmax(1)])


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
    write_atomic(path, "\n".join(lines) + "\n")  # a crash mid-write leaves no truncated demo file


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


# what the MLP trains with unless given a recipe: AdamW, 5% warmup then cosine decay, early stopping after 8
MLP_RECIPE = Recipe(epochs=40, lr=1e-3, weight_decay=1e-4, batch_size=128, schedule="cosine", warmup=0.05, patience=8,
                    seed=0)


def fit_mlp(X_train: np.ndarray, y_train: np.ndarray, X_val: np.ndarray | None = None,
            y_val: np.ndarray | None = None, *, recipe: Recipe = MLP_RECIPE, hidden: int = 256, layers: int = 2,
            dropout: float = 0.2, label_smoothing: float = 0.0, callbacks=()):
    """Train :func:`build_mlp` with ``kitlib.train.fit`` as ``recipe`` says (default :data:`MLP_RECIPE`: AdamW,
    cosine schedule, 5% warmup). ``recipe.seed`` (0 when None) seeds the initial weights and the order of the
    ``recipe.batch_size`` batches here, once. With ``X_val``/``y_val``: early stopping on their weighted F1
    after ``recipe.patience`` epochs without gain, best weights restored; without: ``recipe.epochs`` epochs on
    all of ``X_train``. Returns the ``FitResult``."""
    from torch import nn

    from .. import train
    from ..metrics import weighted_f1
    from ..runtime import seed_everything

    seed = recipe.seed if recipe.seed is not None else 0
    seed_everything(seed)
    model = build_mlp(X_train.shape[1], hidden, layers, dropout)
    val = train.tensor_loader(X_val, y_val, batch_size=1024) if X_val is not None else None
    return train.fit(
        model,
        train.tensor_loader(X_train, y_train, batch_size=recipe.batch_size, shuffle=True, seed=seed),
        val=val,
        loss_fn=nn.CrossEntropyLoss(label_smoothing=label_smoothing),
        metric=lambda y, logits: weighted_f1(y, logits.argmax(axis=1)),
        metric_name="weighted_f1",
        recipe=replace(recipe, seed=None, patience=recipe.patience if val is not None else None),  # seeded above
        callbacks=list(callbacks), desc=f"mlp h={hidden}x{layers}",
    )


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def mlp_fold(X: np.ndarray, y: np.ndarray, X_test: np.ndarray, hp: dict, *, recipe: Recipe = MLP_RECIPE,
             n_seeds: int = 1, early_stopping: float = 0.1, trial=None):
    """A fold function for :func:`kitlib.folds.cross_validate`: on each fold's training rows it fits a
    scaler, holds out an ``early_stopping`` share (stratified) to pick the epoch, trains ``n_seeds`` MLPs
    (seeds ``recipe.seed`` (0 when None), ``+ 1``, ...) with ``hp`` and averages their class probabilities for
    the fold's validation rows (never seen in training or early stopping) and for ``X_test``.

    ``hp`` is a trial's suggestions or a fixed choice: its recipe fields (``lr``, ``weight_decay``,
    ``batch_size``) replace those of ``recipe`` (:meth:`~kitlib.fitting.Recipe.split`), the rest (``hidden``,
    ``layers``, ``dropout``) shape the MLP (:func:`fit_mlp`). With an Optuna ``trial`` the first seed's
    early-stopping F1 is reported at step ``fold * epochs + epoch`` (so every fold has its own steps) and the
    trial may be pruned.
    """
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from .. import train

    recipe, shape = recipe.split(hp)
    seed, epochs, device = (recipe.seed if recipe.seed is not None else 0), recipe.epochs, recipe.device

    def fit_fold(k: int, tr: np.ndarray, va: np.ndarray) -> FoldResult:
        scaler = StandardScaler().fit(X[tr])
        Xs_tr, Xs_va, Xs_te = (scaler.transform(x).astype(np.float32) for x in (X[tr], X[va], X_test))
        inner, stop = train_test_split(np.arange(len(tr)), test_size=early_stopping, stratify=y[tr],
                                       random_state=seed + k)
        val_probs, test_probs, best = 0.0, 0.0, []
        for s in range(n_seeds):
            prune = [train.OptunaPruning(trial, step_offset=k * epochs)] if trial is not None and s == 0 else []
            fit = fit_mlp(Xs_tr[inner], y[tr][inner], Xs_tr[stop], y[tr][stop], **shape, callbacks=prune,
                          recipe=replace(recipe, seed=seed + s, progress=False))
            val_probs = val_probs + _softmax(train.predict(fit.model, Xs_va, device=device)) / n_seeds
            test_probs = test_probs + _softmax(train.predict(fit.model, Xs_te, device=device)) / n_seeds
            best.append(fit.best_epoch)
        return FoldResult(val=val_probs, test=test_probs, info={"best_epoch": float(np.mean(best)),
                                                                "history": fit.history})

    return fit_fold


def refit_mlp(X: np.ndarray, y: np.ndarray, X_test: np.ndarray, hp: dict, *, recipe: Recipe = MLP_RECIPE,
              n_seeds: int = 1) -> np.ndarray:
    """Test class probabilities of ``n_seeds`` MLPs (seeds ``recipe.seed`` (0 when None), ``+ 1``, ...; ``hp`` as
    for :func:`mlp_fold`) trained on every labelled row for ``recipe.epochs`` epochs (no row held out; take the
    epochs from the folds' best epochs), averaged."""
    from sklearn.preprocessing import StandardScaler

    from .. import train

    recipe, shape = recipe.split(hp)
    seed = recipe.seed if recipe.seed is not None else 0
    scaler = StandardScaler().fit(X)
    Xs, Xs_te = (scaler.transform(x).astype(np.float32) for x in (X, X_test))
    fits = [fit_mlp(Xs, y, **shape, recipe=replace(recipe, seed=seed + s, progress=False)) for s in range(n_seeds)]
    return np.mean([_softmax(train.predict(f.model, Xs_te, device=recipe.device)) for f in fits], axis=0)


def refit_forest(X: np.ndarray, y: np.ndarray, X_test: np.ndarray, *, trees: int = 300, seed: int = 0) -> np.ndarray:
    """Test class probabilities of a random forest trained on every labelled row."""
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=trees, n_jobs=-1, random_state=seed).fit(X, y).predict_proba(X_test)


def forest_fold(X: np.ndarray, y: np.ndarray, X_test: np.ndarray, *, trees: int = 300, seed: int = 0):
    """A fold function: a random forest on the fold's training rows; class probabilities out."""
    from sklearn.ensemble import RandomForestClassifier

    def fit_fold(k: int, tr: np.ndarray, va: np.ndarray) -> FoldResult:
        forest = RandomForestClassifier(n_estimators=trees, n_jobs=-1, random_state=seed).fit(X[tr], y[tr])
        return FoldResult(val=forest.predict_proba(X[va]), test=forest.predict_proba(X_test), model=forest)

    return fit_fold


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
    predictions=Predictions(key=("file", "row"), target="label", score=score_predictions,
                            to_submission=predictions_to_submission),
    rows=Rows(folds=fold_rows, tables=row_tables),
)
