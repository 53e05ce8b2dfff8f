"""Checkpoints of :func:`kitlib.train.fit`: the best weights and the last full training state, in one folder.

Layout of a checkpoint folder (the notebooks use ``<run folder>/checkpoints/fold<k>/``)::

    config.json, model.safetensors   the best weights so far, by ``save_pretrained`` (transformers models)
    model.pt                         ... or their ``state_dict`` (any other torch module)
    tokenizer files, settings.json   written beside them by the fold function (see kitlib.pretrained)
    train_state.pt                   the last full training state, replaced at each save (then a record)

``train_state.pt`` holds the live weights, the optimiser, scheduler and gradient-scaler states, the
moving average (with ``ema``), the epoch, the batches done in it and the optimiser step, the history,
the callbacks' states, and the random states (Python, NumPy, torch CPU and CUDA, the training loader's
generator and a stateful sampler's ``state_dict``), both now and at the start of the epoch, so a fit
resumed from it continues exactly where it stopped. When the fit ends it shrinks to the record of a
finished fit (history and callback states, no weights or optimiser): a finished fold costs only its best
weights on disk (large models: the optimiser state is twice the weights), and resuming it skips it. Files are written to a temporary name and renamed,
so an interruption never leaves a torn checkpoint. Only load states you wrote yourself: ``train_state.pt``
is read with ``torch.load(weights_only=False)``.
"""
from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ParameterError

__all__ = ["TRAIN_STATE", "rng_state", "set_rng_state", "save_train_state", "load_train_state",
           "save_best_weights", "load_best_weights", "copy_checkpoint", "fold_checkpoint"]

TRAIN_STATE = "train_state.pt"
WEIGHTS = "model.pt"


# ------------------------------------------------------------------------------------- random states
def _loader_parts(loader: Any) -> dict[str, Any]:
    """The stateful parts of a DataLoader: its generator and any sampler with ``state_dict``."""
    parts = {}
    generator = getattr(loader, "generator", None)
    if isinstance(generator, torch.Generator):
        parts["generator"] = generator
    for name in ("sampler", "batch_sampler"):
        sampler = getattr(loader, name, None)
        if hasattr(sampler, "state_dict") and hasattr(sampler, "load_state_dict"):
            parts[name] = sampler
    return parts


def rng_state(loader: Any = None) -> dict:
    """Every random state a training epoch draws from: Python, NumPy, torch (CPU, and CUDA once
    initialised) and ``loader``'s generator and stateful samplers."""
    state: dict[str, Any] = {"python": random.getstate(), "numpy": np.random.get_state(),
                             "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():  # pragma: no cover - GPU only
        state["cuda"] = torch.cuda.get_rng_state_all()
    loader_state = {}
    for name, part in _loader_parts(loader).items():
        loader_state[name] = part.get_state() if name == "generator" else part.state_dict()
    state["loader"] = loader_state
    return state


def set_rng_state(state: dict, loader: Any = None) -> None:
    """Restore what :func:`rng_state` returned (the loader's parts into ``loader``)."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():  # pragma: no cover - GPU only
        torch.cuda.set_rng_state_all(state["cuda"])
    parts = _loader_parts(loader)
    for name, saved in state.get("loader", {}).items():
        if name in parts:
            (parts[name].set_state if name == "generator" else parts[name].load_state_dict)(saved)


# ------------------------------------------------------------------------------------ training state
def _atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, path)


def save_train_state(folder: str | os.PathLike, state: dict) -> Path:
    """Write ``state`` to ``folder/train_state.pt`` (atomically, replacing the previous one); returns the path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / TRAIN_STATE
    _atomic(path, lambda tmp: torch.save(state, tmp))
    return path


def load_train_state(folder: str | os.PathLike, signature: dict) -> dict | None:
    """The state saved in ``folder/train_state.pt``, or None when there is none.

    ``signature`` (epochs, optimiser steps per epoch, accumulation, ...) must equal the saved one: a state
    from another schedule cannot continue this fit. Raises ``ParameterError`` naming what differs.
    """
    path = Path(folder) / TRAIN_STATE
    if not path.is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=False)
    saved = state.get("signature", {})
    differ = {k: (saved.get(k), v) for k, v in signature.items() if saved.get(k) != v}
    if differ:
        detail = ", ".join(f"{k} {old!r} there, {new!r} here" for k, (old, new) in differ.items())
        raise ParameterError(f"{path} was saved by a fit with other settings ({detail}); resume with the same "
                             "settings, or pass another checkpoint folder to start afresh")
    return state


# -------------------------------------------------------------------------------------- best weights
def save_best_weights(folder: str | os.PathLike, model: nn.Module, weights: dict) -> None:
    """Write ``weights`` (a CPU state dict of ``model``) into ``folder``: ``save_pretrained`` for a
    transformers model (config.json + one model.safetensors), else ``model.pt``. Files are written in a
    temporary folder and moved in, so the folder always holds one complete set."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if hasattr(model, "save_pretrained"):
        tmp = folder / f".best.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp, state_dict=dict(weights), max_shard_size="1000GB")  # it renames keys in place
        for file in tmp.iterdir():
            os.replace(file, folder / file.name)
        tmp.rmdir()
    else:
        _atomic(folder / WEIGHTS, lambda path: torch.save(weights, path))


def load_best_weights(folder: str | os.PathLike, model: nn.Module) -> dict | None:
    """The best weights saved in ``folder`` as a CPU state dict of ``model`` (None when there are none)."""
    folder = Path(folder)
    if (folder / WEIGHTS).is_file():
        return torch.load(folder / WEIGHTS, map_location="cpu", weights_only=True)
    if hasattr(model, "save_pretrained") and (folder / "config.json").is_file():
        loaded = type(model).from_pretrained(folder, local_files_only=True)
        return {k: v.detach().cpu() for k, v in loaded.state_dict().items()}
    return None


def copy_checkpoint(source: str | os.PathLike, folder: str | os.PathLike) -> bool:
    """Copy the checkpoint folder ``source`` (e.g. a fold of an earlier run) to ``folder`` unless ``folder``
    already holds a training state; True when something was copied. Raises ``ParameterError`` when
    ``source`` holds no ``train_state.pt``."""
    source, folder = Path(source), Path(folder)
    if (folder / TRAIN_STATE).is_file():
        return False
    if not (source / TRAIN_STATE).is_file():
        raise ParameterError(f"{source} holds no {TRAIN_STATE} to resume from; expected a checkpoint folder "
                             "written by kitlib.train.fit (e.g. <run folder>/checkpoints/fold0)")
    shutil.copytree(source, folder, dirs_exist_ok=True)
    return True


def fold_checkpoint(checkpoints: str | os.PathLike | None, fold: int, seed: int | None = None,
                    resume_from: str | os.PathLike | None = None) -> tuple[Path | None, bool]:
    """``(folder, resume)`` for one fold model of a cross-validated run: ``checkpoints/fold<k>/`` (and
    ``seed<t>/`` below it when ``seed`` is given, for several seeds per fold), and whether ``fit`` should
    resume there.

    With ``resume_from`` (an earlier run folder, or its ``checkpoints`` folder) that run's checkpoint of
    the same fold (and seed) is copied in first (:func:`copy_checkpoint`) when it has one; a fold it never
    started trains afresh. ``(None, False)`` without ``checkpoints``. Raises ``ParameterError`` when
    ``resume_from`` is not a folder.
    """
    if checkpoints is None:
        return None, False
    relative = Path(f"fold{fold}") / (f"seed{seed}" if seed is not None else "")
    folder = Path(checkpoints) / relative
    if not resume_from:
        return folder, False
    root = Path(resume_from)
    if not root.is_dir():
        raise ParameterError(f"resume: {str(root)!r} is not a folder; expected an earlier run folder (or its "
                             "checkpoints folder)")
    root = root / "checkpoints" if (root / "checkpoints").is_dir() else root
    if (root / relative / TRAIN_STATE).is_file():
        copy_checkpoint(root / relative, folder)
    return folder, (folder / TRAIN_STATE).is_file()
