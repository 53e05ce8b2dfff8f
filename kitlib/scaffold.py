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
from .tasks.tabular import FILES, Problem, load, metric_of, read_csv

MAX_INTEGER_CLASSES = 10
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


def _class_columns(target: str, labels: list[str], columns: list[str]) -> dict[str, str] | None:
    """``{label: sample column}`` when ``columns`` are exactly the labels (or ``<target>_<label>``)."""
    for name in (lambda label: label, lambda label: f"{target}_{label}"):
        mapping = {label: name(label) for label in labels}
        if sorted(mapping.values()) == sorted(columns):
            return mapping
    return None


def _sorted_labels(text: pd.Series) -> list[str]:
    labels = sorted(text.unique().tolist())
    numbers = pd.to_numeric(pd.Series(labels), errors="coerce")
    return [labels[i] for i in numbers.argsort()] if numbers.notna().all() else labels


def _target_text(raw: pd.DataFrame, target: str, source: str) -> pd.Series:
    text = raw[target].str.strip()
    empty = (text == "").to_numpy()
    if empty.any():
        row = int(empty.argmax())
        raise DataError(f"{source} row {row + 1}: column {target!r} is empty; a target needs a value in every row")
    if text.nunique() < 2:
        raise DataError(f"{source}: column {target!r} holds one value ({text.iloc[0]!r}); a target needs two or more")
    return text


def _task(target: str, text: pd.Series, chosen, per_class: bool, source: str) -> tuple[str, str]:
    """``(task, why)`` for one target (``chosen``: the metric given, or ``None``)."""
    takes = chosen.takes if chosen else None
    numbers = pd.to_numeric(text, errors="coerce")
    count = text.nunique()
    if takes == "values" and not per_class:
        if numbers.isna().any():
            row = int(numbers.isna().to_numpy().argmax())
            raise DataError(f"{source} row {row + 1}: column {target!r}: {text.iloc[row]!r} is not a number; a metric "
                            f"that scores values needs a numeric target")
        return "regression", "the metric scores values"
    kind = "binary" if count == 2 else "multiclass"
    integral = numbers.notna().all() and (numbers == numbers.round()).all()
    if takes is not None and not per_class and numbers.notna().all() and not integral and count > 2:
        values = sorted(m.name for m in METRICS.values() if m.takes == "values")
        raise ParameterError(f"metric {chosen.name!r} scores classes, but {source} column {target!r} holds {count} distinct "
                             f"numbers (a regression); choose one of {values}")
    if per_class or takes is not None:
        return kind, "the metric scores classes" if takes else "the sample holds a probability per class"
    if numbers.isna().any():
        return kind, f"{count} text labels"
    if count == 2:
        return kind, "two values"
    if integral and count <= MAX_INTEGER_CLASSES:
        return kind, f"{count} integer values (pass --metric rmse for a regression)"
    return "regression", f"{count} distinct numbers"


def _default_metric(task: str, per_class: bool, sample_values: pd.Series, labels: list[str]) -> tuple[str, str]:
    if task == "regression":
        return "rmse", "the default for a regression"
    if per_class:
        return "log_loss", "the default for a probability per class"
    if task == "multiclass" and sample_values.str.contains(" ").any():
        return "map_at_3", "the sample holds space-separated labels"
    if task == "binary" and not sample_values.isin(labels).all():
        return "roc_auc", "the default for a binary target whose sample holds probabilities"
    return "accuracy", f"the default for a {task} target whose sample holds labels"


def _find_targets(train: pd.DataFrame, test: pd.DataFrame, raw: pd.DataFrame, id_col: str, rest: list[str],
                  given: list[str] | None, names: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """``(targets, class columns)`` from the sample's columns after the id (and ``--target``)."""
    if given:
        missing = [t for t in given if t not in train.columns]
        if missing:
            raise DataError(f"{names['train']}: no target column(s) {missing}; it has {list(train.columns)}")
        if sorted(given) == sorted(rest):
            return list(given), {}
        candidates = list(given)
    else:
        if all(c in train.columns for c in rest):
            return rest, {}
        if any(c in train.columns for c in rest):
            raise DataError(f"{names['sample']}: columns {[c for c in rest if c in train.columns]} are in "
                            f"{names['train']} but {[c for c in rest if c not in train.columns]} are not; pass --target")
        candidates = [c for c in train.columns if c not in test.columns and c != id_col]
    for target in candidates if len(candidates) >= 1 and (not given or len(given) == 1) else ():
        mapping = _class_columns(target, _sorted_labels(raw[target].str.strip()), rest)
        if mapping:
            return [target], mapping
    raise DataError(f"{names['sample']}: columns {rest} are neither columns of {names['train']} nor the classes of "
                    f"one of its columns {candidates}; pass --target COL")


def infer(data_dir: str | Path, *, train: str = FILES["train"], test: str = FILES["test"],
          sample: str = FILES["sample"], id: str | None = None, targets: list[str] | None = None,
          metric: str | None = None) -> Inference:
    """Infer the problem of the competition whose files are in ``data_dir`` (see the module docstring).

    Raises ``DataError`` naming the file (row and column where one is at fault) for a missing file or column, an
    empty or single-valued target, a sample whose columns fit no target; ``ParameterError`` for an unknown or
    ambiguous metric or one that does not fit the target (listing the ones that do), or targets of mixed tasks.
    """
    names = {"train": train, "test": test, "sample": sample}
    files = require_files(Path(data_dir), list(names.values()))
    frame = {k: read_csv(files[v]) for k, v in names.items() if k != "sample"}
    sample_text = read_csv(files[sample], dtype=str, keep_default_na=False)
    raw = read_csv(files[train], dtype=str, keep_default_na=False)
    if len(sample_text.columns) < 2:
        raise DataError(f"{sample}: needs an id column and at least one prediction column; it has "
                        f"{list(sample_text.columns)}")
    id_col = id or sample_text.columns[0]
    for key, table in (("test", frame["test"]), ("sample", sample_text)):
        if id_col not in table.columns:
            raise DataError(f"{names[key]}: no id column {id_col!r} (its columns: {list(table.columns)}); pass --id COL")
    rest = [c for c in sample_text.columns if c != id_col]
    chosen = metric_of(metric) if metric else None
    target_cols, class_columns = _find_targets(frame["train"], frame["test"], raw, id_col, rest, targets, names)
    per_class = bool(class_columns)
    tasks, labels, notes = {}, {}, [f"id:         {id_col} (the sample's first column, found in {test})"
                                    if not id else f"id:         {id_col}"]
    for target in target_cols:
        text = _target_text(raw, target, train)
        tasks[target], why = _task(target, text, chosen, per_class, train)
        if tasks[target] != "regression":
            labels[target] = _sorted_labels(text)
        shown = f", labels {labels[target][:12]}{' ...' if len(labels[target]) > 12 else ''}" if target in labels else ""
        notes.append(f"target:     {target}: {tasks[target]}{shown} ({why})")
    if len(set(tasks.values())) > 1:
        raise ParameterError(f"targets of different tasks {tasks}; kit new makes one task per competition "
                             f"(pass --target for the ones to predict)")
    task = next(iter(tasks.values()))
    compatible = sorted(m.name for m in METRICS.values() if m.takes in COMPATIBLE[(task, per_class)])
    if chosen is None:
        name, why = _default_metric(task, per_class, sample_text[rest[0]], labels.get(target_cols[0], []))
        chosen = metric_of(name)
        why = f"{why}; --metric chooses another of {compatible}"
    elif chosen.name not in compatible:
        raise ParameterError(f"metric {chosen.name!r} scores {chosen.takes}, which does not fit a {task} target "
                             f"{'with a probability per class ' if per_class else ''}({target_cols}); "
                             f"expected one of {compatible}")
    else:
        why = "given"
    if chosen.name == "rmsle" and (pd.to_numeric(raw[target_cols[0]]) <= -1).any():
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
