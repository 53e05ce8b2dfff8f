"""``kit new``: a new competition from its files, as a spec file and a notebook in the project folder.

:func:`infer` reads a competition's ``train.csv``, ``test.csv`` and ``sample_submission.csv`` (Kaggle's layout;
other names by argument) and works out:

- the id column: the sample's first column, which must be a column of the test file;
- the targets: the sample's other columns found in the training file, or, when the sample's columns are the
  classes of one training column (``id,Class_1..Class_9``, or ``<target>_<class>``), that column, predicted as
  one probability per class;
- the task of each target: text labels or two values are classes (binary or multiclass), integers with at
  most :data:`MAX_INTEGER_CLASSES` values are classes, other numbers are a regression; a metric that scores
  values makes a numeric target a regression;
- the metric (``--metric``: any name of :data:`kitlib.metrics.METRICS`, or a prefix of one), else a default
  per task: ``roc_auc`` when a binary target's sample holds probabilities, ``log_loss`` for per-class
  probability columns, ``map_at_3`` when the sample holds space-separated labels, ``accuracy`` for other
  labels, ``rmse`` for values;
- the features (columns of both files except the id and the targets), categorical when pandas reads them
  as text or booleans, and their dtypes.

:func:`new_competition` writes ``competitions/<name>.toml`` (:mod:`kitlib.competitions.specfile`) and
``notebooks/<name>.ipynb`` (from ``kitlib/templates/<template>.ipynb``) into the project folder
(``KIT_PROJECT_DIR``, default the checkout), refusing to overwrite either unless ``force``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .competitions import BUILT_IN_NAMES
from .competitions.specfile import (
    MAX_NAME,
    PLATFORMS,
    TEMPLATES,
    is_competition_name,
    spec_document,
    spec_path,
    write_spec,
)
from .data import require_files
from .errors import DataError, ParameterError
from .metrics import METRICS
from .runtime import project_dir
from .target_inference import (
    MAX_INTEGER_CLASSES,  # noqa: F401  (kitlib.scaffold.MAX_INTEGER_CLASSES as before)
    check_enough_rows,
    default_metric,
    find_targets,
    sample_holds,
    shown_labels,
    sorted_labels,
    target_task,
    target_text,
    values_not_labels,
)
from .tasks.tabular import FILES, Problem, load, metric_of, read_csv

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
PLACEHOLDER = "__competition__"
COMPATIBLE = {  # what a metric may score, by (task, per-class sample columns)
    ("binary", False): ("labels", "probabilities"), ("multiclass", False): ("labels", "ranked"),
    ("binary", True): ("probabilities",), ("multiclass", True): ("probabilities",), ("regression", False): ("values",),
}


@dataclass
class Inference:
    """What :func:`infer` found: the :class:`Problem`, the features' dtypes and one line per finding."""

    problem: Problem
    dtypes: dict[str, str]
    notes: list[str] = field(default_factory=list)


SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # a platform's competition slug (fullmatch: no newline)
MAX_SLUG = 100
RESERVED_COLUMNS = ("fold",)  # the run folder's tables (oof.parquet) hold these beside the id and the targets


def template_folds(template: str = "tabular") -> int:
    """The default ``n_folds`` of the template notebook's parameters cell (5 when it declares none)."""
    nb = json.loads((TEMPLATE_DIR / f"{template}.ipynb").read_text())
    source = "".join("".join(c["source"]) for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    found = re.search(r"^n_folds\s*:\s*int\s*=\s*(\d+)", source, flags=re.M)
    return int(found.group(1)) if found else 5


def _plain_file(name: str, what: str) -> str:
    """``name`` when it is a plain file name inside the data folder; ``ParameterError`` otherwise."""
    if not isinstance(name, str) or not name or name in (".", "..") or any(c in name for c in "/\\\0\n\r"):
        raise ParameterError(f"--{what} {name!r}: expected the name of a file in the data folder (no path separator, "
                             f"no line break)")
    return name


def _read_files(data_dir: Path, names: dict[str, str]) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame]:
    """``(train and test frames, the sample as text, train as text)``; ``DataError`` for a missing file, a file
    without rows, a sample without a prediction column."""
    for what, name in names.items():
        _plain_file(name, what)
    files = require_files(data_dir, list(names.values()))
    frame = {k: read_csv(files[v]) for k, v in names.items() if k != "sample"}
    sample_text = read_csv(files[names["sample"]], dtype=str, keep_default_na=False)
    raw = read_csv(files[names["train"]], dtype=str, keep_default_na=False)
    for what, table in (("train", raw), ("test", frame["test"]), ("sample", sample_text)):
        if table.empty:
            raise DataError(f"{names[what]} has no rows (only its header {list(table.columns)[:12]}); kit new "
                            f"needs the competition's rows")
    if len(sample_text.columns) < 2:
        raise DataError(f"{names['sample']}: needs an id column and at least one prediction column; it has "
                        f"{list(sample_text.columns)}")
    return frame, sample_text, raw


def _check_column_names(columns: list[str], names: dict[str, str]) -> None:
    """Refuse an id or target column named like a column of the run folder's tables (``fold``, ``p_*``, ``score_*``,
    ``pred_*``): the out-of-fold table would overwrite one with the other."""
    from .predictions import PREFIXES

    for column in columns:
        if str(column) in RESERVED_COLUMNS or str(column).startswith(PREFIXES):
            raise DataError(f"{names['sample']}/{names['train']}: column {column!r} is named like a column of the run "
                            f"folder's prediction tables ({list(RESERVED_COLUMNS)} and names starting with "
                            f"{list(PREFIXES)}); rename it in the files (or pass --id/--target another)")


def infer(data_dir: str | Path, *, train: str = FILES["train"], test: str = FILES["test"],
          sample: str = FILES["sample"], id: str | None = None, targets: list[str] | None = None,
          metric: str | None = None) -> Inference:
    """Infer the problem of the competition whose files are in ``data_dir`` (see the module docstring).

    Raises ``DataError`` naming the file (row and column where one is at fault) for a missing file or column, an
    empty or single-valued target, a sample whose columns fit no target; ``ParameterError`` for an unknown or
    ambiguous metric or one that does not fit the target (listing the ones that do), or targets of mixed tasks.
    """
    names = {"train": train, "test": test, "sample": sample}
    frame, sample_text, raw = _read_files(Path(data_dir), names)
    id_col = id or sample_text.columns[0]
    for key, table in (("test", frame["test"]), ("sample", sample_text)):
        if id_col not in table.columns:
            raise DataError(f"{names[key]}: no id column {id_col!r} (its columns: {list(table.columns)}); "
                            f"pass --id COL")
    rest = [c for c in sample_text.columns if c != id_col]
    chosen = metric_of(metric) if metric else None
    target_cols, class_columns = find_targets(frame["train"], frame["test"], raw, id_col, rest, targets, names)
    _check_column_names([id_col, *target_cols], names)
    per_class = bool(class_columns)
    n_folds = template_folds()
    tasks, labels, texts = {}, {}, {}
    notes = [f"id:         {id_col}" + ("" if id else f" (the sample's first column, found in {test})")]
    for target in target_cols:
        texts[target] = target_text(raw, target, train)
        tasks[target], why = target_task(target, texts[target], chosen, per_class, train)
        if tasks[target] != "regression":
            labels[target] = sorted_labels(texts[target])
        notes.append(f"target:     {target}: {tasks[target]}{shown_labels(labels.get(target))} ({why})")
    if len(set(tasks.values())) > 1:
        raise ParameterError(f"targets of different tasks {tasks}; kit new makes one task per competition "
                             f"(pass --target for the ones to predict)")
    task = next(iter(tasks.values()))
    holds = sample_holds(sample_text[rest[0]], labels.get(target_cols[0], [])) if not per_class else "probabilities"
    if chosen is None and task == "multiclass" and not per_class and holds in ("probabilities", "values"):
        task, labels = values_not_labels(sample_text, rest[0], texts, names), {}
        tasks = dict.fromkeys(target_cols, task)
        notes.append(f"target:     {', '.join(target_cols)}: regression ({sample} holds numbers that are no labels)")
    for target in target_cols:
        check_enough_rows(texts[target], target, task != "regression", n_folds, train)
    compatible = sorted(m.name for m in METRICS.values() if m.takes in COMPATIBLE[(task, per_class)])
    if chosen is None:
        name, why = default_metric(task, per_class, holds)
        chosen = metric_of(name)
        why = f"{why}; --metric chooses another of {compatible}"
    elif chosen.name not in compatible:
        raise ParameterError(f"metric {chosen.name!r} scores {chosen.takes}, which does not fit a {task} target "
                             f"{'with a probability per class ' if per_class else ''}({target_cols}); "
                             f"expected one of {compatible}")
    else:
        why = "given"
    if chosen.name == "rmsle" and (pd.to_numeric(raw[target_cols[0]], errors="coerce") <= -1).any():
        raise ParameterError(f"metric 'rmsle' needs targets above -1; {train} column {target_cols[0]!r} has lower ones")
    notes.append(f"metric:     {chosen.name} ({chosen.mode}; {why})")
    shared = [c for c in frame["train"].columns if c in frame["test"].columns and c not in (id_col, *target_cols)]
    empty = [c for c in shared if frame["train"][c].isna().all()]
    features = [c for c in shared if c not in empty]
    dtypes = {c: str(frame["train"][c].dtype) for c in features}
    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(frame["train"][c])
                   or pd.api.types.is_bool_dtype(frame["train"][c])]
    dropped = [c for c in frame["train"].columns if c not in frame["test"].columns and c not in (id_col, *target_cols)]
    notes.append(f"features:   {len(features) - len(categorical)} numeric, {len(categorical)} categorical "
                 f"{categorical[:8]}{' ...' if len(categorical) > 8 else ''}"
                 + (f"; not in {test}, left out: {dropped}" if dropped else "")
                 + (f"; empty in {train}, left out: {empty}" if empty else ""))
    problem = Problem(id=id_col, targets=tuple(target_cols), task=task, metric=chosen.name,
                      holds="probabilities" if per_class else chosen.takes,
                      labels={t: tuple(v) for t, v in labels.items()}, class_columns=class_columns,
                      numeric=tuple(c for c in features if c not in categorical), categorical=tuple(categorical),
                      files=names)
    load(problem, data_dir)  # every check the notebook will make, now
    return Inference(problem=problem, dtypes=dtypes, notes=notes)


def render_notebook(name: str, template: str = "tabular") -> dict:
    """The template notebook with the competition's name in place of ``__competition__`` and in its metadata."""
    nb = json.loads((TEMPLATE_DIR / f"{template}.ipynb").read_text())
    for cell in nb["cells"]:
        source = "".join(cell["source"]).replace(PLACEHOLDER, name)
        cell["source"] = source.splitlines(keepends=True)
    nb["metadata"]["kitlib"] = {"competition": name, "template": template}
    return nb


def new_competition(name: str, data_dir: str | Path, *, metric: str | None = None, targets: list[str] | None = None,
                    id: str | None = None, platform: str = "kaggle", slug: str | None = None,
                    template: str = "tabular", train: str = FILES["train"], test: str = FILES["test"],
                    sample: str = FILES["sample"], force: bool = False) -> tuple[Path, Path, Inference]:
    """Infer the competition in ``data_dir`` and write its spec and notebook into the project folder.

    Returns ``(spec path, notebook path, inference)``. Raises ``ParameterError`` for a name that is not a
    competition name or is a built-in one, an unknown platform or template, or (without ``force``) a spec or
    notebook that exists already; and whatever :func:`infer` raises. Nothing is written when it raises."""
    if not is_competition_name(name):
        shown = name if len(name) <= 80 else f"{name[:40]}...{name[-20:]}"
        raise ParameterError(f"competition name {shown!r}: use lowercase letters, digits, '-' and '_' (starting with "
                             f"a letter or digit, at most {MAX_NAME} characters; no path separator or line break)")
    if name in BUILT_IN_NAMES:
        raise ParameterError(f"{name!r} is a built-in competition; choose another name")
    if slug is not None and not (len(slug) <= MAX_SLUG and SLUG.fullmatch(slug)):
        raise ParameterError(f"slug {slug[:120]!r}: expected the competition's slug on the platform: letters, digits, "
                             f"'-', '_' and '.', starting with a letter or digit, at most {MAX_SLUG} characters")
    for what, value, allowed in (("platform", platform, PLATFORMS), ("template", template, TEMPLATES)):
        if value not in allowed:
            raise ParameterError(f"Unknown {what} {value!r}; expected one of {list(allowed)}")
    spec, notebook = spec_path(name), project_dir() / "notebooks" / f"{name}.ipynb"
    existing = [str(p) for p in (spec, notebook) if p.exists()]
    if existing and not force:
        raise ParameterError(f"{' and '.join(existing)} already exist(s); pass --force to overwrite, or choose "
                             f"another name")
    data_dir = Path(data_dir).expanduser().absolute()
    if not data_dir.is_dir():
        raise DataError(f"data dir {str(data_dir)!r} is not a folder")
    found = infer(data_dir, train=train, test=test, sample=sample, id=id, targets=targets, metric=metric)
    problem = found.problem
    title = f"{name}: tabular {problem.task} ({', '.join(problem.targets)}), {problem.metric}"
    doc = spec_document(problem, platform=platform, slug=slug or name, data_dir=data_dir, dtypes=found.dtypes,
                        title=title, notebook=f"notebooks/{name}.ipynb", template=template)
    write_spec(spec, doc)
    notebook.parent.mkdir(parents=True, exist_ok=True)
    tmp = notebook.with_name(f".{notebook.name}.tmp")
    tmp.write_text(json.dumps(render_notebook(name, template), indent=1) + "\n")
    tmp.replace(notebook)
    return spec, notebook, found
