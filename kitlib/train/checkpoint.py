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
weights on disk (large models: the optimiser state is twice the weights), and resuming it skips it. Files are
written to a temporary name and renamed, so an interruption never leaves a torn checkpoint.

A checkpoint folder may come from elsewhere (``-p checkpoints``, ``-p resume``: a folder someone shared), so every
file here is read by :func:`load_safely`: ``torch.load(weights_only=True)``, which unpickles tensors, numbers,
strings and plain containers and refuses anything else (a pickled object whose loading would run code) with one
line naming the file. The training state is therefore saved as plain types: the NumPy random state as a tensor,
NumPy scalars (a metric's ``np.float64`` in the history, a callback's state) as Python numbers. States written
before that hold the NumPy random state as an array: NumPy's array reconstruction is allow-listed so that they
still resume (it builds arrays of plain data and runs nothing). Weights in ``model.safetensors`` hold no code.
"""
from __future__ import annotations

import os
import pickle
import random
import re
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import DataError, ParameterError

__all__ = ["TRAIN_STATE", "rng_state", "set_rng_state", "load_safely", "save_train_state", "load_train_state",
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
    initialised) and ``loader``'s generator and stateful samplers, as tensors and plain types (the NumPy key as an
    int64 tensor) so that :func:`load_safely` reads them back."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    numpy_state = (name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached))
    state: dict[str, Any] = {"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}
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
    name, keys, *rest = state["numpy"]
    keys = keys.numpy() if isinstance(keys, torch.Tensor) else np.asarray(keys)  # an array: a state of earlier kits
    np.random.set_state((name, keys.astype(np.uint32), *rest))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():  # pragma: no cover - GPU only
        torch.cuda.set_rng_state_all(state["cuda"])
    parts = _loader_parts(loader)
    for name, saved in state.get("loader", {}).items():
        if name in parts:
            (parts[name].set_state if name == "generator" else parts[name].load_state_dict)(saved)


# ------------------------------------------------------------------------------------------ safe loading
def _numpy_arrays() -> list:
    """The NumPy globals that an array of plain data unpickles through (states written by earlier kits)."""
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # pragma: no cover - NumPy 1
        from numpy.core.multiarray import _reconstruct
    plain_dtypes = {type(np.dtype(code)) for code in "?bBhHiIlLqQefdgFD"}  # booleans and numbers, never objects
    return [_reconstruct, np.ndarray, np.dtype, *sorted(plain_dtypes, key=str)]


def load_safely(path: str | os.PathLike) -> Any:
    """What ``torch.load(path, map_location="cpu", weights_only=True)`` returns: tensors, numbers, strings and plain
    containers (and NumPy arrays of plain data), never an object whose unpickling runs code.

    Raises ``DataError`` in one line naming ``path`` when it holds anything else (a planted file, or one written
    by another program) or is no readable torch file."""
    try:
        with torch.serialization.safe_globals(_numpy_arrays()), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL (\S+)|but got <class '([^']+)'>", str(exc))
        if found:
            what = f"it calls {found.group(1)}" if found.group(1) else f"it builds a {found.group(2)}"
            raise DataError(f"{path}: refused to load ({what}): checkpoints are read with "
                            "torch.load(weights_only=True), which loads tensors and plain values and runs no code; "
                            "use a checkpoint the kit wrote") from None
        operand = re.search(r"Unsupported operand \S+", str(exc))
        raise DataError(f"{path}: not a readable torch checkpoint ({operand.group(0) if operand else 'unpickling'} "
                        "failed under torch.load(weights_only=True))") from None
    except (RuntimeError, EOFError, ValueError, OSError) as exc:
        first = (str(exc).splitlines() or [""])[0][:160]
        raise DataError(f"{path}: not a readable torch checkpoint ({type(exc).__name__}: {first})") from None


def _plain(value: Any) -> Any:
    """``value`` with NumPy scalars turned into Python numbers (through dicts, lists and tuples), so that
    :func:`load_safely` reads it back; tensors and everything else are kept as they are."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_plain(v) for v in value)
    return value


# ------------------------------------------------------------------------------------ training state
def _atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, path)


def save_train_state(folder: str | os.PathLike, state: dict) -> Path:
    """Write ``state`` to ``folder/train_state.pt`` (atomically, replacing the previous one), NumPy scalars as Python
    numbers (:func:`load_safely` reads it back); returns the path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / TRAIN_STATE
    plain = _plain(state)
    _atomic(path, lambda tmp: torch.save(plain, tmp))
    return path


def load_train_state(folder: str | os.PathLike, signature: dict) -> dict | None:
    """The state saved in ``folder/train_state.pt``, or None when there is none.

    ``signature`` (epochs, optimiser steps per epoch, accumulation, ...) must equal the saved one: a state
    from another schedule cannot continue this fit. Raises ``ParameterError`` naming what differs, ``DataError``
    when the file holds more than tensors and plain values (:func:`load_safely`).
    """
    path = Path(folder) / TRAIN_STATE
    if not path.is_file():
        return None
    state = load_safely(path)
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
    """The best weights saved in ``folder`` as a CPU state dict of ``model`` (None when there are none); raises
    ``DataError`` when ``model.pt`` holds more than tensors (:func:`load_safely`)."""
    folder = Path(folder)
    if (folder / WEIGHTS).is_file():
        return load_safely(folder / WEIGHTS)
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
