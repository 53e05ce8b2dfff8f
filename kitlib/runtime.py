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
AMP_DTYPES = ("auto", "bf16", "fp16", "off")


def check_amp_dtype(amp_dtype: str | bool) -> str:
    """``amp_dtype`` as one of :data:`AMP_DTYPES` (``True`` means ``"auto"``, ``False`` ``"off"``); raises
    ``ParameterError`` naming the allowed values otherwise."""
    from .errors import check_choice

    if isinstance(amp_dtype, bool):
        return "auto" if amp_dtype else "off"
    check_choice("amp_dtype", amp_dtype, AMP_DTYPES)
    return amp_dtype


def native_bf16(device) -> bool:
    """True when the CUDA ``device`` computes in bf16 natively: compute capability 8.0 or more (Ampere and
    later), or ``torch.cuda.is_bf16_supported(including_emulation=False)``. Turing (T4) and Pascal (P100)
    only emulate bf16, several times slower than fp16. Initialises CUDA: call it in the process that
    trains, never at import or in a parent that forks workers."""
    import torch

    if torch.cuda.get_device_capability(device)[0] >= 8:
        return True
    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # pragma: no cover - torch before 2.3 has no including_emulation (and no emulation check)
        return False


def amp_dtype_name(device, amp_dtype: str | bool = "auto") -> str | None:
    """The autocast dtype for ``device``: ``"bf16"``, ``"fp16"`` or ``None`` (fp32).

    ``None`` off CUDA (the CPU runs in fp32) and for ``"off"``; ``"bf16"``/``"fp16"`` as asked on CUDA;
    ``"auto"`` is bf16 where the GPU has it natively (:func:`native_bf16`) and fp16 (with a gradient scaler
    in training) elsewhere. The capability query runs here, lazily, in the calling process. Raises
    ``ParameterError`` for a name outside :data:`AMP_DTYPES`.
    """
    name = check_amp_dtype(amp_dtype)
    if name == "off" or getattr(device, "type", str(device).split(":")[0]) != "cuda":
        return None
    if name == "auto":
        return "bf16" if native_bf16(device) else "fp16"
    return name


def autocast(device, amp_dtype: str | bool = "auto"):
    """The autocast context for ``device`` and ``amp_dtype`` (see :func:`amp_dtype_name`): bf16/fp16 on
    CUDA, a no-op elsewhere or with ``"off"``."""
    name = amp_dtype_name(device, amp_dtype)
    if name is None:
        return contextlib.nullcontext()
    import torch

    return torch.autocast("cuda", dtype=torch.bfloat16 if name == "bf16" else torch.float16)


# ----------------------------------------------------------------------------------------- progress
def interactive() -> bool:
    """True in a terminal or in a Jupyter kernel that ``kit run`` did not start."""
    return sys.stderr.isatty() or ("ipykernel" in sys.modules and not os.environ.get(RUN_DIR_ENV))


def widget_progress() -> bool:
    """True where a bar should be a Jupyter widget: in a kernel the user drives (not one ``kit run`` started,
    whose notebook keeps text) and not a Kaggle batch run (a committed kernel's log has no widgets)."""
    return ("ipykernel" in sys.modules and not os.environ.get(RUN_DIR_ENV)
            and os.environ.get(KAGGLE_RUN_ENV) != "Batch")


def progress_bar(total: int, desc: str, enabled: bool = True):
    """A tqdm bar that fits where it runs: a widget in Jupyter (:func:`widget_progress`; text when
    ipywidgets is missing); under papermill a text bar that redraws at most every 30 s, and ``kit run``
    folds the carriage returns so the executed notebook keeps one line per bar. Only the main process
    draws."""
    from tqdm import tqdm

    disable = not (enabled and is_main_process())
    if widget_progress() and not disable:
        try:
            from tqdm.notebook import tqdm as notebook_tqdm

            return notebook_tqdm(total=total, desc=desc, leave=True)
        except ImportError:  # no ipywidgets: tqdm.notebook needs them; the text bar below still works
            pass
    live = interactive()
    return tqdm(
        total=total,
        desc=desc,
        disable=disable,
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


def input_path(path: str | os.PathLike) -> Path:
    """Where an attached input is: ``path`` itself when it exists or off Kaggle; on Kaggle a path that does not
    exist is looked up by its last part among the attached inputs (``/kaggle/input/<name>``, then up to three
    folder levels below: Kaggle mounts a dataset at ``/kaggle/input/<slug>`` or deeper, e.g.
    ``/kaggle/input/datasets/<owner>/<slug>``), so ``/kaggle/input/my-model`` or plain ``my-model`` finds it.
    ``$KIT_KAGGLE_INPUT`` replaces ``/kaggle/input`` (tests, other mounts). Returns ``path`` unchanged when
    nothing matches."""
    path = Path(path)
    if path.exists() or not on_kaggle() or not path.name:
        return path
    root = Path(os.environ.get("KIT_KAGGLE_INPUT") or KAGGLE_INPUT)
    for pattern in (path.name, f"*/{path.name}", f"*/*/{path.name}", f"*/*/*/{path.name}"):
        found = sorted(p for p in root.glob(pattern) if p.is_dir())
        if found:
            return found[0]
    return path


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
