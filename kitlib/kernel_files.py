"""The files of a ``kit kernel`` bundle folder: what the kit writes there, what it may remove, what it attaches.

A bundle folder (``--out``) may hold anything a user put there. :class:`BundleFiles` records every path the kit
writes (``bundle.json``'s ``written`` list) and, when the folder is built again, removes only those: files and
links it recorded, then the folders they leave empty. A folder that is not empty and holds no ``bundle.json`` is
refused unless ``force`` (then files of the same names are replaced, nothing else is touched); a path that is
not a folder, a ``bundle.json`` that is not readable and a file the kit did not write in the way of one it writes
are one line each.

:meth:`BundleFiles.attach` mirrors a folder to attach as a Kaggle dataset with one link per file, and says what it
leaves out: a link to a file outside the folder (its bytes would be pushed), a linked folder, hidden entries and
caches; a file over :data:`LARGE_FILE_BYTES` is attached but named with its size. A folder holding a known
credential file (``kaggle.json``, an SSH key) is refused.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from .errors import ParameterError

RECORD = "bundle.json"
LARGE_FILE_BYTES = 1 << 30  # a file this big is said on the terminal and in bundle.json before anything is pushed
CREDENTIAL_NAMES = frozenset({"kaggle.json", "credentials.json", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519",
                              "access_token", "aicrowd_token"})
CREDENTIAL_FOLDERS = (".kaggle", ".ssh", ".aws", ".config/aicrowd-cli", ".config/kaggle")
# what bundles built before bundle.json recorded its files held (removed on the first rebuild when found there)
_EARLIER_LAYOUT = ("kernel-metadata.json", "kitlib-dataset/dataset-metadata.json")


class BundleFiles:
    """The bundle folder ``out_dir`` as the kit writes it: :meth:`prepare` it, write through :meth:`path` (or
    :meth:`write_json`) and :meth:`attach`, then :meth:`record` the list in ``bundle.json``."""

    def __init__(self, out_dir: str | os.PathLike, force: bool = False):
        self.out_dir = Path(out_dir)
        self.force = force
        self.written: list[str] = []
        self.notes: list[str] = []

    def prepare(self) -> None:
        """Check the folder and remove what an earlier bundle recorded (nothing else). Raises ``ParameterError``
        for a path that is not a folder, a non-empty folder without ``bundle.json`` (unless ``force``) or an
        unreadable ``bundle.json``."""
        out = self.out_dir
        if out.exists() and not out.is_dir():
            raise ParameterError(f"kit kernel --out {str(out)!r} is a file; expected a folder for the bundle")
        if not out.is_dir() or not any(out.iterdir()):
            return
        record = out / RECORD
        if not record.is_file():
            if self.force:
                return
            raise ParameterError(f"kit kernel --out {str(out)!r} holds files and no {RECORD} of an earlier bundle; "
                                 f"choose an empty or new folder, or pass --force to write the bundle among them "
                                 f"(files of the bundle's names are replaced, nothing else is touched)")
        try:
            earlier = json.loads(record.read_text())
            if not isinstance(earlier, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            if self.force:
                return
            raise ParameterError(f"{record}: not a readable bundle record ({exc}); remove the folder's bundle by hand "
                                 f"or pass --force") from None
        self._remove(earlier)

    def _remove(self, earlier: dict[str, Any]) -> None:
        """Remove the files and links ``earlier`` (a ``bundle.json``) recorded, then the folders left empty."""
        out = self.out_dir.resolve()
        listed = earlier.get("written")
        if not isinstance(listed, list):  # a bundle from before the record: the layout it wrote
            listed = [*_EARLIER_LAYOUT, *(p.relative_to(self.out_dir).as_posix()
                                          for p in self.out_dir.glob("kitlib-dataset/kitlib-*.whl"))]
            listed += [p.relative_to(self.out_dir).as_posix() for p in self.out_dir.glob("datasets/*/**/*")
                       if p.is_symlink() or p.name == "dataset-metadata.json"]
            listed += [str(m.get("code_file")) for m in [_read_json(self.out_dir / "kernel-metadata.json")]
                       if m.get("code_file")]
        folders = set()
        for rel in map(str, listed):
            path = self.out_dir / rel
            if not Path(os.path.abspath(path)).is_relative_to(out):  # a record pointing outside: never followed
                continue
            if path.is_symlink() or path.is_file():
                path.unlink()
            folders.update(p for p in Path(rel).parents if str(p) != ".")
        (self.out_dir / RECORD).unlink(missing_ok=True)
        for rel in sorted(folders, key=lambda p: -len(p.parts)):
            with contextlib.suppress(OSError):  # not empty: it holds something the kit did not write
                (self.out_dir / rel).rmdir()

    def path(self, rel: str) -> Path:
        """The path to write ``rel`` (below the folder) at, recorded; its parent is made. Raises ``ParameterError``
        when a file the kit did not write is in the way (unless ``force``: it is replaced)."""
        target = self.out_dir / rel
        if (target.exists() or target.is_symlink()) and rel not in self.written:
            if not self.force:
                raise ParameterError(f"{target} is in the way of the bundle's {rel} and the kit did not write it; "
                                     f"move it, or pass --force to replace it")
            if target.is_dir() and not target.is_symlink():
                raise ParameterError(f"{target} is a folder where the bundle writes the file {rel}")
            target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        self.written.append(rel)
        return target

    def write_json(self, rel: str, data: Any) -> Path:
        """``data`` as indented JSON at ``rel``."""
        path = self.path(rel)
        path.write_text(json.dumps(data, indent=2) + "\n")
        return path

    def attach(self, source: Path, rel_folder: str) -> None:
        """Mirror ``source`` into ``rel_folder`` with a link per file (a copy where links fail); what is left out or
        large is said in :attr:`notes`. Raises ``ParameterError`` for a folder holding a credential file."""
        _refuse_credentials(source)
        root = source.resolve()
        for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
            here = Path(dirpath)
            for name in sorted(dirnames):
                if (here / name).is_symlink() and not name.startswith("."):
                    self.notes.append(f"{here / name} is a linked folder: not attached (attach its target with "
                                      f"--dataset)")
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__pycache__")
            for name in sorted(filenames):
                file = here / name
                if name.startswith("."):
                    continue
                if name in CREDENTIAL_NAMES:
                    raise ParameterError(f"{file} is a credential file ({name}): it would be uploaded to Kaggle with "
                                         f"the dataset; remove it from {source} or attach another folder")
                resolved = file.resolve()
                if file.is_symlink() and not resolved.is_relative_to(root):
                    self.notes.append(f"{file} links outside {source} (to {resolved}): not attached")
                    continue
                if not resolved.is_file():
                    continue
                size = resolved.stat().st_size
                if size > LARGE_FILE_BYTES:
                    self.notes.append(f"{file} is {size / 2**30:.1f} GiB: attached, and pushed with the dataset")
                target = self.path(f"{rel_folder}/{file.relative_to(source).as_posix()}")
                try:
                    os.symlink(resolved, target)
                except OSError:
                    shutil.copy2(resolved, target)

    def record(self, data: dict[str, Any]) -> Path:
        """Write ``bundle.json`` (``data`` plus the ``written`` list); its last file."""
        path = self.out_dir / RECORD
        path.write_text(json.dumps({**data, "written": self.written}, indent=2) + "\n")
        return path


def _refuse_credentials(source: Path) -> None:
    """Raise ``ParameterError`` for a folder that is (or lies inside) a known credential folder."""
    resolved = source.resolve()
    home = Path.home().resolve()
    for name in CREDENTIAL_FOLDERS:
        if resolved == home / name or resolved.is_relative_to(home / name):
            raise ParameterError(f"{source} is {home / name}, which holds credentials; it is never attached to a "
                                 f"Kaggle dataset")


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
