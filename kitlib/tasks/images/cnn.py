"""The kit's small convolutional network, trained from scratch on a CPU in minutes; its outputs and its loss.

:class:`SmallCNN`: a stride-2 stem, then three stages of 3x3 convolutions with batch norm and ReLU, each ending in a
max pool, a last convolution, global average pooling, dropout and one linear layer; ``width`` channels in the stem,
doubling per stage. At 64 x 64 pixels and width 32 it trains at about 1,000 images/s on two CPU cores (channels-last
memory); parameters: about 1.2 million.

The outputs follow the problem's prediction columns (:meth:`kitlib.tasks.tabular.Problem.blocks`): one logit per
class of each classification target, one value per regression target (trained on standardised values).
:class:`Heads` turns outputs into the prediction columns (softmax per target, values scaled back) and gives the loss
(cross-entropy per classification target, mean squared error per regression target, summed).

Weights: :func:`save_weights` writes ``cnn.pt`` (a state dict, read back with ``weights_only=True``) and
``cnn.json`` (the architecture) into a folder; :func:`load_weights` starts a network from such a folder (the
``model`` parameter), the last layer replaced when the outputs differ (a network trained on another competition).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...errors import DataError, ParameterError

__all__ = ["CNNConfig", "SmallCNN", "Heads", "save_weights", "load_weights", "WEIGHTS", "CONFIG"]

WEIGHTS, CONFIG = "cnn.pt", "cnn.json"


@dataclass(frozen=True)
class CNNConfig:
    """The architecture: input ``channels``, ``outputs``, stem ``width``, ``dropout`` before the last layer."""

    channels: int
    outputs: int
    width: int = 32
    dropout: float = 0.2

    def __post_init__(self) -> None:
        if self.channels not in (1, 3) or self.outputs < 1 or self.width < 1 or not 0 <= self.dropout < 1:
            raise ParameterError(f"CNN {self}: expected 1 or 3 channels, outputs >= 1, width >= 1, dropout in [0, 1)")


def _conv(i: int, o: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(i, o, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]


class SmallCNN(nn.Module):
    """See the module docstring. ``forward(x)``: ``(b, channels, h, w)`` normalised pixels -> ``(b, outputs)``."""

    def __init__(self, config: CNNConfig):
        super().__init__()
        self.config = config
        w = config.width
        self.features = nn.Sequential(
            *_conv(config.channels, w, stride=2), *_conv(w, w), nn.MaxPool2d(2),
            *_conv(w, 2 * w), *_conv(2 * w, 2 * w), nn.MaxPool2d(2),
            *_conv(2 * w, 4 * w), *_conv(4 * w, 4 * w), nn.MaxPool2d(2),
            *_conv(4 * w, 8 * w), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(8 * w, config.outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class Heads:
    """The prediction blocks of a problem: ``[(kind, width)]`` with kind ``"class"`` or ``"value"``, and the
    training targets' scaling. ``y`` rows are class codes or values, one column per target."""

    def __init__(self, blocks: list[tuple[str, int]], y: np.ndarray | None = None):
        self.blocks = list(blocks)
        values = [j for j, (kind, _) in enumerate(self.blocks) if kind == "value"]
        y = np.asarray(y, dtype=np.float64).reshape(len(y), -1) if y is not None and len(values) else None
        self.mean = {j: float(np.mean(y[:, j])) for j in values} if y is not None else {}
        self.std = {j: float(np.std(y[:, j]) or 1.0) for j in values} if y is not None else {}

    @property
    def outputs(self) -> int:
        return sum(width for _, width in self.blocks)

    def _slices(self):
        start = 0
        for j, (kind, width) in enumerate(self.blocks):
            yield j, kind, slice(start, start + width)
            start += width

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The summed loss of a batch: ``target`` ``(b, targets)`` class codes or values."""
        target = target.reshape(len(target), -1)
        total = output.new_zeros((), dtype=torch.float32)
        for j, kind, cols in self._slices():
            out = output[:, cols].float()
            if kind == "class":
                total = total + nn.functional.cross_entropy(out, target[:, j].long())
            else:
                scaled = (target[:, j].float() - self.mean.get(j, 0.0)) / self.std.get(j, 1.0)
                total = total + nn.functional.mse_loss(out[:, 0], scaled)
        return total

    def predictions(self, output: np.ndarray) -> np.ndarray:
        """Outputs ``(n, outputs)`` -> prediction columns: class probabilities, values on the targets' scale."""
        out = np.asarray(output, dtype=np.float64).copy()
        for j, kind, cols in self._slices():
            block = out[:, cols]
            if kind == "class":
                block = np.exp(block - block.max(axis=1, keepdims=True))
                out[:, cols] = block / block.sum(axis=1, keepdims=True)
            else:
                out[:, cols] = block * self.std.get(j, 1.0) + self.mean.get(j, 0.0)
        return out


def save_weights(model: SmallCNN, folder: str | Path) -> Path:
    """Write ``cnn.pt`` and ``cnn.json`` into ``folder`` (made when missing); return the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{WEIGHTS}.tmp"
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp)
    tmp.replace(folder / WEIGHTS)
    (folder / CONFIG).write_text(json.dumps(asdict(model.config), indent=1) + "\n")
    return folder


def load_weights(folder: str | Path, config: CNNConfig) -> SmallCNN:
    """A :class:`SmallCNN` of ``config`` started from the weights in ``folder`` (written by :func:`save_weights`):
    the stem is adapted to the channels (a colour network summed to gray, a gray one repeated) and the last layer
    is left fresh when the outputs differ. Raises ``DataError`` naming the folder when it holds no such weights or
    they do not fit the architecture its ``cnn.json`` names."""
    from ...train.checkpoint import load_safely

    folder = Path(folder)
    if not (folder / WEIGHTS).is_file() or not (folder / CONFIG).is_file():
        found = sorted(p.name for p in folder.glob("*"))[:10]
        raise DataError(f"model {str(folder)!r}: expected a folder holding {WEIGHTS} and {CONFIG} (the kit's CNN, as "
                        f"a run keeps it in models/cnn/weights/); found {found}")
    try:
        width = int(json.loads((folder / CONFIG).read_text())["width"])
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{folder / CONFIG}: not the kit's CNN configuration ({type(exc).__name__}: {exc})") from None
    state = load_safely(folder / WEIGHTS)
    model = SmallCNN(CNNConfig(config.channels, config.outputs, width, config.dropout))
    expected = model.state_dict()
    stem = "features.0.weight"
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DataError(f"{folder / WEIGHTS}: not a state dict of tensors")
    if stem in state and state[stem].ndim == 4 and state[stem].shape[1] != config.channels:
        w = state[stem]
        state[stem] = w.sum(dim=1, keepdim=True) if config.channels == 1 else w.repeat(1, 3, 1, 1) / 3
    if any(k in expected and tuple(v.shape) != tuple(expected[k].shape) for k, v in state.items()
           if k.startswith("head.")):
        state = {k: v for k, v in state.items() if not k.startswith("head.")}  # other outputs: a fresh last layer
    wrong = [k for k, v in state.items() if k not in expected or tuple(v.shape) != tuple(expected[k].shape)]
    missing = [k for k in expected if k not in state and not k.startswith("head.")]
    if wrong or missing:
        raise DataError(f"{folder / WEIGHTS}: weights that do not fit the CNN of width {width} (missing "
                        f"{missing[:3]}, unexpected or of another shape {wrong[:3]})")
    model.load_state_dict(state, strict=False)
    return model
