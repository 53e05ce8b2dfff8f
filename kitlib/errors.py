"""The kit's exceptions: one hierarchy, so a caller can catch ``KitError`` and know it came from us.

Every message names what is wrong and what was expected (file, row or line, column, allowed values)::

    KitError
    ├── DataError              a competition file is missing or malformed
    ├── ParameterError         an unknown or invalid parameter, option or name
    ├── SubmissionError        a submission does not match its competition's spec (never uploaded)
    ├── PlatformError          a platform client failed or refused
    │   ├── UploadError        ... an upload or push
    │   │   └── UploadUnknown  ... the final call ended unclearly: the platform may have the submission
    │   └── DownloadError      ... a download
    ├── RunError               a notebook run failed (cell, ename, evalue, run_dir)
    ├── StorageError           an Optuna storage (database, journal file) could not be opened or failed
    └── MissingDependencyError an optional package is missing (the message gives the install command)
"""
from __future__ import annotations

from pathlib import Path


class KitError(Exception):
    """Base class of every error the kit raises on purpose."""


class DataError(KitError, ValueError):
    """A competition file is missing or malformed (the message names file, row/line and column)."""


class ParameterError(KitError, ValueError):
    """An unknown or invalid parameter, option or name (the message lists the allowed ones)."""


class SubmissionError(KitError, ValueError):
    """A submission file does not match the competition's spec; it is never uploaded."""


class PlatformError(KitError, RuntimeError):
    """A platform (Kaggle, AIcrowd) or its client failed or refused; the message carries its answer."""


class UploadError(PlatformError):
    """The platform refused or failed an upload or push (the message carries the platform's answer)."""


class UploadUnknown(UploadError):
    """An upload whose final call (the one that creates the submission) ended without a clear answer: the
    platform may or may not have the submission; the message says where to look before submitting again."""


class DownloadError(PlatformError):
    """The platform refused or failed a download (the message carries the platform's answer)."""


class RunError(KitError, RuntimeError):
    """A notebook run failed; the message names the failing cell and the partial notebook is kept.

    ``cell`` is the execution count of the failing cell (``In [n]``, ``None`` when no cell was running),
    ``ename``/``evalue`` the exception's name and text, ``run_dir`` the run folder (set once known),
    ``interrupted`` whether a signal (Ctrl-C, SIGTERM) ended the run rather than an error.
    """

    def __init__(self, message: str, *, cell: int | None = None, ename: str | None = None,
                 evalue: str | None = None, run_dir: Path | None = None, interrupted: bool = False):
        super().__init__(message)
        self.cell = cell
        self.ename = ename
        self.evalue = evalue
        self.run_dir = run_dir
        self.interrupted = interrupted


class StorageError(KitError, RuntimeError):
    """An Optuna storage could not be opened or failed while in use (a wrong password, a server that is down or
    stopped mid-run, a missing folder); the message names the storage, its password masked, and what failed."""


class MissingDependencyError(KitError, ImportError):
    """An optional package is not installed; the message gives the install command."""


def require(module: str, install: str):
    """Import ``module`` or raise :class:`MissingDependencyError` telling the user to run ``install``."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(f"{module} is not installed; run: {install}") from exc


def check_choice(what: str, value, allowed) -> None:
    """Raise ``ParameterError("Unknown <what> 'x'; expected one of [...]")`` unless ``value`` is allowed."""
    if value not in allowed:
        raise ParameterError(f"Unknown {what} {value!r}; expected one of {list(allowed)}")
