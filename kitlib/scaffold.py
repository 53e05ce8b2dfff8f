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
- the features (columns of both files except the id, the targets and ``--group``), categorical when pandas
  reads them as text or booleans, and their dtypes;
- the template (:mod:`kitlib.template_inference`): ``image`` when the image layout finder recognises the folder,
  ``text`` when a shared string column looks like text (or ``--text`` names some), else ``tabular`` (with a
  warning for a string column that looks like text); what the template reads goes into the spec's ``[inputs]``
  (``text_columns``, ``group_column``, the image layout's fields).

``kit new``'s options are one :class:`NewOptions`.

:func:`new_competition` writes ``competitions/<name>.toml`` (:mod:`kitlib.competitions.specfile`) and
``notebooks/<name>.ipynb`` (from ``kitlib/templates/<template>.ipynb``, its ``n_folds`` default that of
:func:`template_folds` for the task) into the project folder
(``KIT_PROJECT_DIR``, default the checkout), refusing to overwrite either unless ``force``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

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
from .template_inference import choose_template, find_images, folder_listing, warn_text_like

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
PLACEHOLDER = "__competition__"
COMPATIBLE = {  # what a metric may score, by (task, per-class sample columns)
    ("binary", False): ("labels", "probabilities"), ("multiclass", False): ("labels", "ranked"),
    ("binary", True): ("probabilities",), ("multiclass", True): ("probabilities",), ("regression", False): ("values",),
}


@dataclass(frozen=True)
class NewOptions:
    """``kit new``'s options: where the files are and what to infer or take as given.

    ``data_dir`` the folder with the competition's files; ``template`` ``tabular``, ``text`` or ``image`` (``None``:
    inferred); ``metric``, ``targets`` (columns), ``id`` (column): as given, else inferred; ``text`` the text
    columns (text template); ``images`` the images folder inside ``data_dir`` (image template; ``None``: looked
    for); ``group`` a column whose rows always share a fold; ``platform``, ``slug`` where it is submitted;
    ``train``, ``test``, ``sample`` the file names; ``force`` overwrite an existing spec and notebook."""

    data_dir: str | Path
    template: str | None = None
    metric: str | None = None
    targets: tuple[str, ...] | None = None
    id: str | None = None
    text: tuple[str, ...] = ()
    images: str | None = None
    group: str | None = None
    platform: str = "kaggle"
    slug: str | None = None
    train: str = FILES["train"]
    test: str = FILES["test"]
    sample: str = FILES["sample"]
    force: bool = False


@dataclass
class Inference:
    """What :func:`infer` found: the :class:`Problem`, the features' dtypes, one line per finding, the template
    and its spec ``[inputs]`` (:func:`infer_competition`), the files it read (``frames``: train and test) and an
    image competition's layout fields (the spec's ``[images]``)."""

    problem: Problem
    dtypes: dict[str, str]
    notes: list[str] = field(default_factory=list)
    template: str = "tabular"
    inputs: dict[str, Any] = field(default_factory=dict)
    frames: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    images: dict[str, str] = field(default_factory=dict)


SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # a platform's competition slug (fullmatch: no newline)
MAX_SLUG = 100
RESERVED_COLUMNS = ("fold",)  # the run folder's tables (oof.parquet) hold these beside the id and the targets


# kit new's ``n_folds`` where it is not the template's default: on real regression sets, 8 folds scored better than 5
# for both boosters on every one of four repeated 80/20 splits (README, "Tabular competitions"); classification
# keeps 5, where the difference was within noise and 8 would refuse classes of 5 to 7 rows.
TASK_FOLDS = {("tabular", "regression"): 8}
_FOLDS_LINE = re.compile(r"^(n_folds\s*:\s*int\s*=\s*)(\d+)", flags=re.M)


def template_folds(template: str = "tabular", task: str | None = None) -> int:
    """The default ``n_folds`` of a ``task`` competition made from ``template``: ``TASK_FOLDS``' where it names the
    pair, else the template notebook's parameters cell's (5 when it declares none or is missing)."""
    if (template, task) in TASK_FOLDS:
        return TASK_FOLDS[(template, task)]
    path = TEMPLATE_DIR / f"{template}.ipynb"
    if not path.is_file():
        return 5
    nb = json.loads(path.read_text())
    source = "".join("".join(c["source"]) for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    found = _FOLDS_LINE.search(source)
    return int(found.group(2)) if found else 5


def _plain_file(name: str, what: str) -> str:
    """``name`` when it is a plain file name inside the data folder; ``ParameterError`` otherwise."""
    if not isinstance(name, str) or not name or name in (".", "..") or any(c in name for c in "/\\\0\n\r"):
        raise ParameterError(f"--{what} {name!r}: expected the name of a file in the data folder (no path separator, "
                             f"no line break)")
    return name


def _read_files(data_dir: Path, names: dict[str, str], given: dict[str, pd.DataFrame] | None = None,
                ) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame]:
    """``(train and test frames, the sample as text, train as text)``; ``DataError`` for a missing file, a file
    without rows, a sample without a prediction column. ``given`` holds tables made otherwise (an image layout's
    labels from class folders, as text) in place of the files of those names."""
    given = given or {}
    for what, name in names.items():
        _plain_file(name, what)
    files = require_files(data_dir, [v for k, v in names.items() if k not in given])
    frame = {k: given[k] if k in given else read_csv(files[v]) for k, v in names.items() if k != "sample"}
    sample_text = given["sample"] if "sample" in given else read_csv(files[names["sample"]], dtype=str,
                                                                     keep_default_na=False)
    raw = given["train"] if "train" in given else read_csv(files[names["train"]], dtype=str, keep_default_na=False)
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
          metric: str | None = None, exclude: tuple[str, ...] = (), tables: dict[str, pd.DataFrame] | None = None,
          template: str = "tabular", check: bool = True) -> Inference:
    """Infer the problem of the competition whose files are in ``data_dir`` (see the module docstring).

    ``exclude``: columns that are no features (the group column, an image column); ``tables``: frames in place
    of the files of those names (``train``, ``test``, ``sample``; see :func:`_read_files`); ``template``: whose
    ``n_folds`` the classes must fill; ``check``: load the files as the tabular notebook will (``kit new`` checks
    the other templates' files with their own loaders).

    Raises ``DataError`` naming the file (row and column where one is at fault) for a missing file or column, an
    empty or single-valued target, a sample whose columns fit no target; ``ParameterError`` for an unknown or
    ambiguous metric or one that does not fit the target (listing the ones that do), or targets of mixed tasks.
    """
    names = {"train": train, "test": test, "sample": sample}
    frame, sample_text, raw = _read_files(Path(data_dir), names, tables)
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
    n_folds = template_folds(template, task)
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
    shared = [c for c in frame["train"].columns if c in frame["test"].columns and c not in (id_col, *target_cols,
                                                                                          *exclude)]
    empty = [c for c in shared if frame["train"][c].isna().all()]
    features = [c for c in shared if c not in empty]
    dtypes = {c: str(frame["train"][c].dtype) for c in features}
    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(frame["train"][c])
                   or pd.api.types.is_bool_dtype(frame["train"][c])]
    dropped = [c for c in frame["train"].columns if c not in frame["test"].columns and c not in (id_col, *target_cols,
                                                                                                  *exclude)]
    notes.append(f"features:   {len(features) - len(categorical)} numeric, {len(categorical)} categorical "
                 f"{categorical[:8]}{' ...' if len(categorical) > 8 else ''}"
                 + (f"; not in {test}, left out: {dropped}" if dropped else "")
                 + (f"; empty in {train}, left out: {empty}" if empty else ""))
    problem = Problem(id=id_col, targets=tuple(target_cols), task=task, metric=chosen.name,
                      holds="probabilities" if per_class else chosen.takes,
                      labels={t: tuple(v) for t, v in labels.items()}, class_columns=class_columns,
                      numeric=tuple(c for c in features if c not in categorical), categorical=tuple(categorical),
                      files=names)
    if check and not tables:
        load(problem, data_dir)  # every check the notebook will make, now
    return Inference(problem=problem, dtypes=dtypes, notes=notes, frames=frame)


def render_notebook(name: str, template: str = "tabular", task: str | None = None) -> dict:
    """The template notebook with the competition's name in place of ``__competition__`` and in its metadata, and
    the ``n_folds`` default of a ``task`` competition (:func:`template_folds`) in its parameters cell."""
    nb = json.loads((TEMPLATE_DIR / f"{template}.ipynb").read_text())
    n_folds = TASK_FOLDS.get((template, task))  # None: the template's own default stands
    for cell in nb["cells"]:
        source = "".join(cell["source"]).replace(PLACEHOLDER, name)
        if n_folds is not None and "parameters" in cell["metadata"].get("tags", []):
            source = _FOLDS_LINE.sub(lambda m: f"{m.group(1)}{n_folds}", source, count=1)
        cell["source"] = source.splitlines(keepends=True)
    nb["metadata"]["kitlib"] = {"competition": name, "template": template}
    return nb


def _check_options(name: str, options: NewOptions) -> None:
    if not is_competition_name(name):
        shown = name if len(name) <= 80 else f"{name[:40]}...{name[-20:]}"
        raise ParameterError(f"competition name {shown!r}: use lowercase letters, digits, '-' and '_' (starting with "
                             f"a letter or digit, at most {MAX_NAME} characters; no path separator or line break)")
    if name in BUILT_IN_NAMES:
        raise ParameterError(f"{name!r} is a built-in competition; choose another name")
    slug = options.slug
    if slug is not None and not (len(slug) <= MAX_SLUG and SLUG.fullmatch(slug)):
        raise ParameterError(f"slug {slug[:120]!r}: expected the competition's slug on the platform: letters, digits, "
                             f"'-', '_' and '.', starting with a letter or digit, at most {MAX_SLUG} characters")
    for what, value, allowed in (("platform", options.platform, PLATFORMS), ("template", options.template, TEMPLATES)):
        if value is not None and value not in allowed:
            raise ParameterError(f"Unknown {what} {value!r}; expected one of {list(allowed)}")
    for what in ("train", "test", "sample"):
        _plain_file(getattr(options, what), what)


def _image_competition(options: NewOptions, layout: Any) -> Inference:
    """The inference of an image competition whose layout ``find_image_layout`` found: targets, task, labels and
    metric from the layout's tables (``layout.train_table``/``test_table``: the rows as text, the class folders'
    too), its spec fields in ``images`` (the spec's ``[images]``)."""
    data_dir = Path(options.data_dir)
    tables = {"train": layout.train_table(data_dir), "test": layout.test_table(data_dir)}
    found = infer(data_dir, train=options.train, test=options.test, sample=options.sample, id=options.id,
                  targets=list(options.targets) if options.targets else None, metric=options.metric,
                  exclude=(layout.image_column, layout.test_image_column, *([options.group] if options.group else [])),
                  tables=tables, template="image", check=False)
    problem = replace(found.problem, numeric=(), categorical=(), files={**found.problem.files,
                                                                        "train": layout.train_file})
    notes = [n for n in found.notes if not n.startswith("features:")] + [layout.describe()]
    return replace(found, problem=problem, dtypes={}, notes=notes, template="image",
                   inputs={"group_column": options.group} if options.group else {}, images=layout.spec_fields())


def infer_competition(name: str, options: NewOptions) -> Inference:
    """The template, problem and spec inputs of the competition in ``options.data_dir`` (module docstring).

    Raises ``DataError`` naming the file or folder and what it found when neither tabular features, text nor
    images are there, a text template has no text column, the group column is missing, or the images are in an
    unknown layout; whatever :func:`infer` raises."""
    data_dir = Path(options.data_dir)
    layout = find_images(data_dir, options) if options.template in (None, "image") else None
    if options.template == "image" and layout is None:
        raise DataError(f"{data_dir}: no images found for the image template; the folder holds "
                        f"{folder_listing(data_dir)}")
    if layout is not None:
        return _image_competition(options, layout)
    if not (data_dir / options.train).is_file():
        raise DataError(f"{data_dir}: no {options.train} and no images: not a tabular, text or image competition in "
                        f"Kaggle's layout; the folder holds {folder_listing(data_dir)}")
    template = options.template or "tabular"
    found = infer(data_dir, train=options.train, test=options.test, sample=options.sample, id=options.id,
                  targets=list(options.targets) if options.targets else None, metric=options.metric,
                  exclude=(options.group,) if options.group else (), template=template, check=False)
    train, test = found.frames["train"], found.frames["test"]
    if options.group and options.group not in train.columns:
        raise DataError(f"{options.train}: no group column {options.group!r} (--group); it has {list(train.columns)}")
    problem = found.problem
    template, text, notes = choose_template(options.template, train, test, list(problem.features),
                                            tuple(options.text), options.train)
    inputs: dict[str, Any] = {"group_column": options.group} if options.group else {}
    if template == "text":
        from .tasks.text import load as load_text

        problem = replace(problem, numeric=(), categorical=())
        inputs = {"text_columns": text, **inputs}
        load_text(problem, data_dir, text, options.group)  # every check the notebook will make, now
        kept = [n for n in found.notes if not n.startswith("features:")]
        return replace(found, problem=problem, dtypes={c: found.dtypes.get(c, "object") for c in text},
                       notes=kept + notes, template="text", inputs=inputs)
    load(problem, data_dir)
    warnings = warn_text_like(train, list(problem.categorical), name)
    return replace(found, notes=found.notes + notes + warnings, template=template, inputs=inputs)


def new_competition(name: str, options: NewOptions | str | Path) -> tuple[Path, Path, Inference]:
    """Infer the competition in ``options.data_dir`` (a :class:`NewOptions`, or the data folder alone for every
    other option's default) and write its spec and notebook into the project folder.

    Returns ``(spec path, notebook path, inference)``. Raises ``ParameterError`` for a name that is not a
    competition name or is a built-in one, an unknown platform or template, or (without ``force``) a spec or
    notebook that exists already; and whatever :func:`infer_competition` raises. Nothing is written when it
    raises."""
    options = options if isinstance(options, NewOptions) else NewOptions(options)
    _check_options(name, options)
    spec, notebook = spec_path(name), project_dir() / "notebooks" / f"{name}.ipynb"
    existing = [str(p) for p in (spec, notebook) if p.exists()]
    if existing and not options.force:
        raise ParameterError(f"{' and '.join(existing)} already exist(s); pass --force to overwrite, or choose "
                             f"another name")
    data_dir = Path(options.data_dir).expanduser().absolute()
    if not data_dir.is_dir():
        raise DataError(f"data dir {str(data_dir)!r} is not a folder")
    found = infer_competition(name, replace(options, data_dir=data_dir))
    problem, template = found.problem, found.template
    title = f"{name}: {template} {problem.task} ({', '.join(problem.targets)}), {problem.metric}"
    doc = spec_document(problem, platform=options.platform, slug=options.slug or name, data_dir=data_dir,
                        dtypes=found.dtypes, title=title, notebook=f"notebooks/{name}.ipynb", template=template,
                        inputs=found.inputs, images=found.images)
    write_spec(spec, doc)
    notebook.parent.mkdir(parents=True, exist_ok=True)
    tmp = notebook.with_name(f".{notebook.name}.tmp")
    tmp.write_text(json.dumps(render_notebook(name, template, problem.task), indent=1) + "\n")
    tmp.replace(notebook)
    return spec, notebook, found
