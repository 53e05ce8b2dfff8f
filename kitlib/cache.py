"""Cache entries: written whole or not at all, verified on read, rebuilt with a warning; never pickles.

One mechanism for every cache of the kit (parsed CSV tables in :mod:`kitlib.data`, text embeddings in
:mod:`kitlib.embed`, retrieval indexes in :mod:`kitlib.tasks.retrieval`). An entry is a folder whose name the caller
derives from the content it caches (a content key)::

    <entry>/                  the payload files, in formats that hold data only: parquet, .npy saved and loaded
        ...                   with allow_pickle=False, JSON, a FAISS index (never a pickle: a cache beside a user's
        SHA256SUMS.json       data must not run code); then the sha256 and size of each payload file, written last

:func:`write_entry` writes the payload into a temporary folder beside the entry, then the sums, then moves the
folder into place, so a crash or a full disk never leaves an entry that looks complete. :func:`read_entry` checks
every file against the sums before the caller reads it; an entry that fails (a truncated chunk, a file changed or
missing) is reported with a ``RuntimeWarning`` naming it, its files are removed (the sums list what the kit wrote
there) and ``None`` tells the caller to rebuild. A folder without sums is not the kit's entry: it is left alone
and not used. Imports only the standard library.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

SUMS = "SHA256SUMS.json"
_CHUNK = 1 << 22


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _payload(folder: Path) -> list[Path]:
    """The files below ``folder`` other than the sums, as paths relative to it, sorted."""
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file() and p.name != SUMS)


def write_entry(folder: str | os.PathLike, write: Callable[[Path], object]) -> bool:
    """Write the cache entry ``folder``: ``write(tmp)`` puts the payload files into a temporary folder, the sums are
    written last, then the folder is moved into place (an earlier entry of the kit there is replaced). Returns True
    when the entry was written; False when it could not be (a read-only or full disk, a payload ``write`` refused,
    or a folder that is not the kit's entry in the way): a cache that cannot be written only costs time."""
    folder = Path(folder)
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.{secrets.token_hex(3)}.tmp")
    try:
        tmp.mkdir(parents=True)
        write(tmp)
        sums = {rel.as_posix(): {"sha256": _sha256(tmp / rel), "bytes": (tmp / rel).stat().st_size}
                for rel in _payload(tmp)}
        (tmp / SUMS).write_text(json.dumps(sums, indent=1, sort_keys=True) + "\n")
        if folder.exists():
            remove_entry(folder)
        os.replace(tmp, folder)
        return True
    except Exception:  # noqa: BLE001 - whatever stopped the write (disk, a payload the format cannot hold)
        shutil.rmtree(tmp, ignore_errors=True)
        return False


def read_entry(folder: str | os.PathLike) -> Path | None:
    """``folder`` when it is a complete entry whose every file matches its sums; ``None`` when there is none, or
    (after a ``RuntimeWarning`` naming it and what is wrong, and removing its files) when it is damaged."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    problem = _problem(folder)
    if problem is None:
        return folder
    warnings.warn(f"cache entry {folder}: {problem}; rebuilding it", RuntimeWarning, stacklevel=2)
    remove_entry(folder)
    return None


def _problem(folder: Path) -> str | None:
    """What is wrong with the entry ``folder`` (``None``: nothing)."""
    try:
        sums = json.loads((folder / SUMS).read_text())
        if not isinstance(sums, dict) or not sums:
            return f"{SUMS} lists no files"
        for name, want in sums.items():
            path = folder / name
            if not path.is_file():
                return f"{name} is missing"
            if path.stat().st_size != want.get("bytes") or _sha256(path) != want.get("sha256"):
                return f"{name} does not match its sha256 (cut short or changed)"
    except FileNotFoundError:
        return f"no {SUMS} (not an entry the kit finished writing)"
    except (OSError, ValueError, AttributeError) as exc:
        return f"{SUMS} is unreadable ({type(exc).__name__})"
    return None


def remove_entry(folder: str | os.PathLike) -> None:
    """Remove the files the entry's sums list, the sums, and the folders left empty; anything else (a file the kit
    did not write) stays, and so does a folder without sums."""
    folder = Path(folder)
    try:
        sums = json.loads((folder / SUMS).read_text())
    except (OSError, ValueError):
        return
    for name in sums if isinstance(sums, dict) else ():
        path = folder / name
        if path.resolve().is_relative_to(folder.resolve()) and (path.is_file() or path.is_symlink()):
            path.unlink()
    (folder / SUMS).unlink(missing_ok=True)
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):
            sub.rmdir()
    with contextlib.suppress(OSError):
        folder.rmdir()


def write_json(path: Path, data: object) -> None:
    """``data`` as JSON in ``path`` (a payload file of an entry)."""
    path.write_text(json.dumps(data, sort_keys=True))
