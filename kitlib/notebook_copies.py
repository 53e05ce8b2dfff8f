"""The copies of a notebook that ``kit run`` keeps: papermill's working copy, the live copies while it runs, the
executed notebook in the run folder.

Every copy is written masked (:func:`kitlib.masking.mask`): papermill writes its working copy through
:class:`MaskedWriter` (a papermill I/O handler), the watcher and the final copy through :func:`write_masked`. The
final copy folds progress-bar redraws to one line and marks the cells that did not run; a write that fails (a full
disk) is said in one line (:func:`keep_files`) instead of hiding the run's end.
"""
from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

from .masking import mask


def fold_carriage_returns(nb) -> None:
    """Merge consecutive stream outputs and keep only the last redraw of each carriage-returned line,
    so a progress bar stays one line in the executed notebook (as a terminal would show it)."""
    for cell in nb.cells:
        merged: list = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                text = "".join(out["text"]) if isinstance(out["text"], list) else out["text"]
                if merged and merged[-1].get("output_type") == "stream" and merged[-1]["name"] == out["name"]:
                    merged[-1]["text"] += text
                    continue
                out["text"] = text
            merged.append(out)
        for out in merged:
            if out.get("output_type") == "stream":
                out["text"] = "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in out["text"].split("\n"))
        if "outputs" in cell:
            cell["outputs"] = merged


def write_masked(nb, path: Path) -> None:
    """Write the notebook ``nb`` to ``path`` with credentials masked (atomically)."""
    import nbformat

    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")  # the watcher's and the
    tmp.write_text(mask(nbformat.writes(nb)))  # final write never share a temporary file
    tmp.replace(path)


MASKED_SCHEME = "kit-masked:"  # papermill writes its working copy of a running notebook through MaskedWriter


class MaskedWriter:
    """A papermill I/O handler for ``kit-masked:<path>``: papermill's working copy of the running notebook is written
    to ``<path>`` with credentials masked, so no copy of a live run ever holds one in clear (not even the one in the
    private temporary folder a killed run leaves behind)."""

    def read(self, path: str) -> str:
        return Path(path[len(MASKED_SCHEME):]).read_text(encoding="utf-8")

    def write(self, buf: str, path: str) -> None:
        target = Path(path[len(MASKED_SCHEME):])
        tmp = target.with_name(f".{target.name}.papermill.tmp")
        tmp.write_text(mask(buf), encoding="utf-8")
        tmp.replace(target)

    def listdir(self, path: str) -> list[str]:
        return [str(p) for p in Path(path[len(MASKED_SCHEME):]).iterdir()]

    def pretty_path(self, path: str) -> str:
        return path[len(MASKED_SCHEME):]


def masked_output(path: Path) -> str:
    """``path`` as papermill's output, written through :class:`MaskedWriter` (registered once)."""
    from papermill.iorw import papermill_io

    if not any(scheme == MASKED_SCHEME for scheme, _ in papermill_io._handlers):
        papermill_io.register(MASKED_SCHEME, MaskedWriter())
    return MASKED_SCHEME + str(path)


def mark_unrun(nb) -> None:
    """papermill marks every cell completed when a run stops; say which did not run, and which failed."""
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("papermill")
        if cell.get("cell_type") != "code" or not isinstance(meta, dict):
            continue
        if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            meta["status"] = "failed"
        elif cell.get("execution_count") is None:
            meta.update(status="pending", start_time=None, end_time=None, duration=None)


def write_failure(exc: OSError) -> str:
    """``"<strerror> (<file>)"`` for a failed write, e.g. ``No space left on device (runs/x/notebook.ipynb)``."""
    return f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")


def keep_files(working: Path, output: Path, kernel_log: Path, run_dir: Path, stopped: bool) -> list[str]:
    """Copy the executed notebook and the kernel's log into the run folder (masked); return what could not be
    written, one line each (a full disk)."""
    lost = []
    try:
        keep_notebook(working, output, stopped)
    except OSError as exc:
        lost.append(f"the executed notebook could not be written: {write_failure(exc)}")
    try:
        if kernel_log.is_file() and kernel_log.stat().st_size:
            (run_dir / "kernel.log").write_text(mask(kernel_log.read_text(errors="replace")))
    except OSError as exc:
        lost.append(f"kernel.log could not be written: {write_failure(exc)}")
    return lost


def keep_notebook(working: Path, output: Path, stopped: bool) -> None:
    """The executed notebook into the run folder: progress bars folded, cells that did not run marked,
    credentials masked. A stopped run keeps whichever of papermill's copy and the watcher's last one holds
    more outputs (papermill may rewrite its copy without the running cell's). Nothing is written when no
    copy exists."""
    import nbformat

    copies = []
    for path in (working, output):
        with contextlib.suppress(Exception):  # missing, or torn by the interruption
            copies.append(nbformat.read(path, as_version=4))
    if not copies:
        return
    nb = max(copies, key=lambda n: sum(len(c.get("outputs", [])) for c in n.cells)) if stopped else copies[0]
    fold_carriage_returns(nb)
    if stopped:
        mark_unrun(nb)
    write_masked(nb, output)
