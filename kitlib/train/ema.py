"""An exponential moving average of a model's trainable weights (Polyak averaging), for :func:`kitlib.train.fit`.

After every optimiser step ``average = d * average + (1 - d) * weights`` with
``d = min(decay, (1 + n) / (10 + n))`` at update ``n``: the warm-up keeps the first updates from being
pinned to the initial weights (a fresh head), and after a few hundred steps ``d`` is ``decay``.
:meth:`ModelEMA.swap` exchanges the averaged and the live weights in place (no copy, no extra memory),
so evaluation and the saved best weights can use the average while training goes on with the live ones.
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import ParameterError

__all__ = ["ModelEMA"]


class ModelEMA:
    """The moving average of the trainable floating-point parameters of ``model`` (``decay`` in (0, 1)).

    ``update(model)`` after each optimiser step, ``swap(model)`` to exchange the average with the live
    weights (call it again to swap back), ``state_dict()``/``load_state_dict()`` for checkpoints.
    Raises ``ParameterError`` for a decay outside (0, 1).
    """

    def __init__(self, model: nn.Module, decay: float = 0.999):
        if not 0.0 < float(decay) < 1.0:
            raise ParameterError(f"ema must be a decay in (0, 1), e.g. 0.999 (or None for no averaging); got {decay}")
        self.decay = float(decay)
        self.updates = 0
        self.shadow = [p.detach().clone() for p in self._params(model)]

    @staticmethod
    def _params(model: nn.Module) -> list[nn.Parameter]:
        return [p for p in model.parameters() if p.requires_grad and p.is_floating_point()]

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average towards the model's current weights."""
        d = min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        self.updates += 1
        params = [p.detach() for p in self._params(model)]
        torch._foreach_lerp_(self.shadow, [p.to(s.dtype) for p, s in zip(params, self.shadow)], 1.0 - d)

    @torch.no_grad()
    def swap(self, model: nn.Module) -> None:
        """Exchange the averaged and the live weights of ``model`` in place (rebinding, no copy)."""
        for i, p in enumerate(self._params(model)):
            live = p.data
            p.data = self.shadow[i]
            self.shadow[i] = live

    def state_dict(self) -> dict:
        """The average and the update count (for ``train_state.pt``)."""
        return {"decay": self.decay, "updates": self.updates, "shadow": [s.detach().cpu() for s in self.shadow]}

    def load_state_dict(self, state: dict) -> None:
        """Take back :meth:`state_dict` (tensors go to the device of the current average)."""
        self.decay, self.updates = float(state["decay"]), int(state["updates"])
        if len(state["shadow"]) != len(self.shadow):
            raise ParameterError(f"the saved moving average holds {len(state['shadow'])} tensors; this model has "
                                 f"{len(self.shadow)} trainable ones (another model or other frozen layers?)")
        self.shadow = [saved.to(s.device, s.dtype) for saved, s in zip(state["shadow"], self.shadow)]
