"""What a competition is to the kit: its platform and slug, its notebook, its metric, its submission rules.

Each built-in competition module or package (``kitlib/competitions/<name>.py`` or ``<name>/``) defines one
:class:`Competition` as ``COMPETITION``, with real callables for its demo generator and its submission rules;
the registry in ``kitlib/competitions/__init__.py`` lists them. Nothing here imports a heavy framework.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..runtime import ROOT, project_dir
from .rows import Rows

RUN_FOLDER_FILES = ("manifest.json", "notebook.ipynb", "oof.parquet", "test_predictions.parquet", "kernel.log",
                    "checkpoints", "models", "optuna.db", "wandb")  # what a run folder holds besides the submission
MAX_FILE_NAME = 128


def check_file_name(name: object) -> str:
    """``name`` when it is a plain file name a submission may have: no path separator or NUL, not hidden, at most
    :data:`MAX_FILE_NAME` characters, none of the run folder's own files (:data:`RUN_FOLDER_FILES`), since the
    submission is copied into the run folder and to ``/kaggle/working``. Raises ``ParameterError``."""
    from ..errors import ParameterError

    ok = (isinstance(name, str) and 0 < len(name) <= MAX_FILE_NAME and not name.startswith(".")
          and not any(c in name for c in "/\\\0\n\r") and name not in RUN_FOLDER_FILES)
    if not ok:
        raise ParameterError(f"submission file name {name!r}: expected a plain file name such as 'submission.csv' "
                             f"(no path separator, not hidden, at most {MAX_FILE_NAME} characters, none of the run "
                             f"folder's files {list(RUN_FOLDER_FILES)})")
    return name


@dataclass(frozen=True)
class SubmissionSpec:
    """What a submission must look like.

    ``columns`` in order; ``key`` columns must equal the sample submission's, row by row; ``allowed``
    maps a column to its allowed values; ``ranges`` maps a numeric column to ``(low, high)``: every value
    must be a finite number within (``-inf``/``inf`` for no bound); ``ranked`` maps a column to ``k``: it
    holds up to ``k`` space-separated values, each one of ``allowed[column]`` (MAP@k); ``expected_key(data_dir)``
    gives the key values a submission must hold, in order, when the competition ships no sample file (the test
    ids it computes from the test files); ``check(path, data_dir)`` is an optional rule a table cannot express (it
    raises ``SubmissionError``); ``pack(path) -> Path`` turns a validated file into the platform's upload format
    (SOMD's zip). A spec with ``columns=()`` is not a CSV and is validated by ``check`` alone. ``file_name`` must be
    a plain file name (:func:`check_file_name`; ``ParameterError`` otherwise).
    """

    file_name: str
    columns: tuple[str, ...] = ()
    key: tuple[str, ...] = ()
    allowed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sample: str | None = None
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    ranked: dict[str, int] = field(default_factory=dict)
    expected_key: Callable[[Path], list[str]] | None = None
    check: Callable[[Path, Path | None], None] | None = None
    pack: Callable[[Path], Path] | None = None

    def __post_init__(self) -> None:
        check_file_name(self.file_name)


@dataclass(frozen=True)
class Predictions:
    """How a competition's runs keep their predictions, and how a blend scores and submits them.

    A run writes ``oof.parquet`` (``key`` columns, ``fold``, the ``target`` column, prediction columns) and
    ``test_predictions.parquet`` (``key`` columns, prediction columns); prediction columns are named
    ``p_<label>`` (class probabilities), ``score_<option>`` (per-option scores) or ``pred_<name>`` (values),
    see :mod:`kitlib.predictions`. ``score(frame)`` is the competition metric of a frame holding the
    target and prediction columns (the notebook's CV score and the blend's use the same function);
    ``to_submission(test_frame, data_dir)`` turns test predictions into what ``write_submission`` takes.
    """

    key: tuple[str, ...]
    target: str
    score: Callable[[Any], float]
    to_submission: Callable[[Any, Path], Any]


@dataclass(frozen=True)
class Competition:
    """One competition: its platform and slug for uploads, its notebook, its primary metric.

    ``metric`` is the key the notebook records with ``run.log_metrics``; ``mode`` says which way it is
    better (``"max"``/``"min"``); ``predictions`` says how its runs' prediction files are blended;
    ``demo(out_dir)`` writes the embedded demo set (deterministic; it writes
    only what is missing or stale).

    A competition written by ``kit new`` (``competitions/<name>.toml`` in the project folder, see
    :mod:`kitlib.competitions.specfile`) has no demo: ``data_dir`` is the folder it was made from, which an
    empty ``data_dir`` parameter resolves to; ``source`` is its spec file; ``tabular`` is what its template
    notebook reads (a :class:`kitlib.tasks.tabular.Problem`: targets, task, labels, metric, for every template);
    ``template`` its template and ``inputs`` what that template reads beside (the spec's ``[inputs]``: text
    columns, group column, the image layout); ``notebook`` is then an absolute path.

    ``code_competition``: a Kaggle *code* competition, where the submission is a notebook that runs offline on
    Kaggle and writes ``submission.csv``; a CSV cannot be uploaded (``kit submit --upload`` refuses it and
    points at ``kit kernel --push``).

    ``rows``: how its rows fall into folds and how its prediction tables key them (:mod:`.rows`; a ``kit new``
    competition's come from ``tabular``); ``no_folds``: why a competition without them has no folds to share.

    ``daily_limit``: how many submissions a day the platform takes. Before an upload Kaggle is asked itself
    (``GetSubmissionLimits``); when it cannot be, and on AIcrowd, the ledger's uploads of the day are counted
    against this (see :mod:`kitlib.uploads`); ``None``: no limit is known.
    """

    name: str
    title: str
    platform: str  # "aicrowd" | "kaggle" | "local" (no upload)
    slug: str
    metric: str
    mode: str
    submission: SubmissionSpec
    demo: Callable[[Path], object] | None = None
    notebook: str = ""  # path relative to the project; default notebooks/<name>.ipynb
    predictions: Predictions | None = None  # None: its runs cannot be blended
    data_dir: str = ""  # a spec competition's recorded data folder ("" for the built-in ones: the demo)
    source: str = ""  # the spec file of a competition written by `kit new`
    tabular: Any = None  # a spec competition's kitlib.tasks.tabular.Problem
    template: str = ""  # a spec competition's notebook template: "tabular", "text" or "image"
    inputs: Mapping[str, Any] = field(default_factory=dict)  # what its template reads: text_columns, image_dir, ...
    code_competition: bool = False  # Kaggle scores a notebook's output, not an uploaded file: see `kit kernel`
    daily_limit: int | None = None  # submissions a day the platform takes (None: not known; Kaggle is asked)
    rows: Rows | None = None  # folds, labelled and test rows (kit folds, kit import); None: from tabular, or none
    no_folds: str = ""  # why there is no fold assignment to share (the recommender's leave-last-out split)

    def folds(self, data_dir: str | Path | None = None, n_folds: int | None = None, fold_seed: int | None = None,
              smoke: bool = False, params: dict[str, Any] | None = None) -> Any:
        """The fold assignment of this competition (a pandas DataFrame): the key columns of every unit its notebook
        cross-validates and its ``fold``, in the competition's order (the smoke subset when ``smoke``; a hold-out
        is fold 0, rows that only train -1). What is not given comes from the notebook's parameters cell;
        ``params``: the further notebook parameters its rows read (:attr:`.rows.Rows.params`). Raises
        ``ParameterError`` for a competition without folds (the reason) or a setting it cannot take."""
        from .rows import fold_table

        return fold_table(self, data_dir, n_folds, fold_seed, smoke, params)

    def code_competition_refusal(self, path: str | Path) -> str:
        """What ``kit submit --upload`` says when refusing to upload ``path`` to this code competition."""
        return (f"{self.name} is a Kaggle code competition: Kaggle scores the submission.csv a notebook writes while "
                f"it runs on Kaggle, and refuses an uploaded file such as {path}. Nothing was sent. Build and push the "
                f"notebook instead: `kit kernel {self.name} --push` (--checkpoints RUN predicts with a trained run)")

    @property
    def notebook_path(self) -> Path:
        return ROOT / (self.notebook or f"notebooks/{self.name}.ipynb")  # an absolute notebook stays as it is

    @property
    def demo_dir(self) -> Path:
        return ROOT / "data" / "demo" / self.name

    @property
    def default_data_dir(self) -> Path:
        """Where an empty ``data_dir`` points off Kaggle: the recorded data folder, else the demo set."""
        return Path(self.data_dir) if self.data_dir else self.demo_dir

    def resolve_data_dir(self, data_dir: str | Path | None) -> Path:
        """The folder with this competition's files: ``data_dir``, or when it is empty the recorded data folder
        of a spec competition (``/kaggle/input/<slug>`` first on Kaggle), else the demo set (see
        :func:`kitlib.data.resolve_data_dir`). A relative path that is not below the working directory is
        taken from the project folder (in Jupyter the kernel works in ``notebooks/``, while
        ``data/<name>`` is written from the project). Raises ``DataError`` when the folder does not exist."""
        from ..data import resolve_data_dir
        from ..runtime import KAGGLE_INPUT, on_kaggle

        given = Path(str(data_dir)).expanduser() if data_dir not in (None, "", "demo") else None
        if (given is not None and not given.is_absolute() and not given.exists() and not on_kaggle()
                and (project_dir() / given).exists()):
            data_dir = project_dir() / given
        if data_dir in (None, "") and self.data_dir:
            kaggle_input = KAGGLE_INPUT / self.slug
            data_dir = kaggle_input if on_kaggle() and kaggle_input.is_dir() else self.data_dir
        return resolve_data_dir(data_dir, demo_dir=self.demo_dir, write_demo=self.demo, kaggle_slug=self.slug)


def competition_name(competition: str | Competition | None) -> str | None:
    """The name of ``competition`` (a name or a :class:`Competition`, which every function taking a competition
    accepts); ``None`` for none or an empty name."""
    if competition is None or competition == "":
        return None
    return competition.name if isinstance(competition, Competition) else str(competition)
