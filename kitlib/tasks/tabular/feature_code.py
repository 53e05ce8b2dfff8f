"""The competitor's features step: ``competitions/<name>_features.py`` beside the competition's spec, or the
``features`` function of the notebook's features cell.

A features module is the competitor's own code, defining::

    def features(train: pd.DataFrame, test: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        ...  # every column of train.csv / test.csv except the id and the targets, as read; add, change, remove
        return train, test

:func:`features_of` finds it in the project folder (``KIT_PROJECT_DIR``, :func:`kitlib.runtime.project_dir`) and
loads it by path (importing it is the point: it runs the competitor's code), else takes the function the notebook's
cell defines (identity when it defines none). The :class:`FeatureCode` it returns is what
:func:`kitlib.tasks.tabular.load` calls and what the run records (where the code came from and its sha256).
The module is compiled from the bytes hashed, and no bytecode cache is written beside it.
"""
from __future__ import annotations

import hashlib
import inspect
import re
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ...errors import ParameterError
from ...runtime import project_dir

SUFFIX = "_features.py"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def identity(train: pd.DataFrame, test: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The features step that changes nothing: the columns as read."""
    return train, test


@dataclass(frozen=True)
class FeatureCode:
    """The features step a run uses: ``fn(train, test) -> (train, test)``; ``source``: the module's path,
    ``"cell"`` (the notebook's function) or ``"identity"`` (none given); ``sha256``: of the module file's bytes, or
    of the function's source (its code when the source cannot be read). Calling it calls ``fn``."""

    fn: Callable[[pd.DataFrame, pd.DataFrame], tuple[pd.DataFrame, pd.DataFrame]]
    source: str
    sha256: str

    @property
    def label(self) -> str:
        """How errors name it: the module's path, or the notebook's features function."""
        if self.source == "cell":
            return "the features function of the notebook's cell"
        return "the identity features step" if self.source == "identity" else str(self.source)

    def record(self) -> dict[str, str]:
        """``{source, sha256}``: what a run's manifest records."""
        return {"source": self.source, "sha256": self.sha256}

    def __call__(self, train: pd.DataFrame, test: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        return self.fn(train, test)


def features_path(competition: Any) -> Path:
    """Where the features module of ``competition`` (a name, or anything with a ``name``) lives:
    ``<project>/competitions/<name>_features.py``. Raises ``ParameterError`` for a name that is not a plain name."""
    name = str(getattr(competition, "name", competition))
    if not _NAME.fullmatch(name):
        raise ParameterError(f"competition name {name!r}: expected letters, digits, '-', '_' or '.' (no path "
                             f"separator)")
    return project_dir() / "competitions" / f"{name}{SUFFIX}"


def _code_digest(code: types.CodeType, digest: Any) -> None:
    """Feed what a code object computes (bytecode, names, constants; nested code too) into ``digest``; its file
    name and line numbers stay out, so the same cell run twice hashes the same."""
    digest.update(code.co_code)
    digest.update(repr((code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars)).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _code_digest(const, digest)
        else:
            digest.update(repr(const).encode())


def function_sha256(fn: Callable) -> str:
    """The sha256 of ``fn``'s source (:func:`inspect.getsource`), else of its code object (:func:`_code_digest`)."""
    try:
        return hashlib.sha256(inspect.getsource(fn).encode()).hexdigest()
    except (OSError, TypeError):
        digest = hashlib.sha256()
        code = getattr(fn, "__code__", None)
        if code is None:
            digest.update(repr(fn).encode())
        else:
            _code_digest(code, digest)
        return digest.hexdigest()


def load_module(path: Path) -> tuple[types.ModuleType, str]:
    """Run the features module at ``path`` (the competitor's code); return it (registered in ``sys.modules`` as
    ``kit_features_<stem>``) and the sha256 of the bytes it was compiled from. Raises ``ParameterError`` naming the
    file when it is not UTF-8 text; what the module raises when it runs propagates."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParameterError(f"{path}: not a UTF-8 Python file (byte {exc.start}); expected the features module "
                             f"defining features(train, test)") from None
    name = "kit_features_" + re.sub(r"\W", "_", path.stem)
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module
    exec(compile(text, str(path), "exec"), module.__dict__)  # the competitor's own code, run on purpose
    return module, hashlib.sha256(data).hexdigest()


def features_of(competition: Any, cell_features: Callable | None = None) -> FeatureCode:
    """The features step of ``competition`` (a name or a competition): its module
    ``competitions/<name>_features.py`` in the project folder when that file exists, else ``cell_features`` (the
    notebook cell's function), else :func:`identity`.

    Raises ``ParameterError`` naming the file for a module that defines no callable ``features`` (or is not UTF-8
    text), and for a ``cell_features`` that is not callable; what the module raises when it runs propagates."""
    path = features_path(competition)
    if path.is_file():
        module, sha256 = load_module(path)
        fn = getattr(module, "features", None)
        if not callable(fn):
            raise ParameterError(f"{path}: defines no function features(train, test) -> (train, test); expected "
                                 f"one (it gets every column of train.csv/test.csv except the id and the targets)")
        return FeatureCode(fn, str(path), sha256)
    if cell_features is None:
        return FeatureCode(identity, "identity", function_sha256(identity))
    if not callable(cell_features):
        raise ParameterError(f"features: expected a function features(train, test) -> (train, test); got "
                             f"{type(cell_features).__name__}")
    return FeatureCode(cell_features, "cell", function_sha256(cell_features))
