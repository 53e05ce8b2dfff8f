"""Reading competition files: where the data lives, list-valued CSV columns, IDX arrays, content hashes, caching.

The main piece is :func:`read_list_csv`: CSV files whose cells hold whole vectors written as text
(``"[0.32, 0.98, ...]"``, as AIcrowd ships face embeddings). It parses them into float32 arrays in one
vectorised pass (no per-row ``ast.literal_eval``), refuses ragged or non-numeric rows with a message that
names the file, row and column, and caches the parsed table beside the source (``.kitcache/``), keyed by the
file's sha256, so a second load reads ``.npy`` and parquet files instead of re-parsing text. Cache entries are
:mod:`kitlib.cache` entries: never pickles (a file planted beside a user's data must not run code), verified on
read, rebuilt with a warning.

Imports neither torch nor TensorFlow.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .cache import read_entry, remove_entry, write_entry, write_json
from .errors import DataError, ParameterError
from .runtime import KAGGLE_INPUT, cache_dir, on_kaggle, user_cache_dir

CACHE_VERSION = "2"  # bump when the parser's output changes, so stale caches are ignored


# ---------------------------------------------------------------------------------- where data is
def resolve_data_dir(
    data_dir: str | os.PathLike | None,
    *,
    demo_dir: str | os.PathLike,
    write_demo: Callable[[Path], object] | None = None,
    kaggle_slug: str | None = None,
) -> Path:
    """The folder holding a competition's files.

    - ``""``/``None``/``"demo"``: the embedded demo set ``demo_dir``; ``write_demo(demo_dir)`` (the
      competition's deterministic generator, which writes only what is missing or stale) runs first when
      given;
    - on Kaggle (``KAGGLE_KERNEL_RUN_TYPE`` set) a relative path that does not exist is looked up under
      ``/kaggle/input/``; with ``""`` the competition's own input folder ``/kaggle/input/<kaggle_slug>``
      is used when present;
    - anything else: that folder, which must exist.

    Out: an absolute path. Raises ``DataError`` when the folder does not exist.
    """
    kaggle = on_kaggle()
    if data_dir in (None, "", "demo"):
        kaggle_input = KAGGLE_INPUT / kaggle_slug if kaggle_slug else None
        if kaggle and kaggle_input is not None and kaggle_input.is_dir():
            return kaggle_input
        out = Path(demo_dir)
        if write_demo is not None:
            write_demo(out)
        return out.resolve()
    path = Path(data_dir).expanduser()
    if not path.is_absolute() and not path.exists() and kaggle:
        path = KAGGLE_INPUT / path
    if not path.is_dir():
        raise DataError(f"data_dir {str(data_dir)!r} is not a folder (looked at {path.resolve()})")
    return path.resolve()


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def require_files(data_dir: Path, names: Sequence[str]) -> dict[str, Path]:
    """Map each of ``names`` to its path in ``data_dir``; raise ``DataError`` listing the missing ones."""
    paths = {name: Path(data_dir) / name for name in names}
    missing = [name for name, p in paths.items() if not p.is_file()]
    if missing:
        present = sorted(p.name for p in Path(data_dir).iterdir()) if Path(data_dir).is_dir() else []
        raise DataError(f"{data_dir}: missing {missing}; the folder holds {present}")
    return paths


# --------------------------------------------------------------------------- list-valued columns
def parse_list_column(
    values: Sequence[str], *, dim: int | None = None, source: str = "<data>", column: str = "?"
) -> np.ndarray:
    """Parse text lists (``"[1.5, -2, 3e-4]"``) into a float32 array of shape ``(len(values), dim)``.

    ``dim`` is the expected length of every list (default: the first row's). Rows are numbered from 1
    (the header is not a row). Raises ``DataError`` naming source, row and column for a missing value,
    missing brackets, a list of another length or an item that is not a finite number.
    """
    text = pd.Series(values, dtype=object)
    if len(text) == 0:
        return np.empty((0, dim or 0), dtype=np.float32)
    missing = text.isna().to_numpy()
    if missing.any():
        _fail(source, int(np.argmax(missing)), column, "empty cell; expected a list of numbers")
    text = text.astype(str)
    bracketed = (text.str.startswith("[") & text.str.endswith("]")).to_numpy()
    if not bracketed.all():  # tolerate spaces around the brackets, nothing else
        text = text.str.strip()
        bracketed = (text.str.startswith("[") & text.str.endswith("]")).to_numpy()
    if not bracketed.all():
        row = int(np.argmin(bracketed))
        _fail(source, row, column, f"expected a list written as [x, y, ...], got {_clip(text.iloc[row])!r}")
    inner = text.str.slice(1, -1).tolist()
    try:  # one C pass over all rows; numpy refuses ragged rows and non-numbers itself
        flat = np.loadtxt(io.StringIO("\n".join(inner)), delimiter=",", dtype=np.float64, comments=None, ndmin=2)
    except ValueError:
        flat = None
    if flat is None or flat.shape[0] != len(inner) or (dim is not None and flat.shape[1] != dim) \
            or not np.isfinite(flat).all():
        _name_bad_row(inner, dim, source, column)  # the slow path runs only to name the offending row
        raise DataError(f"{source}: column {column!r}: could not parse the lists")  # pragma: no cover
    return flat.astype(np.float32)


def _name_bad_row(inner: list[str], dim: int | None, source: str, column: str) -> None:
    expected = dim
    for row, item in enumerate(inner):
        count = 0 if not item.strip() else item.count(",") + 1
        expected = count if expected is None else expected
        if count != expected:
            _fail(source, row, column, f"expected {expected} numbers, got {count}")
        bad = _first_bad_item(item)
        if bad is not None:
            _fail(source, row, column, f"item {bad[0] + 1} is {bad[1]!r}; expected a finite number")


def _first_bad_item(item: str) -> tuple[int, str] | None:
    for i, token in enumerate(item.split(",")):
        try:
            if not np.isfinite(float(token)):
                return i, token.strip()
        except ValueError:
            return i, token.strip()
    return None


def _clip(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _fail(source: str, row: int, column: str, what: str):
    raise DataError(f"{source} row {row + 1}: column {column!r}: {what}")


def _cache_dir(source: Path) -> Path:
    """``.kitcache/`` beside the source, or the user cache when that folder is read-only (Kaggle input)."""
    beside = source.parent / ".kitcache"
    if os.access(source.parent, os.W_OK):
        return beside
    return user_cache_dir()


def writable_cache_dir(folder: str | os.PathLike, name: str) -> Path:
    """A cache folder for what is derived from the files in ``folder`` (a retrieval index, embeddings):
    ``<folder>/.kitcache/<name>`` when ``folder`` can be written, else ``$KIT_CACHE_DIR/<name>`` when set, else
    ``~/.cache/kitlib/<name>`` (``$XDG_CACHE_HOME`` honoured): a read-only data folder such as Kaggle's
    ``/kaggle/input`` still gets a cache. Entries below it must be keyed by content (several data folders
    may share the fallback). Nothing is created here."""
    folder = Path(folder)
    if folder.is_dir() and os.access(folder, os.W_OK):
        return folder / ".kitcache" / name
    return cache_dir() / name


def read_list_csv(
    path: str | os.PathLike,
    list_columns: dict[str, int | None],
    *,
    required: Sequence[str] = (),
    cache: bool = True,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Read a CSV whose ``list_columns`` hold text lists; return ``(other columns, {column: array})``.

    ``list_columns`` maps each list column to its expected length (``None``: the first row's).
    ``required`` names further columns that must be present. With ``cache`` the parsed result is stored
    in ``.kitcache/`` beside the file under the file's sha256 (a :mod:`kitlib.cache` entry: parquet and ``.npy``,
    no pickle) and read from there next time.
    Raises ``DataError`` for a missing file or column, or a malformed row (file, row and column named).
    """
    source = Path(path)
    if not source.is_file():
        raise DataError(f"{source}: file not found")
    entry = None
    if cache:
        settings = repr(sorted(list_columns.items())) + CACHE_VERSION
        key = file_sha256(source)[:20] + "-" + hashlib.sha256(settings.encode()).hexdigest()[:8]
        entry = _cache_dir(source) / f"{source.name}.{key}.entry"
        cached = _read_cached_table(entry, list_columns)
        if cached is not None:
            return cached
    frame = read_csv(source, dtype={c: str for c in list_columns}, keep_default_na=False,
                     na_values={c: [""] for c in list_columns})
    missing = [c for c in [*list_columns, *required] if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {missing}; the file has {list(frame.columns)}")
    arrays = {c: parse_list_column(frame[c], dim=d, source=source.name, column=c) for c, d in list_columns.items()}
    rest = frame.drop(columns=list(list_columns))
    if entry is not None:
        write_entry(entry, lambda folder: _write_cached_table(folder, rest, arrays))  # not written: only time lost
    return rest, arrays


def _write_cached_table(folder: Path, rest: pd.DataFrame, arrays: dict[str, np.ndarray]) -> None:
    """The payload of a parsed table's cache entry: ``table.parquet``, one ``<i>.npy`` per list column (saved
    without pickle) and ``columns.json`` (the list columns' names and the row count)."""
    rest.to_parquet(folder / "table.parquet", index=False)
    for i, array in enumerate(arrays.values()):
        np.save(folder / f"{i}.npy", np.ascontiguousarray(array), allow_pickle=False)
    write_json(folder / "columns.json", {"columns": list(arrays), "rows": len(rest)})


def _read_cached_table(entry: Path, list_columns: dict) -> tuple[pd.DataFrame, dict] | None:
    """A parsed table from its cache entry (:func:`kitlib.cache.read_entry` verifies every file first), else
    ``None``; an entry whose contents disagree is rebuilt with a warning. Nothing is unpickled."""
    import json
    import warnings

    folder = read_entry(entry)
    if folder is None:
        return None
    try:
        meta = json.loads((folder / "columns.json").read_text())
        table = pd.read_parquet(folder / "table.parquet")
        if not len(table.columns):
            table = pd.DataFrame(index=pd.RangeIndex(meta["rows"]))
        arrays = {c: np.load(folder / f"{i}.npy", allow_pickle=False) for i, c in enumerate(meta["columns"])}
        if list(arrays) != list(list_columns) or any(len(a) != len(table) for a in arrays.values()):
            raise ValueError(f"columns {list(arrays)} of {[len(a) for a in arrays.values()]} rows where the table "
                             f"has {len(table)}")
        return table, arrays
    except Exception as exc:  # noqa: BLE001 - any entry that does not read back whole is rebuilt, never trusted
        warnings.warn(f"cache entry {entry} is unreadable ({type(exc).__name__}: {str(exc)[:120]}); rebuilding it "
                      "from the source file", RuntimeWarning, stacklevel=3)
        remove_entry(entry)
        return None


def write_atomic(path: str | os.PathLike, content: str | bytes) -> Path:
    """Write ``content`` to ``path`` through a temporary file moved into place, so a crash mid-write never
    leaves a truncated file that looks complete (demo sets, caches). Returns the path."""
    data = content.encode() if isinstance(content, str) else content
    path = Path(path)
    _atomic(path, lambda handle: handle.write(data))
    return path


def _atomic(path: Path, write: Callable[[Path], object]) -> None:
    """``write(tmp)`` into a temporary file beside ``path``, then move it into place (never a torn file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        write(handle)
    tmp.replace(path)


def read_csv(path: str | os.PathLike, **kwargs) -> pd.DataFrame:
    """``pandas.read_csv`` with errors that name the file: a missing, empty, binary or unparseable file, and a
    file whose last line was cut short (no final newline and fewer fields than the header: a partial copy or
    download).

    Raises ``DataError``.
    """
    import csv

    source = Path(path)
    if not source.is_file():
        raise DataError(f"{source}: file not found")
    try:
        frame = pd.read_csv(source, **kwargs)
    except pd.errors.EmptyDataError:
        raise DataError(f"{source}: the file is empty; expected a CSV with a header line") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{source}: not a text CSV file (byte {exc.start} is not {exc.encoding}); is it binary "
                        "or compressed?") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataError(f"{source}: not a readable CSV file: {str(exc)[:300]}") from None
    with open(source, "rb") as handle:
        handle.seek(max(0, source.stat().st_size - 65536))
        end = handle.read()
    tail = end.decode("utf-8", errors="replace").rsplit("\n", 1)[-1]
    fields = next(csv.reader([tail]), []) if tail and '"' not in tail else []  # quoted: cannot judge one line
    if len(frame) and not end.endswith(b"\n") and 0 < len(fields) < len(frame.columns):
        raise DataError(f"{source}: the last line holds {len(fields)} field(s) where the header has "
                        f"{len(frame.columns)}; the file looks cut short (copy or download it again)")
    return frame


# ------------------------------------------------------------------------------------------ IDX files
# IDX type codes -> NumPy big-endian dtypes (from the format's description on Yann LeCun's MNIST page)
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_CODES = {np.dtype(v).newbyteorder("=").str: k for k, v in _IDX_TYPES.items()}


def _open(path: Path):
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (gzip'd or plain) into an array of its declared shape and type.

    In: the path. Out: e.g. ``(60000, 28, 28) uint8`` for MNIST training images, ``(60000,) uint8`` for
    its labels. Raises ``DataError`` naming the file when it is missing, its magic number is not IDX,
    or it holds fewer or more bytes than its header declares.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such IDX file")
    try:
        with _open(path) as handle:
            raw = handle.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read as IDX ({exc})") from exc
    if len(raw) < 4:
        raise DataError(f"{path}: {len(raw)} bytes; an IDX file starts with a 4-byte magic number")
    zero, code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or code not in _IDX_TYPES or ndim == 0:
        raise DataError(
            f"{path}: bad magic number 0x{raw[:4].hex()}; expected 0x0000TTDD with type TT in "
            f"{[f'{c:02x}' for c in _IDX_TYPES]} and DD >= 1 dimensions (MNIST images: 0x00000803, labels: 0x00000801)"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: header declares {ndim} dimensions but the file ends at byte {len(raw)}")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_TYPES[code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header
    if got != expected:
        raise DataError(
            f"{path}: header declares shape {tuple(shape)} of {dtype.newbyteorder('=').name} "
            f"({expected} bytes of data) but the file holds {got} bytes after the header"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file (gzip'd when the name ends in ``.gz``); return the path.

    Raises ``ParameterError`` for a dtype IDX cannot hold (it holds uint8, int8, int16, int32,
    float32, float64) or a 0-d array.
    """
    arr = np.asarray(array)
    key = arr.dtype.newbyteorder("=").str
    if key not in _IDX_CODES or arr.ndim == 0:
        raise ParameterError(
            f"IDX cannot hold a {arr.ndim}-d array of {arr.dtype}; expected >= 1 dimension of one of "
            "['uint8', 'int8', 'int16', 'int32', 'float32', 'float64']"
        )
    code = _IDX_CODES[key]
    data = struct.pack(">HBB", 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    data += np.ascontiguousarray(arr, dtype=np.dtype(_IDX_TYPES[code])).tobytes()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as handle:
        handle.write(data)
    return path
