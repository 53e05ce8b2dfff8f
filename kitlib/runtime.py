"""Where and how the code runs: device, seeds, the main process, autocast, progress bars, Kaggle paths.

Everything below the data flow (data, folds, embed, the training loops, submissions) takes these from
here, so no module reaches into another's private helpers. torch is imported inside the functions that
need it: ``import kitlib.runtime`` costs nothing.

Nothing here writes the process environment. Model loads pass ``local_files_only=True`` (see
:mod:`kitlib.pretrained`) instead of setting ``HF_HUB_OFFLINE``, which the hub library reads only once,
at import.
"""
from __future__ import annotations

import contextlib
import os
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np

KAGGLE_INPUT = Path("/kaggle/input")
KAGGLE_WORKING = Path("/kaggle/working")
KAGGLE_RUN_ENV = "KAGGLE_KERNEL_RUN_TYPE"
RUN_DIR_ENV = "KIT_RUN_DIR"  # set by `kit run` for the notebook's kernel: the run folder


# ----------------------------------------------------------------------------------------- devices
def resolve_device(device: Any = "auto"):
    """``"auto"`` -> CUDA when available, else CPU; any other string (or a ``torch.device``) is passed to
    ``torch.device``."""
    import torch

    if isinstance(device, torch.device):
        return device
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) from one number."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if "torch" in sys.modules or _torch_installed():
        import torch

        torch.manual_seed(seed)
        if torch.cuda.is_available():  # pragma: no cover - no GPU in CI
            torch.cuda.manual_seed_all(seed)


def _torch_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def is_main_process() -> bool:
    """True unless this is a non-zero rank of an initialised ``torch.distributed`` group."""
    if "torch" not in sys.modules:
        return True
    import torch

    return not (torch.distributed.is_available() and torch.distributed.is_initialized()) or (
        torch.distributed.get_rank() == 0
    )


def to_device(batch: Any, device, non_blocking: bool = False) -> Any:
    """Move every tensor inside a (nested) tuple/list/dict to ``device``."""
    import torch

    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=non_blocking)
    if isinstance(batch, dict):
        return {k: to_device(v, device, non_blocking) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device, non_blocking) for v in batch)
    return batch


# ------------------------------------------------------------------------------------ mixed precision
def amp_dtype_name(device) -> str | None:
    """``"bf16"``/``"fp16"`` for autocast on a CUDA ``device``, ``None`` elsewhere (CPU runs in fp32)."""
    if getattr(device, "type", str(device)) != "cuda":
        return None
    import torch  # pragma: no cover - GPU only

    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"  # pragma: no cover


def autocast(device, enabled: bool = True):
    """The autocast context for ``device``: bf16/fp16 on CUDA when ``enabled``, else a no-op."""
    name = amp_dtype_name(device) if enabled else None
    if name is None:
        return contextlib.nullcontext()
    import torch  # pragma: no cover - GPU only

    return torch.autocast("cuda", dtype=torch.bfloat16 if name == "bf16" else torch.float16)  # pragma: no cover


# ----------------------------------------------------------------------------------------- progress
def interactive() -> bool:
    """True in a terminal or in a Jupyter kernel that ``kit run`` did not start."""
    return sys.stderr.isatty() or ("ipykernel" in sys.modules and not os.environ.get(RUN_DIR_ENV))


def progress_bar(total: int, desc: str, enabled: bool = True):
    """A tqdm bar that behaves under papermill: outside a terminal it redraws at most every 30 s, and
    ``kit run`` folds the carriage returns so the executed notebook keeps one line per bar. Only the main
    process draws."""
    from tqdm import tqdm

    live = interactive()
    return tqdm(
        total=total,
        desc=desc,
        disable=not (enabled and is_main_process()),
        mininterval=0.2 if live else 30.0,
        leave=True,
        dynamic_ncols=live,
        ncols=None if live else 100,
        file=sys.stderr,
    )


# ------------------------------------------------------------------------------------------- Kaggle
def on_kaggle() -> bool:
    """True inside a Kaggle notebook (``KAGGLE_KERNEL_RUN_TYPE`` is set)."""
    return bool(os.environ.get(KAGGLE_RUN_ENV))


def kaggle_output_path(file_name: str) -> Path | None:
    """Where Kaggle expects the output file ``file_name`` (e.g. ``"submission.csv"``), or ``None`` off Kaggle.

    Returns ``/kaggle/working/<file_name>`` when ``KAGGLE_KERNEL_RUN_TYPE`` is set and ``/kaggle/working``
    is a folder (a code competition scores the ``submission.csv`` found there); ``None`` otherwise, so
    local runs never write outside the project. Raises ``ParameterError`` when ``file_name`` is not a
    plain file name.
    """
    from .errors import ParameterError

    if not file_name or Path(file_name).name != file_name or file_name in (".", ".."):
        raise ParameterError(f"Expected a plain file name such as 'submission.csv', got {file_name!r}")
    if not on_kaggle() or not KAGGLE_WORKING.is_dir():
        return None
    return KAGGLE_WORKING / file_name
