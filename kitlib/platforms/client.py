"""What both platform clients need around them: argument checks, their captured output, archive unpacking.

- :class:`UploadResult`: what a platform answered to an accepted upload.
- :func:`_existing_file`, :func:`_non_empty`, :func:`_require`: checks made before a client is called.
- :func:`_captured_client_output` and :func:`_said`: what a client printed or logged while it ran (both
  clients report HTTP failures that way), cleaned and appended to the error messages.
- :func:`_unpack_archives`: the downloaded ``.zip`` files extracted into the destination, one level deep.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import re
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import DownloadError, MissingDependencyError, ParameterError, UploadError


@dataclass
class UploadResult:
    """What a platform answered to an accepted upload.

    ``platform`` is ``"aicrowd"`` or ``"kaggle"``; ``ok`` is True (failures raise instead);
    ``message`` is the platform's answer in words, followed by anything the client printed;
    ``submission_id`` is the platform's id for the new submission when it sent one.
    """

    platform: str
    ok: bool
    message: str
    submission_id: str | None = None


# ------------------------------------------------------------------------------- argument checks
def _existing_file(path: Path | str, platform: str) -> Path:
    """Return ``path`` as a Path; raise :class:`UploadError` when it is not an existing file."""
    path = Path(path)
    if not path.is_file():
        raise UploadError(f"Cannot upload to {platform}: {path} is not an existing file; nothing was sent.")
    return path


def _non_empty(value: str, what: str) -> str:
    """Return ``value`` stripped; raise :class:`ParameterError` when it is empty."""
    if not isinstance(value, str) or not value.strip():
        raise ParameterError(f"The {what} slug must be a non-empty string, got {value!r}")
    return value.strip()


def _require(module: str, install: str) -> None:
    """Raise :class:`MissingDependencyError` with ``install`` when ``module`` cannot be found."""
    if importlib.util.find_spec(module) is None:
        raise MissingDependencyError(f"{module} is not installed; run: {install}")


# --------------------------------------------------------------------------- captured client output
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_PROGRESS_BAR = re.compile(r"━|\d%\|")  # rich's bar glyph; tqdm's "45%|"


class _ClientOutput:
    """What a client printed to stdout/stderr and logged (WARNING and above, this thread only)."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.handler = _ThreadLogHandler(threading.get_ident())

    def text(self) -> str:
        """The captured output so far, without ANSI codes, progress bars (rich, tqdm) and blank lines."""
        raw = self.stream.getvalue() + "".join(f"{line}\n" for line in self.handler.lines)
        raw = _ANSI.sub("", raw)
        lines = (line.split("\r")[-1].rstrip() for line in raw.splitlines())
        return "\n".join(line for line in lines if line.strip() and not _PROGRESS_BAR.search(line))


class _ThreadLogHandler(logging.Handler):
    """Keeps the formatted messages of records logged by one thread."""

    def __init__(self, thread_id: int) -> None:
        super().__init__(level=logging.WARNING)
        self.thread_id = thread_id
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread_id:
            self.lines.append(f"{record.levelname}: {record.getMessage()}")


@contextlib.contextmanager
def _captured_client_output() -> Iterator[_ClientOutput]:
    """Capture stdout, stderr and root-logger records (WARNING+) of this thread while the block runs.

    Both clients report HTTP failures by printing or by logging to the root logger (AIcrowd logs the
    reason and body of every failed request), so this is where the platform's answer often is.
    """
    said = _ClientOutput()
    root = logging.getLogger()
    root.addHandler(said.handler)
    try:
        with contextlib.redirect_stdout(said.stream), contextlib.redirect_stderr(said.stream):
            yield said
    finally:
        root.removeHandler(said.handler)


def _said(said: _ClientOutput | None) -> str:
    """``"\\nClient output:\\n..."`` when the client printed or logged anything, else ``""`` (also for ``None``:
    inside :class:`~kitlib.platforms.calls.ClientCalls`, which adds the output itself)."""
    text = said.text() if said is not None else ""
    return f"\nClient output:\n{text}" if text else ""


# ------------------------------------------------------------------------------------- archives
def _unpack_archives(archives: list[Path], dest: Path, failed: str) -> None:
    """Extract each zip in ``archives`` into ``dest`` and delete it; then the ``.zip`` files they held.

    Member paths are made safe by :meth:`zipfile.ZipFile.extractall` (no absolute paths, no ``..``).
    Raises :class:`DownloadError` (starting with ``failed``) for an archive that is not a readable zip;
    that archive is kept for inspection.
    """
    for archive in sorted(archives):
        inner = _extract_zip(archive, dest, failed)
        for nested in inner:
            if nested.is_file():
                _extract_zip(nested, nested.parent, failed)


def _extract_zip(archive: Path, into: Path, failed: str) -> list[Path]:
    """Extract ``archive`` into ``into``, delete it, and return the extracted ``.zip`` members' paths."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = [m for m in zipped.namelist() if not m.endswith("/")]
            zipped.extractall(into)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DownloadError(f"{failed}: {archive} is not a readable zip archive ({exc}); it was kept as is") from exc
    archive.unlink()
    return [into / m for m in members if m.lower().endswith(".zip")]
