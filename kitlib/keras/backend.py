"""The Keras backend and device, chosen before Keras is imported, and seeding.

Importing this module (``kitlib.keras`` imports it) sets ``KERAS_BACKEND=torch`` unless the environment says
otherwise, so no TensorFlow is needed.
"""
from __future__ import annotations

import importlib.util
import os
import sys

from ..errors import MissingDependencyError, ParameterError

os.environ.setdefault("KERAS_BACKEND", "torch")

BACKENDS = ("torch", "tensorflow", "jax")
_INSTALL = {"torch": "pip install torch==2.13.0", "tensorflow": "pip install -r requirements-tf.txt",
            "jax": "pip install jax"}

__all__ = ["BACKENDS", "use_backend", "current_backend", "seed_everything"]


def use_backend(backend: str = "", device: str = "auto") -> str:
    """Choose the Keras backend and device; call before anything imports ``keras``.

    ``backend``: ``"torch"``, ``"tensorflow"`` or ``"jax"``; ``""`` keeps ``$KERAS_BACKEND`` (torch when
    unset). ``device``: ``"auto"`` lets the backend choose (CUDA when present); ``"cpu"``, ``"cuda"`` or
    ``"cuda:1"`` pins torch (``KERAS_TORCH_DEVICE``) and jax (``JAX_PLATFORMS``); with TensorFlow,
    ``"cpu"`` hides the GPUs (``CUDA_VISIBLE_DEVICES=-1``). Returns the backend in effect.

    Raises ``ParameterError`` for an unknown backend, or when Keras is already imported with another
    backend or device (restart the kernel, or set ``KERAS_BACKEND`` before starting Python), and
    ``MissingDependencyError`` (with the install command) when the backend's package is not installed.
    """
    name = backend or os.environ.get("KERAS_BACKEND") or "torch"
    if name not in BACKENDS:
        raise ParameterError(f"Unknown Keras backend {name!r}; expected one of {list(BACKENDS)}")
    if importlib.util.find_spec(name) is None:
        raise MissingDependencyError(f"the Keras backend {name!r} needs the {name} package; run: {_INSTALL[name]}")
    if "keras" in sys.modules:
        active = sys.modules["keras"].backend.backend()
        if active != name:
            raise ParameterError(
                f"Keras is already imported with backend {active!r}, so it cannot switch to {name!r}; "
                f"restart the kernel, or start Python with KERAS_BACKEND={name}"
            )
        if device not in ("", "auto") and name == "torch":
            from keras.src.backend.torch.core import get_device

            if str(get_device()) != device:
                raise ParameterError(
                    f"Keras is already imported on device {get_device()!s}, so it cannot move to {device!r}; "
                    f"restart the kernel, or start Python with KERAS_TORCH_DEVICE={device}"
                )
        return name
    os.environ["KERAS_BACKEND"] = name
    if device not in ("", "auto"):
        if name == "torch":
            os.environ["KERAS_TORCH_DEVICE"] = device
        elif name == "jax":
            os.environ["JAX_PLATFORMS"] = device.split(":")[0]
        elif device == "cpu":
            os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    return name


def current_backend() -> str:
    """The backend Keras uses (imports Keras; after :func:`use_backend` that is the chosen one)."""
    import keras

    return keras.backend.backend()


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and the backend (``keras.utils.set_random_seed``) from one number; call it
    before building a model so its initial weights are reproducible."""
    import keras

    keras.utils.set_random_seed(int(seed) % 2**32)
