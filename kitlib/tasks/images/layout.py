"""Where a competition's images are and which row each one belongs to: the two layouts Kaggle ships.

- ``table``: a ``train.csv`` with an id or path column whose values name files in a folder (``train_images/``,
  ``train/`` or ``images/``, or the one ``--images`` gives), with or without their extension; the test ids come
  from ``test.csv``, else from ``sample_submission.csv``, and name files in ``test_images/`` or ``test/`` (or the
  training folder when the test images sit beside the training ones);
- ``folders``: ``train/<class>/*`` (the class is the folder's name), ``test/*`` and the sample, whose first column
  names the test files and whose second column takes the predicted class.

:func:`find_image_layout` finds one (``None`` when the data folder holds no image at all) and checks that every
image opens; anything else with images is a ``DataError`` naming what was found (the folders, how many files, the
ids that match no file). :meth:`ImageLayout.spec_fields` is what ``kit new`` writes into the competition's spec and
:meth:`ImageLayout.from_spec` reads it back; :meth:`ImageLayout.train_table` gives the training rows as text (for
``folders``: ``<id column>`` = ``<class>/<file>``, ``<label column>`` = the class), the table a target is inferred
from. Imports pandas and Pillow only.
"""
from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ...data import read_csv
from ...errors import DataError, ParameterError

__all__ = ["IMAGE_EXTENSIONS", "TRAIN_FOLDERS", "TEST_FOLDERS", "LAYOUTS", "SPEC_KEYS", "ImageOptions", "ImageLayout",
           "find_image_layout", "image_files", "layout_from_spec_file"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
TRAIN_FOLDERS = ("train_images", "train", "images")  # looked for in this order (layout table)
TEST_FOLDERS = ("test_images", "test")
LAYOUTS = ("table", "folders")
ANY_EXTENSION = "*"  # ids name files by their stem, with several extensions in the folder
PROBE_ROWS = 200  # rows of a table tried against each folder before the best match is checked in full
SHOWN = 5  # unmatched ids a message names


@dataclass(frozen=True)
class ImageOptions:
    """What ``kit new`` passes on (any object with these attributes will do): ``images`` (the training image
    folder, relative to the data folder; None to look for one), the file names, and ``id`` (the submission's id
    column; None for the sample's first column)."""

    images: str | None = None
    train: str = "train.csv"
    test: str = "test.csv"
    sample: str = "sample_submission.csv"
    id: str | None = None


@dataclass(frozen=True)
class ImageLayout:
    """One competition's image layout (see the module docstring); folders are relative to the data folder.

    ``image_column``: the ``train.csv`` column naming each row's image (``folders``: the sample's id column, whose
    training values are ``<class>/<file>``); ``test_image_column``: the column of ``test_ids_file`` naming the test
    images (the submission's ids); ``extension``/``test_extension``: added to a training/test id to name its file
    (``""``: ids carry it; ``"*"``: found by stem); ``label_column``: (``folders``) the sample's column the class
    goes into. ``n_train``/``n_test`` count the images found (not part of the spec).
    """

    layout: str
    image_dir: str
    test_image_dir: str
    image_column: str
    test_image_column: str
    test_ids_file: str
    extension: str = ""
    test_extension: str = ""
    label_column: str = ""
    train_file: str = "train.csv"
    n_train: int = 0
    n_test: int = 0

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ParameterError(f"Unknown image layout {self.layout!r}; expected one of {list(LAYOUTS)}")

    # ----------------------------------------------------------------------------------- the spec
    def spec_fields(self) -> dict[str, str]:
        """The spec's image keys (all strings): ``image_layout``, ``image_dir``, ``test_image_dir``,
        ``image_column``, ``test_image_column``, ``test_ids_file``, ``image_extension``, ``test_image_extension``,
        ``label_column``."""
        values = asdict(self)
        return {key: str(values[name]) for key, name in SPEC_KEYS.items()}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], source: str = "the spec", train_file: str | None = None
                  ) -> ImageLayout:
        """The layout a spec records: ``spec`` is the document, its ``[images]`` table or a competition's ``inputs``,
        holding the keys of :meth:`spec_fields`; other keys are ignored. ``train_file``: the training table's name
        (default: the document's ``files.train``, else ``train.csv``). Raises ``ParameterError`` naming ``source``
        and the key for one missing or not a string."""
        table = spec.get("images", spec) if isinstance(spec.get("images"), Mapping) else spec
        values: dict[str, Any] = {}
        for key, name in SPEC_KEYS.items():
            value = table.get(key, "" if key in OPTIONAL_KEYS else None)
            if not isinstance(value, str):
                raise ParameterError(f"{source}: key {key!r} must be a string (the image layout kit new found); "
                                     f"got {value!r}")
            values[name] = value
        files = spec.get("files", {}) if isinstance(spec.get("files"), Mapping) else {}
        try:
            return cls(**values, train_file=train_file or str(files.get("train", "train.csv")))
        except ParameterError as exc:
            raise ParameterError(f"{source}: key 'image_layout': {exc}") from None

    # ---------------------------------------------------------------------------------- the rows
    def train_table(self, data_dir: str | Path) -> pd.DataFrame:
        """The training rows as text: ``train.csv`` (table), or one row per image of ``train/<class>/``, sorted,
        with ``image_column`` = ``<class>/<file>`` and ``label_column`` = ``<class>`` (folders)."""
        root = Path(data_dir)
        if self.layout == "table":
            return read_csv(root / self.train_file, dtype=str, keep_default_na=False)
        folder = root / self.image_dir
        rows = [(p.relative_to(folder).as_posix(), p.parent.name) for p in image_files(folder, depth=2)
                if p.parent != folder]
        return pd.DataFrame(rows, columns=[self.image_column, self.label_column or "label"])

    def test_table(self, data_dir: str | Path) -> pd.DataFrame:
        """The file listing the test ids (``test.csv`` or the sample), as text."""
        return read_csv(Path(data_dir) / self.test_ids_file, dtype=str, keep_default_na=False)

    def train_paths(self, data_dir: str | Path, table: pd.DataFrame) -> list[Path]:
        """The image file of each row of ``table`` (from :meth:`train_table`). Raises ``DataError`` naming the row
        and the id of a file that is missing."""
        return _paths(Path(data_dir) / self.image_dir, table, self.image_column, self.extension,
                      self.train_file if self.layout == "table" else f"{self.image_dir}/")

    def test_paths(self, data_dir: str | Path, table: pd.DataFrame) -> list[Path]:
        """The image file of each test row of ``table`` (from :meth:`test_table`); ``DataError`` as above."""
        return _paths(Path(data_dir) / self.test_image_dir, table, self.test_image_column, self.test_extension,
                      self.test_ids_file)

    def describe(self) -> str:
        """One line for ``kit new``'s notes."""
        ext = {"": "", ANY_EXTENSION: " (by stem)"}.get(self.extension, f"*{self.extension}")
        if self.layout == "folders":
            train = f"{self.image_dir}/<class>/* ({self.n_train} images)"
        else:
            train = f"{self.train_file} column {self.image_column!r} -> {self.image_dir}/{ext} ({self.n_train} images)"
        return (f"images:     {self.layout} layout; train {train}; test ids from {self.test_ids_file} column "
                f"{self.test_image_column!r} -> {self.test_image_dir}/ ({self.n_test} images)")


SPEC_KEYS = {"image_layout": "layout", "image_dir": "image_dir", "test_image_dir": "test_image_dir",
             "image_column": "image_column", "test_image_column": "test_image_column",
             "test_ids_file": "test_ids_file", "image_extension": "extension", "test_image_extension": "test_extension",
             "label_column": "label_column"}  # spec key -> ImageLayout field
OPTIONAL_KEYS = ("image_extension", "test_image_extension", "label_column")  # "" when a spec lacks them


def _paths(folder: Path, table: pd.DataFrame, column: str, extension: str, source: str) -> list[Path]:
    """The file of each id in ``table[column]`` (``extension`` added; ``"*"``: the file itself, else by stem)."""
    if column not in table.columns:
        raise DataError(f"{source}: no column {column!r} naming the images (its columns: {list(table.columns)})")
    stems = _by_stem(folder) if extension == ANY_EXTENSION else {}
    paths = []
    for row, value in enumerate(table[column].astype(str).str.strip().tolist()):
        path = folder / f"{value}{extension if not stems else ''}"
        if stems and not path.is_file():
            path = stems.get(value, path)
        if not path.is_file():
            raise DataError(f"{source} row {row + 1}: column {column!r}: id {value!r} has no image in {folder} "
                            f"(looked for {value}{'.*' if stems else extension})")
        paths.append(path)
    return paths


def layout_from_spec_file(path: str | Path) -> ImageLayout:
    """The layout recorded in the spec file ``path`` (``competitions/<name>.toml``). Raises ``ParameterError``
    naming the file when it is not TOML or lacks the image keys."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ParameterError(f"{path}: not a readable spec file ({exc})") from None
    return ImageLayout.from_spec(doc, str(path))


# ------------------------------------------------------------------------------------ finding files
def image_files(folder: Path, depth: int = 1) -> list[Path]:
    """The image files (by extension, any case) at most ``depth`` levels below ``folder``, sorted; hidden files
    and folders skipped."""
    out: list[Path] = []
    if not folder.is_dir():
        return out
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_dir() and depth > 1:
            out.extend(image_files(path, depth - 1))
        elif path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS:
            out.append(path)
    return out


def _by_stem(folder: Path) -> dict[str, Path]:
    """``{relative path without extension: path}`` of the images below ``folder`` (two levels)."""
    return {p.relative_to(folder).with_suffix("").as_posix(): p for p in image_files(folder, depth=2)}


@dataclass
class _Match:
    """How the ids of one column match the files of one folder."""

    folder: str
    column: str
    matched: int
    extension: str
    unmatched: list[tuple[int, str]]
    files: int


def _match(root: Path, folder: str, values: Sequence[str], column: str) -> _Match:
    files = image_files(root / folder, depth=2)
    base = root / folder
    full = {p.relative_to(base).as_posix(): p for p in files}
    stems = {p.relative_to(base).with_suffix("").as_posix(): p for p in files}
    exact, by_stem, unmatched = 0, set(), []
    for row, value in enumerate(values):
        if value in full:
            exact += 1
        elif value in stems:
            by_stem.add(stems[value].suffix)
        else:
            unmatched.append((row, value))
    extension = "" if not by_stem else next(iter(by_stem)) if len(by_stem) == 1 and not exact else ANY_EXTENSION
    return _Match(folder, column, len(values) - len(unmatched), extension, unmatched, len(files))


def _folders(root: Path, names: Sequence[str]) -> list[str]:
    return [n for n in names if (root / n).is_dir() and image_files(root / n, depth=2)]


def _refuse_unmatched(match: _Match, source: str, n: int, root: Path) -> None:
    shown = ", ".join(f"row {r + 1} {v!r}" for r, v in match.unmatched[:SHOWN])
    raise DataError(f"{source} column {match.column!r}: {len(match.unmatched)} of {n} ids name no image in "
                    f"{root / match.folder} ({match.files} image files there), e.g. {shown}; expected each id to be "
                    f"a file name there, with or without its extension")


def _best(root: Path, folders: Sequence[str], table: pd.DataFrame, columns: Sequence[str]) -> _Match | None:
    """The folder and column whose ids match the most files (the first on ties)."""
    folders = list(dict.fromkeys(folders))
    best = None
    for folder in folders:
        for column in columns:
            values = table[column].astype(str).str.strip().tolist()[:PROBE_ROWS]
            found = _match(root, folder, values, column)
            if found.matched and (best is None or found.matched > best.matched):
                best = found
    return best


def _full(root: Path, match: _Match, table: pd.DataFrame, source: str) -> _Match:
    full = _match(root, match.folder, table[match.column].astype(str).str.strip().tolist(), match.column)
    if full.unmatched:
        _refuse_unmatched(full, source, len(table), root)
    return full


def _test_ids(root: Path, options: Any, train_folder: str, column: str) -> tuple[str, _Match]:
    """``(the file listing the test ids, how its id column matches a test folder)``."""
    test_name, sample_name = getattr(options, "test", "test.csv"), getattr(options, "sample", "sample_submission.csv")
    name = test_name if (root / test_name).is_file() else sample_name
    if not (root / name).is_file():
        raise DataError(f"{root}: no {test_name} or {sample_name} listing the test images; the folder holds "
                        f"{sorted(p.name for p in root.iterdir())[:20]}")
    table = read_csv(root / name, dtype=str, keep_default_na=False)
    given = getattr(options, "id", None)
    columns = [c for c in dict.fromkeys([given, column, *table.columns]) if c in table.columns]
    folders = [*(_folders(root, TEST_FOLDERS) or [train_folder]), "."]
    best = _best(root, folders, table, columns)
    if best is None:
        raise DataError(f"{name}: no column names the test images in {[f + '/' for f in folders]} (columns "
                        f"{list(table.columns)}; first ids {table.iloc[:3, 0].tolist()})")
    return name, _full(root, best, table, name)


def _readable(paths: Sequence[Path], source: str) -> None:
    """Open every image's header (and decode the first few in full); ``DataError`` naming the file otherwise."""
    from PIL import Image

    for i, path in enumerate(paths):
        try:
            with Image.open(path) as image:
                if i < 4:
                    image.load()
                elif image.width < 1 or image.height < 1:
                    raise OSError("zero size")
        except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for a damaged file
            raise DataError(f"{path}: not a readable image ({type(exc).__name__}: {exc}); {source}") from None


def find_image_layout(data_dir: str | Path, options: Any = None) -> ImageLayout | None:
    """The image layout of the competition in ``data_dir`` (see the module docstring), or ``None`` when no image
    file lies within three levels of it.

    ``options``: :class:`ImageOptions` or any object with its attributes (``kit new``'s options); None for the
    defaults. Every image of both sets is opened (headers; a few decoded). Raises ``DataError`` naming what was
    found (the image folders and their file counts, the table's columns, the ids that match no file) when the
    images fit neither layout, and naming the file of an image that does not open."""
    root = Path(data_dir)
    options = options if options is not None else ImageOptions()
    if not image_files(root, depth=3):
        return None
    given = getattr(options, "images", None)
    if given and not (root / given).is_dir():
        raise DataError(f"--images {given!r}: no such folder in {root}")
    train_name = getattr(options, "train", "train.csv")
    folders = [given] if given else [*_folders(root, TRAIN_FOLDERS), "."]  # ".": ids that are paths from the root
    layout = None
    if (root / train_name).is_file():
        table = read_csv(root / train_name, dtype=str, keep_default_na=False)
        best = _best(root, folders, table, list(table.columns))
        if best is not None:
            best = _full(root, best, table, train_name)
            test_file, test = _test_ids(root, options, best.folder, best.column)
            layout = ImageLayout("table", best.folder, test.folder, best.column, test.column, test_file,
                                 extension=best.extension, test_extension=test.extension, train_file=train_name,
                                 n_train=len(table), n_test=test.matched)
    if layout is None:
        layout = _class_folders(root, options, given or "train")
    if layout is None:
        found = {f"{p.relative_to(root).as_posix() or '.'}/": len(image_files(p)) for p in
                 [root, *sorted(q for q in root.rglob("*") if q.is_dir() and not q.name.startswith("."))][:12]
                 if image_files(p)}
        why = (f"{train_name} has columns {list(table.columns)[:12]}, none of whose first {PROBE_ROWS} values name "
               f"an image there" if (root / train_name).is_file() else f"no {train_name}")
        raise DataError(f"{root}: images in {found}, but {why}, and no train/<class>/ folders; expected {train_name} "
                        f"with an id column naming files in {[f + '/' for f in TRAIN_FOLDERS]}, or train/<class>/*, "
                        f"test/* and the sample (pass --images DIR for another folder)")
    data = layout.train_table(root)
    _readable(layout.train_paths(root, data), f"a training image ({layout.image_dir}/)")
    _readable(layout.test_paths(root, layout.test_table(root)), f"a test image ({layout.test_image_dir}/)")
    return layout


def _class_folders(root: Path, options: Any, train: str) -> ImageLayout | None:
    """The ``folders`` layout when ``train/`` holds class folders with images, else ``None``."""
    classes = [p for p in sorted((root / train).iterdir()) if p.is_dir() and image_files(p)] if (
        root / train).is_dir() else []
    if len(classes) < 2:
        return None
    sample_name = getattr(options, "sample", "sample_submission.csv")
    if not (root / sample_name).is_file():
        raise DataError(f"{root}: class folders {[p.name for p in classes][:10]} in {train}/, but no {sample_name} "
                        f"naming the test images and the column to predict")
    sample = read_csv(root / sample_name, dtype=str, keep_default_na=False)
    id_column = getattr(options, "id", None) or sample.columns[0]
    if id_column not in sample.columns or len(sample.columns) < 2:
        raise DataError(f"{sample_name}: expected an id column and a label column; it has {list(sample.columns)}")
    label = next(c for c in sample.columns if c != id_column)
    folders = _folders(root, TEST_FOLDERS)
    if not folders:
        raise DataError(f"{root}: class folders in {train}/, but no test/ or test_images/ folder with images")
    test = _full(root, _match(root, folders[0], [], id_column), sample, sample_name)
    n_train = sum(len(image_files(p)) for p in classes)
    return ImageLayout("folders", train, test.folder, id_column, id_column, sample_name, test_extension=test.extension,
                       label_column=label, n_train=n_train, n_test=len(sample))
