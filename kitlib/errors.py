"""The kit's exceptions: one hierarchy, so a caller can catch ``KitError`` and know it came from us.

Every message names what is wrong and what was expected (file, row or line, column, allowed values).
"""
from __future__ import annotations


class KitError(Exception):
    """Base class of every error the kit raises on purpose."""


class DataError(KitError, ValueError):
    """A competition file is missing or malformed (the message names file, row/line and column)."""


class ParameterError(KitError, ValueError):
    """An unknown or invalid parameter, option or name (the message lists the allowed ones)."""


class SubmissionError(KitError, ValueError):
    """A submission file does not match the competition's spec; it is never uploaded."""


class UploadError(KitError, RuntimeError):
    """The platform refused or failed an upload (the message carries the platform's answer)."""


class RunError(KitError, RuntimeError):
    """A notebook run failed; the message names the failing cell and the partial notebook is kept."""


class MissingDependencyError(KitError, ImportError):
    """An optional package is not installed; the message gives the install command."""


def require(module: str, install: str):
    """Import ``module`` or raise :class:`MissingDependencyError` telling the user to run ``install``."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(f"{module} is not installed; run: {install}") from exc
