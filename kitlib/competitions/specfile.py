"""Competitions declared in a spec file: ``competitions/<name>.toml`` in the project folder (``kit new`` writes it).

A spec holds (every key checked; a bad key or value is a ``ParameterError`` naming the file and the key)::

    title, platform ("kaggle" | "aicrowd" | "local"), slug, metric (a name in kitlib.metrics.METRICS),
    direction ("max" | "min", the metric's), task ("binary" | "multiclass" | "regression"),
    template ("tabular" | "text" | "image"),
    data_dir (the folder it was made from; relative paths are relative to the project folder), notebook,
    daily_limit (submissions a day the platform takes; optional, see kitlib.uploads)
    [files]          train, test, sample                       the file names in data_dir
    [columns]        id, targets                               which columns are which (a spec written before
                     numeric, categorical                      [features] lists every feature here: kept, see below)
    [features]       drop, categorical, numeric                overrides of the features the kit finds: columns
                                                               never used, and the kind of the named columns
    [labels]         <target> = [classes as train.csv writes them; for a binary target the positive class last]
    [class_columns]  <class> = <sample column>                 per-class probability submissions
    [dtypes]         <feature> = <pandas dtype seen by kit new> (for reading; not checked)
    [inputs]         what the template reads beside the targets: text_columns (text), group_column (rows that
                     always share a fold)
    [images]         the image layout (image template): image_layout, image_dir, image_column, test_image_dir, ...
                     (kitlib.tasks.images.ImageLayout.spec_fields)
    [submission]     file_name, holds, columns, key, and the tables allowed (<column> = [values]),
                     ranges (<column> = [low, high]) and ranked (<column> = k)

:func:`load_spec` turns it into a :class:`~kitlib.competitions.spec.Competition` (its ``tabular`` is the
:class:`kitlib.tasks.tabular.Problem` the template notebook reads); :func:`write_spec` writes one (``tomli-w``).

Features: the models take every column of ``train.csv``/``test.csv`` except the id and the targets, after the
competitor's ``competitions/<name>_features.py`` when it exists (:mod:`kitlib.tasks.tabular.feature_code`): text
and categories categorical, numbers numeric, the columns they cannot use said with the reason
(:mod:`kitlib.tasks.tabular.feature_lists`); ``[features]`` overrides that (its ``source`` names this file in
errors). A spec written before ``[features]`` lists ``[columns] numeric`` and ``categorical``: those lists keep
giving the features they gave (the raw columns they leave out stay out; columns the features step makes are added).
"""
from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError, ParameterError
from ..runtime import project_dir
from .built_in import BUILT_IN_NAMES
from .rows import template_rows
from .spec import Competition, Predictions, SubmissionSpec, check_file_name

PLATFORMS = ("kaggle", "aicrowd", "local")
TEMPLATES = ("tabular", "text", "image")
NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")  # used with fullmatch: '$' would also match before a final newline
MAX_NAME = 64  # characters of a competition name (its spec's and notebook's file names, its run ids)
HEADER = """\
# A competition for kitlib, written by `kit new`; every kit command reads it, so edit it freely: a bad key or
# value is an error naming it. [labels]: the classes of each target as train.csv writes them (for a binary
# target the last one is the positive class, whose probability a probability submission holds).
# [features]: the models use every column of train.csv/test.csv except the id and the targets (after
# competitions/<name>_features.py, def features(train, test) -> (train, test), when it exists); text is
# categorical, numbers numeric. drop = [...] leaves columns out; categorical/numeric = [...] set their kind.
"""

_TEXT, _TEXTS, _EITHER = "a string", "a list of strings", "a string or a list of strings"
SCHEMA: dict[str, Any] = {
    "title": _TEXT, "platform": _TEXT, "slug": _TEXT, "metric": _TEXT, "direction": _TEXT, "task": _TEXT,
    "template": _TEXT, "data_dir": _TEXT, "notebook": _TEXT, "daily_limit": "a positive integer",
    "files": {"train": _TEXT, "test": _TEXT, "sample": _TEXT},
    "columns": {"id": _TEXT, "targets": _TEXTS, "numeric": _TEXTS, "categorical": _TEXTS},
    "features": {"drop": _TEXTS, "categorical": _TEXTS, "numeric": _TEXTS},
    "labels": ("table", _TEXTS), "class_columns": ("table", _TEXT), "dtypes": ("table", _TEXT),
    "inputs": ("table", _EITHER), "images": ("table", _TEXT),
    "submission": {"file_name": _TEXT, "holds": _TEXT, "columns": _TEXTS, "key": _TEXTS,
                   "allowed": ("table", _TEXTS), "ranges": ("table", "a list of two numbers [low, high]"),
                   "ranked": ("table", "a positive integer")},
}
REQUIRED = ("platform", "slug", "metric", "task", "columns", "submission")
_CACHE: dict[Path, tuple[tuple[int, int], Competition]] = {}


def is_competition_name(name: str) -> bool:
    """True for a competition name: lowercase letters, digits, '-' and '_', starting with a letter or digit, at most
    :data:`MAX_NAME` characters (nothing else: no path separator, no trailing newline)."""
    return isinstance(name, str) and len(name) <= MAX_NAME and NAME.fullmatch(name) is not None


def spec_dir() -> Path:
    """``competitions/`` in the project folder."""
    return project_dir() / "competitions"


def spec_path(name: str) -> Path:
    """Where the spec of competition ``name`` lives."""
    return spec_dir() / f"{name}.toml"


def spec_names() -> list[str]:
    """The names of the project's spec files (their stems), sorted; nothing is parsed."""
    folder = spec_dir()
    return sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []


def _fits(value: Any, kind: str) -> bool:
    if kind == _TEXT:
        return isinstance(value, str)
    if kind == _TEXTS:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == _EITHER:
        return _fits(value, _TEXT) or _fits(value, _TEXTS)
    if kind == "a positive integer":
        return isinstance(value, int) and not isinstance(value, bool) and value > 0
    return (isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                                 for v in value) and value[0] <= value[1])


def check_document(doc: dict, source: str | Path, schema: dict = SCHEMA, where: str = "") -> None:
    """Raise ``ParameterError`` naming ``source`` and the key for an unknown key or a value of the wrong type."""
    for key, value in doc.items():
        name = f"{where}{key}"
        if key not in schema:
            raise ParameterError(f"{source}: unknown key {name!r}; expected one of {sorted(schema)}")
        kind = schema[key]
        if isinstance(kind, dict):
            if not isinstance(value, dict):
                raise ParameterError(f"{source}: key {name!r} must be a table; got {value!r}")
            check_document(value, source, kind, f"{name}.")
        elif isinstance(kind, tuple):
            if not isinstance(value, dict):
                raise ParameterError(f"{source}: key {name!r} must be a table; got {value!r}")
            for sub, item in value.items():
                if not _fits(item, kind[1]):
                    raise ParameterError(f"{source}: key '{name}.{sub}' must be {kind[1]}; got {item!r}")
        elif not _fits(value, kind):
            raise ParameterError(f"{source}: key {name!r} must be {kind}; got {value!r}")


def _choice(source: Path, key: str, value: str, allowed) -> str:
    if value not in allowed:
        raise ParameterError(f"{source}: key {key!r}: {value!r} is not one of {list(allowed)}")
    return value


def problem_from(doc: dict, source: Path):
    """The :class:`kitlib.tasks.tabular.Problem` a checked spec document describes (errors name the file)."""
    from ..tasks.tabular import FILES, FeatureRules, Problem, metric_of

    columns, sub, table = doc["columns"], doc["submission"], doc.get("features", {})
    for key in ("id", "targets"):
        if key not in columns:
            raise ParameterError(f"{source}: missing key 'columns.{key}'")
    try:
        metric = metric_of(doc["metric"])
    except ParameterError as exc:
        raise ParameterError(f"{source}: key 'metric': {exc}") from None
    _distinct_roles(columns, source, table)
    if doc.get("direction", metric.mode) != metric.mode:
        raise ParameterError(f"{source}: key 'direction': {doc['direction']!r}, but {metric.name} is better when "
                             f"{'higher' if metric.mode == 'max' else 'lower'} ({metric.mode!r})")
    try:
        return Problem(id=columns["id"], targets=tuple(columns["targets"]), task=doc["task"], metric=metric.name,
                       holds=sub.get("holds", metric.takes),
                       labels={t: tuple(v) for t, v in doc.get("labels", {}).items()},
                       class_columns=dict(doc.get("class_columns", {})),
                       numeric=tuple(columns.get("numeric", ())), categorical=tuple(columns.get("categorical", ())),
                       files={**FILES, **doc.get("files", {})},
                       feature_rules=FeatureRules(drop=tuple(table.get("drop", ())),
                                                  categorical=tuple(table.get("categorical", ())),
                                                  numeric=tuple(table.get("numeric", ())), source=str(source)))
    except ParameterError as exc:
        raise ParameterError(f"{source}: {exc}") from None


def _distinct_roles(columns: dict, source: Path, features: dict | None = None) -> None:
    """Raise ``ParameterError`` naming the file and the column that the ``[columns]`` table gives two roles (both
    categorical and numeric, a feature that is also the id or a target, or listed twice in one list), or that the
    ``[features]`` table names twice or as the id or a target."""
    keys = [("columns.id", [columns["id"]]), ("columns.targets", columns["targets"])]
    tables = [[(f"columns.{key}", columns.get(key, [])) for key in ("categorical", "numeric")],
              [(f"features.{key}", (features or {}).get(key, [])) for key in ("drop", "categorical", "numeric")]]
    for table in tables:  # [features] overrides [columns]: each table gives each column one role
        roles: dict[str, str] = {}
        for role, names in [*keys, *table]:
            for name in names:
                if name in roles:
                    twice = f"twice in {role}" if roles[name] == role else f"in both {roles[name]} and {role}"
                    raise ParameterError(f"{source}: column {name!r} is listed {twice}; give each column one role")
                roles[name] = role


def _sample(data_dir: Path, problem) -> pd.DataFrame:
    from ..tasks.tabular import read_csv

    path = Path(data_dir) / problem.files["sample"]
    if not path.is_file():
        raise DataError(f"{path}: file not found (the sample submission the predictions are written into)")
    return read_csv(path, dtype=str, keep_default_na=False)


def load_spec(path: str | Path) -> Competition:
    """The competition declared in ``path`` (cached until the file changes).

    Raises ``ParameterError`` naming the file and the key for a file that is not TOML, an unknown key, a missing
    one, a value of the wrong type or outside its choices, a metric that is unknown or does not fit the task, or
    a name that is not a competition name or is taken by a built-in competition."""
    path = Path(path).absolute()
    try:
        stat = path.stat()
    except OSError:
        raise ParameterError(f"{path}: no such competition spec") from None
    stamp = (stat.st_mtime_ns, stat.st_size)
    if path in _CACHE and _CACHE[path][0] == stamp:
        return _CACHE[path][1]
    name = path.stem
    if not is_competition_name(name):
        raise ParameterError(f"{path}: {name!r} is not a competition name (lowercase letters, digits, '-', '_'; at "
                             f"most {MAX_NAME} characters)")
    if name in BUILT_IN_NAMES:
        raise ParameterError(f"{path}: {name!r} is a built-in competition; rename the file")
    try:
        doc = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ParameterError(f"{path}: not a TOML file: {exc}") from None
    check_document(doc, path)
    for key in REQUIRED:
        if key not in doc:
            raise ParameterError(f"{path}: missing key {key!r}")
    _choice(path, "platform", doc["platform"], PLATFORMS)
    template = _choice(path, "template", doc.get("template", "tabular"), TEMPLATES)
    problem = problem_from(doc, path)
    inputs = {**doc.get("inputs", {}), **doc.get("images", {})}
    _check_inputs(path, template, inputs, problem)
    sub = doc["submission"]
    columns = tuple(sub.get("columns", ()))
    bad = [c for c in [*sub.get("key", ()), *sub.get("allowed", {}), *sub.get("ranges", {}), *sub.get("ranked", {})]
           if c not in columns]
    if not columns or bad:
        raise ParameterError(f"{path}: key 'submission': columns {list(columns)} must name every column of key, "
                             f"allowed, ranges and ranked; {bad} are not among them")
    try:
        check_file_name(sub.get("file_name", "submission.csv"))
    except ParameterError as exc:
        raise ParameterError(f"{path}: key 'submission.file_name': {exc}") from None
    root = path.parent.parent
    data_dir = str(root / doc["data_dir"]) if doc.get("data_dir") else ""
    notebook = str(root / doc.get("notebook", f"notebooks/{name}.ipynb"))

    def score(frame: pd.DataFrame) -> float:
        return problem.score_frame(frame)

    def to_submission(test: pd.DataFrame, folder: Path) -> pd.DataFrame:
        return problem.to_submission(test, _sample(folder, problem), problem.files["sample"])

    comp = Competition(
        name=name, title=doc.get("title") or f"{name}: tabular {problem.task}, {problem.metric} ({path.name})",
        platform=doc["platform"], slug=doc["slug"], metric=f"val_{problem.metric}", mode=problem.mode,
        submission=SubmissionSpec(
            file_name=sub.get("file_name", "submission.csv"), columns=columns, key=tuple(sub.get("key", (problem.id,))),
            allowed={c: tuple(v) for c, v in sub.get("allowed", {}).items()}, sample=problem.files["sample"],
            ranges={c: (float(lo), float(hi)) for c, (lo, hi) in sub.get("ranges", {}).items()},
            ranked=dict(sub.get("ranked", {}))),
        notebook=notebook, data_dir=data_dir, source=str(path), tabular=problem, daily_limit=doc.get("daily_limit"),
        template=template, inputs=inputs,
        rows=None if template == "tabular" else template_rows(problem, inputs, template, str(path)),
        predictions=Predictions(key=(problem.id,), target=problem.targets[0], score=score, to_submission=to_submission),
    )
    _CACHE[path] = (stamp, comp)
    return comp


def _check_inputs(source: Path, template: str, inputs: dict, problem) -> None:
    """Raise ``ParameterError`` naming the file and the key for a text spec without ``inputs.text_columns`` (a list),
    or a group or text column that is also the id or a target."""
    if template == "text" and not (isinstance(inputs.get("text_columns"), list) and inputs["text_columns"]):
        raise ParameterError(f"{source}: a text competition needs key 'inputs.text_columns' (a list of the text "
                             f"columns of {problem.files['train']})")
    taken = {problem.id, *problem.targets}
    named = [*inputs.get("text_columns", []), inputs.get("group_column")]
    clash = [c for c in named if c in taken]
    if clash:
        raise ParameterError(f"{source}: key 'inputs': column {clash[0]!r} is the id or a target; a text or group "
                             f"column must be another column")


def submission_rules(problem) -> dict:
    """The ``[submission]`` table for ``problem``: what its sample's columns must hold."""
    targets = list(problem.class_columns.values()) if problem.class_columns else list(problem.targets)
    rules: dict[str, Any] = {"file_name": "submission.csv", "holds": problem.holds, "columns": [problem.id, *targets],
                             "key": [problem.id]}
    if problem.holds in ("labels", "ranked"):
        rules["allowed"] = {t: list(problem.labels[t]) for t in problem.targets}
    if problem.holds == "ranked":
        rules["ranked"] = {t: 3 for t in problem.targets}
    if problem.holds in ("probabilities", "values"):
        low, high = (0.0, 1.0) if problem.holds == "probabilities" else (
            (0.0, np.inf) if problem.metric == "rmsle" else (-np.inf, np.inf))
        rules["ranges"] = {t: [low, high] for t in targets}
    return rules


def spec_document(problem, *, platform: str, slug: str, data_dir: str | Path, dtypes: dict[str, str],
                  title: str = "", notebook: str = "", template: str = "tabular",
                  inputs: dict[str, Any] | None = None, images: dict[str, str] | None = None) -> dict:
    """The document :func:`write_spec` writes for ``problem`` (keys in the order of the module docstring)."""
    doc: dict[str, Any] = {"title": title, "platform": platform, "slug": slug, "metric": problem.metric,
                           "direction": problem.mode, "task": problem.task, "template": template,
                           "data_dir": str(data_dir), "notebook": notebook,
                           "files": dict(problem.files),
                           "columns": {"id": problem.id, "targets": list(problem.targets)}}
    if template == "tabular":  # the features come from the files (and the features module); these override them
        doc["features"] = {"drop": [], "categorical": [], "numeric": []}
    if problem.classification:
        doc["labels"] = {t: list(v) for t, v in problem.labels.items()}
    if problem.class_columns:
        doc["class_columns"] = dict(problem.class_columns)
    doc["dtypes"] = dict(dtypes)
    if inputs:
        doc["inputs"] = {k: (list(v) if isinstance(v, (list, tuple)) else str(v)) for k, v in inputs.items()}
    if images:
        doc["images"] = {k: str(v) for k, v in images.items()}
    doc["submission"] = submission_rules(problem)
    return {k: v for k, v in doc.items() if v != ""}


def write_spec(path: str | Path, doc: dict) -> Path:
    """Write ``doc`` as TOML (with a header saying what the file is) to ``path``, checked first; return it.

    Raises ``ParameterError`` naming the key for a document :func:`check_document` refuses."""
    from ..errors import require

    check_document(doc, path)
    tomli_w = require("tomli_w", "pip install tomli-w==1.2.0")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(HEADER + _inline_arrays(tomli_w.dumps(doc)))
    tmp.replace(path)
    return path


def _inline_arrays(text: str, width: int = 90) -> str:
    """``text`` with each multi-line array of plain values that fits in ``width`` characters on one line (a
    cosmetic change: it is kept only when the TOML reads back the same)."""
    def collapse(match: re.Match) -> str:
        items = [line.strip().removesuffix(",") for line in match.group(1).splitlines()]
        joined = "[" + ", ".join(items) + "]"
        return joined if len(joined) <= width else match.group(0)

    shorter = re.sub(r"\[\n((?:[ ]+[^\n\[\]]+,\n)+)\]", collapse, text)
    return shorter if tomllib.loads(shorter) == tomllib.loads(text) else text
