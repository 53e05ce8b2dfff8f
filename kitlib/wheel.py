"""kitlib as a pure-Python wheel, built without pip or network: what ``kit kernel`` attaches to a Kaggle kernel
(see :mod:`kitlib.kernel`)."""
from __future__ import annotations

import base64
import hashlib
import io
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

from .competitions import ROOT

PACKAGE_DIR = Path(__file__).resolve().parent
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same sources give the same wheel bytes


def kitlib_version() -> str:
    """kitlib's version: ``pyproject.toml`` of this checkout, else the installed metadata, else ``0.0.0``."""
    try:
        return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        pass
    try:
        return metadata.version("kitlib")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def build_wheel(out_dir: Path) -> Path:
    """Write ``kitlib-<version>-py3-none-any.whl`` holding kitlib's files into ``out_dir``; return its path.

    Every file under the ``kitlib/`` package except ``__pycache__``, compiled files and hidden entries,
    plus ``METADATA``, ``WHEEL`` and ``RECORD`` (sha256 of each file) in ``kitlib-<version>.dist-info``:
    installable with ``pip install --no-deps --no-index``, importable once extracted. Entries are sorted
    and time-stamped 1980-01-01, so the same sources give the same bytes. Needs no pip and no network.
    """
    version = kitlib_version()
    files = sorted(
        p for p in PACKAGE_DIR.rglob("*")
        if p.is_file() and p.suffix not in (".pyc", ".pyo")
        and not any(part == "__pycache__" or part.startswith(".") for part in p.relative_to(PACKAGE_DIR).parts)
    )
    dist_info = f"kitlib-{version}.dist-info"
    entries = [(f"kitlib/{p.relative_to(PACKAGE_DIR).as_posix()}", p.read_bytes()) for p in files]
    entries.append((f"{dist_info}/METADATA", (
        f"Metadata-Version: 2.1\nName: kitlib\nVersion: {version}\n"
        "Summary: Competition notebook kit (bundled by kit kernel)\n"
    ).encode()))
    entries.append((f"{dist_info}/WHEEL", (
        b"Wheel-Version: 1.0\nGenerator: kitlib.kernel\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )))
    record = io.StringIO()
    for name, data in entries:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.write(f"{name},sha256={digest},{len(data)}\n")
    record.write(f"{dist_info}/RECORD,,\n")
    entries.append((f"{dist_info}/RECORD", record.getvalue().encode()))

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    wheel = out_dir / f"kitlib-{version}-py3-none-any.whl"
    tmp = wheel.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zipped.writestr(info, data)
    tmp.replace(wheel)
    return wheel
