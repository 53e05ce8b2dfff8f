"""Where and how the code runs: project paths and the kit's environment variables, device, seeds, the main
process, autocast, progress bars, Kaggle paths.

Everything below the data flow (data, folds, embed, the training loops, submissions) takes these from
here, so no module reaches into another's private helpers. torch is imported inside the functions that
need it: ``import kitlib.runtime`` costs nothing. Of kitlib it imports only :mod:`kitlib.errors`.

Every ``KIT_*`` environment variable is named and read here and nowhere else (the README's table lists
them): the project folder and where runs and submissions go, caches, time limits, and the internal ones the
kit sets for its children (``KIT_RUN_DIR``, ``KIT_SWEEP``). Each is read when asked for, never at import, so
a test or a notebook may set one at any time.

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

ROOT = Path(__file__).resolve().parent.parent  # the kit's checkout: its notebooks, demo sets and default project
KAGGLE_INPUT = Path("/kaggle/input")
KAGGLE_WORKING = Path("/kaggle/working")
KAGGLE_RUN_ENV = "KAGGLE_KERNEL_RUN_TYPE"

# The kit's environment variables. Users set these:
PROJECT_DIR_ENV = "KIT_PROJECT_DIR"  # the project folder (competitions/*.toml, notebooks/); default the checkout
RUNS_DIR_ENV = "KIT_RUNS_DIR"  # where run folders go; default <project>/runs
SUBMISSIONS_DIR_ENV = "KIT_SUBMISSIONS_DIR"  # the submission files and the ledger; default <project>/submissions
CACHE_DIR_ENV = "KIT_CACHE_DIR"  # caches of read-only data folders; default ~/.cache/kitlib
UPLOAD_TIMEOUT_ENV = "KIT_UPLOAD_TIMEOUT_S"  # seconds one platform client call may take
LB_TIMEOUT_ENV = "KIT_LB_TIMEOUT_S"  # seconds one status read (kit lb, the day's limit) may take
HEARTBEAT_ENV = "KIT_HEARTBEAT_S"  # how often `kit run` copies the running notebook and beats
STALE_AFTER_ENV = "KIT_STALE_AFTER_S"  # a running run whose heartbeat is older is shown as interrupted
OPTUNA_HEARTBEAT_ENV = "KIT_OPTUNA_HEARTBEAT_S"  # an RDB study's trial heartbeat
OPTUNA_GRACE_ENV = "KIT_OPTUNA_GRACE_S"  # after this a trial without a heartbeat is failed and retried
# ... set by `kit kernel`'s bootstrap cell on Kaggle (a user may set them elsewhere):
KAGGLE_INPUT_ENV = "KIT_KAGGLE_INPUT"  # the folder of attached inputs instead of /kaggle/input
DEFAULT_MODEL_ENV = "KIT_DEFAULT_MODEL"  # a folder replacing the package's default text model
# ... and internal, set by the kit for the processes it starts:
RUN_DIR_ENV = "KIT_RUN_DIR"  # set by `kit run` for the notebook's kernel: the run folder
SWEEP_ENV = "KIT_SWEEP"  # set by `kit sweep` for each point's `kit run`: the sweep record (JSON)

UPLOAD_TIMEOUT_S = 120.0  # wall-clock limit of one client call; KIT_UPLOAD_TIMEOUT_S or timeout_s override it
LB_TIMEOUT_S = 30.0  # wall-clock limit of one status read (tried twice); KIT_LB_TIMEOUT_S overrides it
MAX_UPLOAD_TIMEOUT_S = 86_400.0  # a day: the longest limit taken (the child's alarm needs a finite whole number)
HEARTBEAT_S = 5.0  # how often a running run copies its notebook into the run folder and beats (KIT_HEARTBEAT_S)
STALE_AFTER_S = 120.0  # a running run whose heartbeat is older than this has stopped (killed, machine lost)
OPTUNA_HEARTBEAT_S, OPTUNA_GRACE_S = 30, 90  # defaults; KIT_OPTUNA_HEARTBEAT_S and KIT_OPTUNA_GRACE_S override them


# ------------------------------------------------------------------------ project paths and KIT_* variables
def _env(name: str) -> str | None:
    """The value of the environment variable ``name``; None when it is unset or empty."""
    return os.environ.get(name) or None


def project_dir() -> Path:
    """The project folder: ``$KIT_PROJECT_DIR``, else the checkout. ``kit new`` writes ``competitions/<name>.toml``
    and ``notebooks/<name>.ipynb`` there, and the registry reads the competitions it finds there."""
    given = _env(PROJECT_DIR_ENV)
    return Path(given).expanduser().absolute() if given else ROOT


def runs_dir() -> Path:
    """Where run folders go: ``$KIT_RUNS_DIR`` or ``runs/`` in the project folder (``KIT_PROJECT_DIR``, default
    the checkout)."""
    return Path(_env(RUNS_DIR_ENV) or project_dir() / "runs")


def submissions_dir() -> Path:
    """``$KIT_SUBMISSIONS_DIR`` or ``submissions/`` in the project folder (``KIT_PROJECT_DIR``, default the
    checkout)."""
    return Path(_env(SUBMISSIONS_DIR_ENV) or project_dir() / "submissions")


def child_paths_environment() -> dict[str, str]:
    """The path variables a child ``kit run`` (a sweep point, maybe on another machine) needs to write where
    this process would: ``KIT_RUNS_DIR`` and ``KIT_PROJECT_DIR`` as absolute paths, and ``KIT_SUBMISSIONS_DIR``
    when it is set."""
    env = {RUNS_DIR_ENV: str(runs_dir().absolute()), PROJECT_DIR_ENV: str(project_dir())}
    if _env(SUBMISSIONS_DIR_ENV):
        env[SUBMISSIONS_DIR_ENV] = str(Path(os.environ[SUBMISSIONS_DIR_ENV]).absolute())
    return env


def given_run_dir() -> str | None:
    """The run folder ``kit run`` handed this kernel (``$KIT_RUN_DIR``, internal), else None."""
    return _env(RUN_DIR_ENV)


def sweep_record_text() -> str | None:
    """The sweep record ``kit sweep`` handed this ``kit run`` (``$KIT_SWEEP``, internal, JSON text), else None."""
    return _env(SWEEP_ENV)


def user_cache_dir() -> Path:
    """``~/.cache/kitlib`` (``$XDG_CACHE_HOME`` honoured): the user's cache of the kit."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "kitlib"


def cache_dir() -> Path:
    """Where caches of read-only data folders go: ``$KIT_CACHE_DIR`` when set, else :func:`user_cache_dir`."""
    given = _env(CACHE_DIR_ENV)
    return Path(given) if given else user_cache_dir()


def kaggle_input_dir() -> Path:
    """The folder of attached inputs: ``$KIT_KAGGLE_INPUT`` (tests, other mounts), else ``/kaggle/input``."""
    return Path(_env(KAGGLE_INPUT_ENV) or KAGGLE_INPUT)


def default_model_dir() -> Path | None:
    """The folder ``$KIT_DEFAULT_MODEL`` names (a copy of the default text model, attached on Kaggle), else None."""
    given = _env(DEFAULT_MODEL_ENV)
    return Path(given) if given else None


def upload_timeout_s(timeout_s: float | None = None) -> float:
    """The limit of one client call: ``timeout_s``, else ``$KIT_UPLOAD_TIMEOUT_S``, else ``UPLOAD_TIMEOUT_S``.

    Raises :class:`~kitlib.errors.ParameterError` for a value that is not a finite number of seconds above 0 and
    at most :data:`MAX_UPLOAD_TIMEOUT_S` (a day): ``inf`` or ``1e12`` would overflow the alarm that ends a stalled
    call's process.
    """
    return _time_limit(timeout_s, UPLOAD_TIMEOUT_ENV, UPLOAD_TIMEOUT_S, "upload")


def lb_timeout_s(timeout_s: float | None = None) -> float:
    """The limit of one status read (``kit lb``, the day's limit before an upload), each tried twice: ``timeout_s``,
    else ``$KIT_LB_TIMEOUT_S``, else ``LB_TIMEOUT_S`` (30). Raises ``ParameterError`` as :func:`upload_timeout_s`."""
    return _time_limit(timeout_s, LB_TIMEOUT_ENV, LB_TIMEOUT_S, "status read")


def _time_limit(given: float | None, env: str, default: float, what: str) -> float:
    """``given``, else the variable ``env``, else ``default``, checked: finite, above 0, at most a day."""
    from .errors import ParameterError

    value: Any = given if given is not None else _env(env) or default
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        seconds = float("nan")
    if not 0 < seconds <= MAX_UPLOAD_TIMEOUT_S:  # also refuses nan and inf
        source = "timeout_s / --timeout" if given is not None else env
        raise ParameterError(f"the {what} time limit ({source}) must be a number of seconds above 0 and at most "
                             f"{MAX_UPLOAD_TIMEOUT_S:g}, got {value!r}")
    return seconds


def heartbeat_s() -> float:
    """How often a running ``kit run`` copies its notebook and beats: ``$KIT_HEARTBEAT_S``, else ``HEARTBEAT_S``.
    Raises ``ValueError`` for a value that is not a number."""
    return float(_env(HEARTBEAT_ENV) or HEARTBEAT_S)


def stale_after_s() -> float:
    """After how many seconds without a heartbeat a running run counts as stopped: ``$KIT_STALE_AFTER_S``, else
    ``STALE_AFTER_S``. Raises ``ValueError`` for a value that is not a number."""
    return float(_env(STALE_AFTER_ENV) or STALE_AFTER_S)


def optuna_heartbeat(heartbeat_s: int | None = None, grace_s: int | None = None) -> tuple[int, int]:
    """``(heartbeat, grace period)`` in seconds of an Optuna RDB study: each the value given, else
    ``$KIT_OPTUNA_HEARTBEAT_S`` / ``$KIT_OPTUNA_GRACE_S``, else 30 s and the larger of 90 s and three heartbeats.
    Raises ``ParameterError`` unless both are positive and the grace period is longer; ``ValueError`` for a
    value that is not a number."""
    from .errors import ParameterError

    beat = int(heartbeat_s or _env(OPTUNA_HEARTBEAT_ENV) or OPTUNA_HEARTBEAT_S)
    grace = int(grace_s or _env(OPTUNA_GRACE_ENV) or max(OPTUNA_GRACE_S, 3 * beat))
    if beat <= 0 or grace <= beat:
        raise ParameterError(f"heartbeat {beat} s and grace period {grace} s: both positive, the grace period longer")
    return beat, grace


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
    return sys.stderr.isatty() or ("ipykernel" in sys.modules and not given_run_dir())


def widget_progress() -> bool:
    """True where a bar should be a Jupyter widget: in a kernel the user drives (not one ``kit run`` started,
    whose notebook keeps text) and not a Kaggle batch run (a committed kernel's log has no widgets)."""
    return ("ipykernel" in sys.modules and not given_run_dir()
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
    return tqdm(total=total, desc=desc, disable=disable, mininterval=0.2 if live else 30.0, leave=True,
                dynamic_ncols=live, ncols=None if live else 100, file=sys.stderr)


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
    root = kaggle_input_dir()
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
