"""The image models' fold functions: pixels + a linear model (the baseline), and the small CNN through
:func:`kitlib.train.fit`.

Both take the decoded pixels (``uint8`` ``(n, size, size, channels)`` arrays, memory maps from
:func:`kitlib.tasks.images.reading.decoded`) and return a :class:`kitlib.folds.FoldResult` whose ``val`` and
``test`` are prediction columns (:attr:`kitlib.tasks.tabular.Problem.columns`: class probabilities or values).

- :func:`pixel_features`: the pixels area-averaged down to ``pixel_size`` x ``pixel_size``, flattened, in [0, 1]
  (read in chunks, so a memory map is never loaded whole beyond these small features);
- :func:`pixels_fold`: standardised pixels -> logistic regression per classification target (ridge for values);
- :func:`cnn_fold`: a fresh (or ``model``-started) :class:`~kitlib.tasks.images.cnn.SmallCNN` trained on the
  fold's training rows only with the recipe (``recipe.epochs``; the weights of the epoch with the lowest training
  loss are kept, usually the last under the cosine schedule: the validation rows choose nothing), then the
  validation and test rows predicted, averaged over the test-time views.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch

from ...errors import ParameterError
from ...fitting import Recipe
from ...folds import FoldResult
from ...runtime import input_path
from ...train import Callback, FitState, fit, predict
from ..tabular.problem import Problem
from .augment import batch_augmenter, parse_augment, tta_views
from .cnn import CNNConfig, Heads, SmallCNN, load_weights
from .loader import PixelBatches

__all__ = ["CNNSettings", "heads_of", "pixel_features", "pixels_fold", "cnn_fold", "StopWhen", "measure_speed"]


@dataclass(frozen=True)
class CNNSettings:
    """The CNN's knobs that are not the training recipe: ``width`` (stem channels), ``augment`` (see
    :mod:`.augment`), ``tta`` (average flipped views at prediction), ``weights`` (a folder to start from; ``""``
    for a fresh network), ``dropout``; ``network``: ``(channels, outputs) -> torch module`` to train instead of
    :class:`SmallCNN` (a pretrained timm backbone where timm is installed: ``lambda c, k: timm.create_model(
    "resnet18", pretrained=True, num_classes=k, in_chans=c)``); None for the kit's network."""

    width: int = 32
    augment: str = "flip,crop,color"
    tta: bool = True
    weights: str = ""
    dropout: float = 0.2
    network: Callable[[int, int], torch.nn.Module] | None = None

    def __post_init__(self) -> None:
        parse_augment(self.augment)


def heads_of(problem: Problem, y: np.ndarray | None = None) -> Heads:
    """The CNN's output blocks for ``problem`` (classes per classification target, one value per regression)."""
    return Heads([("class", len(labels)) if labels else ("value", 1) for _, _, labels in problem.blocks()], y)


def pixel_features(pixels: np.ndarray, pixel_size: int = 32, chunk: int = 512) -> np.ndarray:
    """``(n, pixel_size * pixel_size * channels)`` float32 in [0, 1]: each picture area-averaged to
    ``pixel_size`` (read ``chunk`` rows at a time)."""
    n, _, _, c = pixels.shape
    out = np.empty((n, pixel_size * pixel_size * c), dtype=np.float32)
    for start in range(0, n, chunk):
        x = torch.from_numpy(np.array(pixels[start:start + chunk])).permute(0, 3, 1, 2).float() / 255
        small = torch.nn.functional.adaptive_avg_pool2d(x, pixel_size)
        out[start:start + len(x)] = small.permute(0, 2, 3, 1).reshape(len(x), -1).numpy()
    return out


def pixels_fold(problem: Problem, features: np.ndarray, y: np.ndarray, test_features: np.ndarray, *,
                c: float = 0.01, seed: int = 0) -> Callable[[int, np.ndarray, np.ndarray], FoldResult]:
    """A fold function (for :func:`kitlib.folds.cross_validate`): standardised pixel features -> logistic
    regression (``C = c``) per classification target, ridge (``alpha = 1 / c``) per regression target."""
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def fit_fold(k: int, train: np.ndarray, val: np.ndarray) -> FoldResult:
        started = time.perf_counter()
        val_out, test_out, models = [], [], []
        for j, (_, _, labels) in enumerate(problem.blocks()):
            if labels:
                model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=300, random_state=seed + k))
                model.fit(features[train], y[train, j].astype(np.int64))
                seen = model[-1].classes_
                val_out.append(_all_classes(model.predict_proba(features[val]), seen, len(labels)))
                test_out.append(_all_classes(model.predict_proba(test_features), seen, len(labels)))
            else:
                model = make_pipeline(StandardScaler(), Ridge(alpha=1.0 / c))
                model.fit(features[train], y[train, j])
                val_out.append(model.predict(features[val])[:, None])
                test_out.append(model.predict(test_features)[:, None])
            models.append(model)
        return FoldResult(val=np.hstack(val_out), test=np.hstack(test_out), model=models,
                          info={"seconds": time.perf_counter() - started})

    return fit_fold


def _all_classes(proba: np.ndarray, seen: np.ndarray, n: int) -> np.ndarray:
    """Probabilities over every class (0 for a class the fold's training rows lacked)."""
    out = np.zeros((len(proba), n))
    out[:, seen.astype(np.int64)] = proba
    return out


class StopWhen(Callback):
    """Stops training after an epoch once ``should_stop()`` says so (the time budget), calling ``on_stop(epoch)``."""

    def __init__(self, should_stop: Callable[[], bool], on_stop: Callable[[int], None]):
        self.should_stop, self.on_stop = should_stop, on_stop

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        if state.epoch < state.epochs and self.should_stop():
            state.stop_training = True
            self.on_stop(state.epoch)


MIN_SIZE = 16  # the stem and three pools halve the side four times


def _network(problem: Problem, pixels: np.ndarray, settings: CNNSettings, y: np.ndarray) -> tuple[SmallCNN, Heads]:
    """A fresh (or ``settings.weights``-started) network for ``pixels`` ``(n, size, size, channels)``, channels-last;
    ``ParameterError`` for pictures smaller than :data:`MIN_SIZE`."""
    if pixels.shape[1] < MIN_SIZE:
        raise ParameterError(f"image_size {pixels.shape[1]}: the CNN needs pictures of at least {MIN_SIZE} pixels")
    channels = pixels.shape[3]
    heads = heads_of(problem, y)
    config = CNNConfig(channels, heads.outputs, settings.width, settings.dropout)
    if settings.network is not None:
        model = settings.network(channels, heads.outputs)
    else:
        model = load_weights(input_path(settings.weights), config) if settings.weights else SmallCNN(config)
    return model.to(memory_format=torch.channels_last), heads


def _predict(model: SmallCNN, heads: Heads, pixels: np.ndarray, rows: np.ndarray, settings: CNNSettings,
             recipe: Recipe) -> np.ndarray:
    """The prediction columns of ``rows``, averaged over the test-time views."""
    views = tta_views(settings.augment, settings.tta)
    total = None
    for view in views:
        batches = PixelBatches(pixels, None, rows, batch_size=max(recipe.batch_size, 128), transform=view)
        out = heads.predictions(predict(model, batches, device=recipe.device, amp_dtype=recipe.amp_dtype))
        total = out if total is None else total + out
    return total / len(views)


def cnn_fold(problem: Problem, pixels: np.ndarray, y: np.ndarray, test_pixels: np.ndarray, settings: CNNSettings,
             recipe: Recipe, *, epochs_for: Callable[[int], int] | None = None,
             callbacks: Callable[[int], list[Callback]] | None = None,
             keep: Callable[[int, SmallCNN], None] | None = None
             ) -> Callable[[int, np.ndarray, np.ndarray], FoldResult]:
    """A fold function training the CNN on the fold's training rows (``recipe``; ``epochs_for(k)`` may give fold
    ``k`` fewer epochs, the time budget's plan), then predicting its validation rows and the test rows.
    ``callbacks(k)`` adds callbacks to fold ``k``'s fit; ``keep(k, model)`` sees each fold's trained network.
    Seeds: ``recipe.seed + k`` (0 + k when None)."""
    augment = batch_augmenter(settings.augment)

    def fit_fold(k: int, train: np.ndarray, val: np.ndarray) -> FoldResult:
        started = time.perf_counter()
        fold_recipe = replace(recipe, seed=(recipe.seed or 0) + k, monitor="train_loss", mode="min",
                              epochs=epochs_for(k) if epochs_for is not None else recipe.epochs)
        torch.manual_seed(fold_recipe.seed)
        model, heads = _network(problem, pixels, settings, y[train])
        batches = PixelBatches(pixels, y, train, batch_size=recipe.batch_size, shuffle=True, seed=fold_recipe.seed,
                               augment=augment)
        result = fit(model, batches, recipe=fold_recipe, loss_fn=heads.loss, desc=f"cnn fold {k}",
                     callbacks=callbacks(k) if callbacks is not None else ())
        trained = time.perf_counter() - started
        model = result.model
        if keep is not None:
            keep(k, model)
        val_pred = _predict(model, heads, pixels, val, settings, fold_recipe)
        test_pred = _predict(model, heads, test_pixels, np.arange(len(test_pixels)), settings, fold_recipe)
        return FoldResult(val=val_pred, test=test_pred, model=None,
                          info={"epochs": len(result.history), "seconds": time.perf_counter() - started,
                                "train_seconds": trained, "history": result.history})

    return fit_fold


def measure_speed(problem: Problem, pixels: np.ndarray, y: np.ndarray, settings: CNNSettings, recipe: Recipe,
                  batches: int = 4) -> tuple[float, float]:
    """``(training images/s, prediction images/s per view)`` of the CNN on this machine, from ``batches`` timed
    batches of each after one untimed one (a throwaway network)."""
    from ...runtime import resolve_device

    dev = resolve_device(recipe.device)
    torch.manual_seed(0)
    model, heads = _network(problem, pixels, replace(settings, weights=""), y)
    model.to(dev)
    rows = np.arange(min(len(pixels), recipe.batch_size * (batches + 1)))
    loader = PixelBatches(pixels, y, rows, batch_size=recipe.batch_size, augment=batch_augmenter(settings.augment))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    seen, started = 0, 0.0
    model.train()
    for i, (x, target) in enumerate(loader):
        if i == 1:
            seen, started = 0, time.perf_counter()
        loss = heads.loss(model(x.to(dev)), target.to(dev))
        opt.zero_grad()
        loss.backward()
        opt.step()
        seen += len(x)
    train_ips = seen / max(time.perf_counter() - started, 1e-6) if started else 1.0
    started = time.perf_counter()
    predict(model, PixelBatches(pixels, None, rows, batch_size=max(recipe.batch_size, 128)), device=dev,
            amp_dtype=recipe.amp_dtype)
    return train_ips, len(rows) / max(time.perf_counter() - started, 1e-6)
