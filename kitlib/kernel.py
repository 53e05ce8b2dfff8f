"""Kaggle code competitions: turn a competition's notebook into a Kaggle kernel that runs offline.

:func:`build_bundle` writes a folder that ``kaggle kernels push`` (and :func:`push_bundle`) understands::

    <out_dir>/
        kernel-metadata.json                  id <user>/<competition>-kit, title, code_file, language python,
                                              kernel_type notebook, competition_sources [slug],
                                              dataset_sources [<user>/kitlib], enable_gpu, enable_internet false
        <competition>.ipynb                   the notebook: parameters baked in by papermill (an
                                              "injected-parameters" cell after the "parameters" cell; nothing
                                              executed, no outputs) and a first code cell tagged
                                              "kit-bootstrap" that makes kitlib importable on Kaggle
        kitlib-dataset/                       the private Kaggle dataset <user>/kitlib
            dataset-metadata.json
            kitlib-<version>-py3-none-any.whl kitlib's own files as a pure-Python wheel (built here, no pip)
        datasets/<slug>/                      one private Kaggle dataset <user>/<slug> per attached folder: the
            dataset-metadata.json             default text model (all-minilm-l6-v2, always), --model, --checkpoints
            ... the folder's files            (a run's checkpoints/), --dataset; files linked, not copied
        bundle.json                           what is attached (source folder, dataset, mount path), notes, and
                                              every path the kit wrote (the only ones a rebuild removes)

How kitlib reaches an offline kernel (the choice): a Kaggle *dataset* holding one wheel file. A dataset is
what a kernel can attach offline (``dataset_sources``), a wheel is one file that Kaggle should store as it
is (it unpacks uploaded ``.zip`` archives; the bootstrap also copes if it unpacked the wheel), and it is what
``pip install --no-index`` takes should a user prefer that. The bootstrap cell does nothing unless
``KAGGLE_KERNEL_RUN_TYPE`` is set; on Kaggle it finds the wheel under ``/kaggle/input`` (``kitlib/`` first,
then up to three folder levels down, else a folder holding ``kitlib/``), extracts it into
``<tempdir>/kitlib-bundle``, puts that first on ``sys.path`` (no pip run, well under a second) and sets
``KIT_RUNS_DIR=/kaggle/working/runs`` so the run record is part of the kernel's output; a competition written by
``kit new`` gets its spec (and its features module) written into a project folder there. The kernel uses the
packages of Kaggle's image (a baked setting that needs one it lacks, such as ``bm25s`` or ``faiss-cpu``, is named
in the bundle's notes when it is built); models and data travel as datasets: the offline all-MiniLM-L6-v2 (a pip
package here, missing there) always, found by the bootstrap and named in ``KIT_DEFAULT_MODEL``; ``model`` (``--model
DIR``) and ``checkpoints`` (``--checkpoints RUN``: a run's ``checkpoints/`` folder, so the kernel predicts without
training) are baked in as ``/kaggle/input/<slug>``, which :func:`kitlib.runtime.input_path` finds wherever Kaggle
mounts the dataset.

On Kaggle, ``Competition.resolve_data_dir("")`` finds the competition's files in ``/kaggle/input/<slug>``, and
:func:`kitlib.runtime.kaggle_output_path` names ``/kaggle/working/<file>``, where Kaggle takes a code competition's
``submission.csv`` from.

:func:`push_bundle` uploads the kitlib dataset (new, or a new version), waits until Kaggle has processed it,
then every attached dataset the same way (folders with sub-folders uploaded with the client's ``dir_mode="zip"``,
which Kaggle unpacks), then pushes the kernel through the kaggle client's ``kernels_push``.

Imports only the standard library and kitlib's light modules at module level;
papermill, nbformat and the kaggle client are imported inside the functions that need them.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .competitions import COMPETITIONS, get_competition
from .errors import ParameterError, UploadError
from .kernel_files import BundleFiles
from .runtime import (
    DEFAULT_MODEL_ENV,
    KAGGLE_INPUT,
    KAGGLE_INPUT_ENV,
    KAGGLE_RUN_ENV,
    KAGGLE_WORKING,
    PROJECT_DIR_ENV,
    RUNS_DIR_ENV,
    runs_dir,
)
from .wheel import build_wheel, kitlib_version  # noqa: F401  (kitlib.kernel.build_wheel as before)

DATASET_SLUG = "kitlib"
DATASET_TITLE = "kitlib competition kit"
DATASET_DIR = "kitlib-dataset"
BOOTSTRAP_TAG = "kit-bootstrap"
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,49}")  # fullmatch: '$' also matched before a final newline
DATASETS_DIR = "datasets"
DEFAULT_MODEL_SLUG = "all-minilm-l6-v2"
# a baked parameter value that needs a package Kaggle's image lacks -> the package
MISSING_ON_KAGGLE = {("retrieval_method", "bm25"): "bm25s", ("retrieval_method", "embedding"): "faiss-cpu"}


# --------------------------------------------------------------------------------------- bundle
def kernel_slug(competition: str) -> str:
    """The kernel's slug for ``competition``: ``<competition>-kit`` (what Kaggle makes of its title)."""
    return f"{competition}-kit"


def build_bundle(competition: str, params: dict, out_dir: Path, username: str | None = None, *,
                 model: str | os.PathLike | None = None, datasets: Sequence[str | os.PathLike] = (),
                 checkpoints: str | os.PathLike | None = None, force: bool = False) -> Path:
    """Build the Kaggle kernel bundle of ``competition`` in ``out_dir`` (layout in the module docstring).

    ``model`` (a model folder) is attached and baked in as the ``model`` parameter; ``checkpoints`` (a run id,
    run folder or ``checkpoints`` folder) is attached and baked in as ``checkpoints``, so the kernel predicts
    with those fold models and trains nothing; each of ``datasets`` is attached as it is (its mount path is in
    ``bundle.json``). The default text model is attached (not for an image competition). Notes (a package missing
    from Kaggle's image, a corpus to attach) are written to ``bundle.json`` and issued as warnings.

    ``params`` maps notebook parameters to values (CLI strings are converted to the types declared in
    the notebook's parameters cell, as ``kit run`` does); they are baked into the notebook. ``device``
    decides the accelerator: ``"cuda"`` (or ``"cuda:N"``) sets ``enable_gpu``, anything else runs on CPU.
    ``username`` owns the kernel and the kitlib dataset; by default the one of the configured Kaggle
    credentials (``KAGGLE_USERNAME`` or ``kaggle.json``; no network call). The files an earlier bundle in
    ``out_dir`` recorded (``bundle.json``'s ``written``) are replaced and nothing else there is deleted; a non-empty
    ``out_dir`` without a ``bundle.json`` is refused unless ``force`` (:class:`kitlib.kernel_files.BundleFiles`).
    What an attached folder leaves out (links out of it, linked folders) and files over 1 GiB are said in the
    notes. Returns ``out_dir``.

    Raises :class:`ParameterError` for a competition not on Kaggle, a notebook without a ``parameters``
    cell, an unknown parameter or a value that does not fit its type, ``submit=True`` (an offline kernel
    cannot upload; Kaggle scores its output), no usable user name, a folder to attach that does not exist or
    holds a credential file, ``model``/``checkpoints`` for a notebook without that parameter, an ``out_dir`` that
    is a file, or a checkpoints folder whose ``run.json`` is not readable.
    """
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    from .execute import coerce_parameters, notebook_parameters

    comp = get_competition(competition)
    if comp.platform != "kaggle":
        on_kaggle = sorted(c.name for c in COMPETITIONS.values() if c.platform == "kaggle")
        raise ParameterError(f"kit kernel builds Kaggle notebooks, but {comp.name!r} is on platform "
                             f"{comp.platform!r}; expected one of {on_kaggle}")
    notebook = comp.notebook_path
    if not notebook.is_file():
        raise ParameterError(f"The notebook of {comp.name!r} does not exist: {notebook}")
    owner = _owner(username)
    known = notebook_parameters(notebook)
    if not known:
        raise ParameterError(f"{notebook} has no cell tagged 'parameters'; cannot bake parameters into it")
    text_model = getattr(comp, "template", "") != "image"  # an image notebook reads no text model
    attachments = _attachments(model, datasets, checkpoints, known, text_model)
    params = dict(params)
    for att in attachments:
        if att["param"]:
            params[att["param"]] = att["mount"]
    values = coerce_parameters(params, known)
    if values.get("submit") is True:
        raise ParameterError("submit must stay False in a Kaggle kernel: it runs offline, and Kaggle scores the "
                             "submission.csv it writes to /kaggle/working")
    device = str(values.get("device", known.get("device", {}).get("default", "")) or "").strip("'\"")

    out_dir = Path(out_dir)
    files = BundleFiles(out_dir, force)
    files.prepare()  # removes what an earlier bundle recorded there, nothing else
    dataset_dir = out_dir / DATASET_DIR
    dataset_dir.mkdir(parents=True, exist_ok=True)
    wheel = build_wheel(dataset_dir)
    files.written.append(f"{DATASET_DIR}/{wheel.name}")
    dataset_ref = f"{owner}/{DATASET_SLUG}"
    files.write_json(f"{DATASET_DIR}/dataset-metadata.json", {
        "title": DATASET_TITLE,
        "id": dataset_ref,
        "licenses": [{"name": "other"}],
        "description": "The kitlib package as a wheel, for offline Kaggle kernels built by `kit kernel`.",
    })

    nb = load_notebook_node(str(notebook))  # papermill's loader adds the per-cell metadata it relies on
    nb = parameterize_notebook(nb, values, comment="Parameters baked in by `kit kernel`")
    nb.metadata["papermill"] = nbformat.from_dict({"parameters": _jsonable(values)})
    for cell in nb.cells:
        for key in ("tags", "papermill"):  # drop the loader's empty placeholders again
            if not cell.metadata.get(key, True):
                del cell.metadata[key]
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    spec = (comp.name, Path(comp.source).read_text()) if comp.source else None
    features = Path(comp.source).with_name(f"{comp.name}_features.py") if comp.source else Path()
    module = features.read_text() if features.is_file() else None  # the competitor's features step, if any
    bootstrap = nbformat.v4.new_code_cell(bootstrap_source(wheel.name, owner, spec,
                                                           DEFAULT_MODEL_SLUG if text_model else None, module))
    bootstrap.metadata["tags"] = [BOOTSTRAP_TAG]
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
    nb.cells.insert(first_code, bootstrap)
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    code_file = f"{comp.name}.ipynb"
    nbformat.write(nb, files.path(code_file))

    for att in attachments:  # links only: the sources are never touched
        files.attach(Path(att["source"]), f"{DATASETS_DIR}/{att['slug']}")
        files.write_json(f"{DATASETS_DIR}/{att['slug']}/dataset-metadata.json", {
            "title": att["slug"], "id": f"{owner}/{att['slug']}", "licenses": [{"name": "other"}],
            "description": f"{att['role']} for the `kit kernel` notebook {comp.name}: {Path(att['source']).name}"})
        att["ref"] = f"{owner}/{att['slug']}"
    notes = _bundle_notes(values, known, attachments) + files.notes
    for note in notes:
        warnings.warn(note, stacklevel=2)

    slug = kernel_slug(comp.name)
    files.write_json("kernel-metadata.json", {
        "id": f"{owner}/{slug}",
        "title": f"{comp.name} kit",  # the client warns unless the title slugifies to the id's slug
        "code_file": code_file,
        "language": "python",
        "kernel_type": "notebook",
        "is_private": True,
        "enable_gpu": device.startswith("cuda"),
        "enable_tpu": False,
        "enable_internet": False,
        "dataset_sources": [dataset_ref, *(att["ref"] for att in attachments)],
        "competition_sources": [comp.slug],
        "kernel_sources": [],
        "model_sources": [],
    })
    files.record({"datasets": attachments, "notes": notes})
    return out_dir


def _dataset_slug(name: str) -> str:
    """A Kaggle dataset slug from a folder name: lower-case letters, digits and '-', 6 to 50 characters (the
    kaggle client's check)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:50].strip("-") or "data"
    return slug if len(slug) >= 6 else f"{slug}-files"[:50]


def _attachments(model, datasets, checkpoints, known: dict, text_model: bool = True) -> list[dict]:
    """What a bundle attaches: ``{role, source, slug, param, mount}`` per folder, the default text model first (unless
    ``text_model`` is false: an image competition's notebook)."""
    from .pretrained import default_model_path

    found = [("default text model", default_model_path(), DEFAULT_MODEL_SLUG, None)] if text_model else []
    if model:
        found.append(("model", Path(model), None, "model"))
    if checkpoints:
        folder = _checkpoints_folder(checkpoints)
        found.append(("checkpoints", folder, _dataset_slug(f"{folder.parent.name}-checkpoints"), "checkpoints"))
    found += [("dataset", Path(d), None, None) for d in datasets]
    out, slugs = [], set()
    for role, source, slug, param in found:
        source = Path(source).expanduser().absolute()
        if not source.is_dir():
            raise ParameterError(f"kit kernel: the {role} folder {str(source)!r} does not exist; expected a folder to "
                                 "attach as a Kaggle dataset")
        if param and param not in known:
            raise ParameterError(f"kit kernel: --{param} needs a notebook parameter {param!r}; the notebook has "
                                 f"{sorted(known)}")
        slug = slug or _dataset_slug(source.name)
        while slug in slugs:
            slug = _dataset_slug(f"{slug}-{len(slugs)}")
        slugs.add(slug)
        out.append({"role": role, "source": str(source), "slug": slug, "param": param,
                    "mount": f"{KAGGLE_INPUT}/{slug}"})
    return out


def _checkpoints_folder(value) -> Path:
    """The ``checkpoints`` folder of a run id, a run folder or the folder itself (one holding ``fold*/``)."""
    for candidate in (Path(value).expanduser(), runs_dir() / str(value)):
        for folder in (candidate / "checkpoints", candidate):
            if folder.is_dir() and any(folder.glob("fold*")):
                return folder
    raise ParameterError(f"kit kernel --checkpoints {str(value)!r}: no checkpoints folder (fold<k>/ models) in that "
                         "run folder, under the runs folder, or there; expected a run id or folder of a run that "
                         "trained")


def _bundle_notes(values: dict, known: dict, attachments: list[dict]) -> list[str]:
    """What the kernel needs beyond the bundle: packages missing from Kaggle's image, a corpus to attach."""
    effective = {k: str(v.get("default", "")).strip("'\"") for k, v in known.items()}
    effective.update({k: str(v) for k, v in values.items()})
    record = {}
    for att in attachments:
        path = Path(att["source"]) / "run.json"
        if att["role"] == "checkpoints" and path.is_file():
            try:
                record = json.loads(path.read_text()).get("params", {})
            except (OSError, ValueError, AttributeError) as exc:
                raise ParameterError(f"{path}: not a readable run record ({type(exc).__name__}: {exc}); the "
                                     f"checkpoints folder needs the run.json its training run wrote") from None
            effective.update({k: str(v) for k, v in record.items()})  # the notebook takes these from the run
    notes = []
    for (name, value), package in MISSING_ON_KAGGLE.items():
        if effective.get(name) == value:
            notes.append(f"{name}={value} needs the package {package}, which Kaggle's image lacks: attach a dataset "
                         f"holding its wheel (`pip download {package} --no-deps -d DIR`, then --dataset DIR) and "
                         f"`pip install --no-index --find-links /kaggle/input/<slug> {package}` in a cell, or use "
                         f"-p {name} tfidf")
    if str(record.get("retrieval", "")).lower() == "true" and not values.get("corpus"):
        notes.append("the checkpoints were trained with retrieved context: unless the competition data holds a corpus/ "
                     "folder, attach the corpus with --dataset DIR and -p corpus /kaggle/input/<its slug>, or the "
                     "kernel predicts without context")
    return notes


def push_bundle(out_dir: Path) -> str:
    """Push the bundle in ``out_dir`` (made by :func:`build_bundle`) to Kaggle; return what Kaggle answered.

    First the kitlib dataset (``out_dir/kitlib-dataset``): created private, or given a new version, then
    awaited until Kaggle has processed it; then the kernel through the kaggle client's ``kernels_push``,
    which checks ``kernel-metadata.json`` itself. Returns ``"Kaggle saved version N of <id>: <url>"``
    followed by the dataset it attached, as a :class:`~kitlib.platforms.kaggle_push.KernelPush` (text with the
    kernel's ``ref`` and ``version``). Credentials as for :func:`kitlib.platforms.kaggle.upload_kaggle`.

    Raises :class:`UploadError` when ``out_dir`` is not a bundle, credentials are missing, the client
    rejects a metadata file, or Kaggle refuses or fails either push (with its answer).
    """
    from .platforms.kaggle_push import KernelPush, push_kaggle_dataset, push_kaggle_kernel

    out_dir = Path(out_dir)
    dataset_dir = out_dir / DATASET_DIR
    wheels = sorted(dataset_dir.glob("kitlib-*.whl"))
    missing = [p for p in (out_dir / "kernel-metadata.json", dataset_dir / "dataset-metadata.json") if not p.is_file()]
    if missing or len(wheels) != 1:
        raise UploadError(f"{out_dir} is not a complete kernel bundle (missing {[str(p) for p in missing]}, "
                          f"{len(wheels)} kitlib wheel(s) in {dataset_dir}; expected one); build it with "
                          "`kit kernel COMPETITION --out DIR` first. Nothing was sent.")
    digest = hashlib.sha256(wheels[0].read_bytes()).hexdigest()[:12]
    dataset_ref = push_kaggle_dataset(dataset_dir, f"{wheels[0].name} (sha256 {digest})")
    attached = []
    for folder in sorted(p for p in (out_dir / DATASETS_DIR).glob("*") if (p / "dataset-metadata.json").is_file()):
        nested = any(p.is_dir() for p in folder.iterdir())
        attached.append(push_kaggle_dataset(folder, f"attached by kit kernel ({folder.name})",
                                            dir_mode="zip" if nested else "skip"))
    answer = push_kaggle_kernel(out_dir)
    more = f"; attached {', '.join(attached)}" if attached else ""
    return KernelPush(f"{answer} (kitlib from dataset {dataset_ref}, {wheels[0].name}{more})", answer.ref,
                      answer.version)


def bootstrap_source(wheel_name: str, owner: str, spec: tuple[str, str] | None = None,
                     default_model: str | None = None, features: str | None = None) -> str:
    """The first code cell of a bundled notebook: on Kaggle, import kitlib from the attached wheel.

    ``wheel_name`` is the wheel's file name, ``owner`` the owner of the dataset ``<owner>/kitlib`` (named in
    the error raised when the wheel is not found). ``spec`` is ``(name, TOML text)`` of a competition written by
    ``kit new``: on Kaggle the cell writes it to ``<tempdir>/kit-project/competitions/<name>.toml`` and points
    ``KIT_PROJECT_DIR`` there, so the notebook finds its competition; ``features``, the text of its features module
    ``competitions/<name>_features.py``, is written beside it. ``default_model`` is the slug of the
    attached default text model: on Kaggle ``KIT_DEFAULT_MODEL`` names the folder where it is found. The cell
    also sets ``KIT_KAGGLE_INPUT`` to the inputs folder it searched. Off Kaggle the cell does nothing.
    """
    model = "" if default_model is None else f'''
    _models = [p.parent for pattern in ("", "*/", "*/*/", "*/*/*/")
               for p in sorted(_inputs.glob(pattern + "{default_model}/config.json"))]
    if _models:
        os.environ.setdefault("{DEFAULT_MODEL_ENV}", str(_models[0]))'''
    module = "" if spec is None or features is None else f'''
    (_project / "competitions" / {spec[0] + "_features.py"!r}).write_text({features!r})'''
    project = "" if spec is None else f'''
    _project = pathlib.Path(tempfile.gettempdir()) / "kit-project"
    (_project / "competitions").mkdir(parents=True, exist_ok=True)
    (_project / "competitions" / {spec[0] + ".toml"!r}).write_text({spec[1]!r}){module}
    os.environ["{PROJECT_DIR_ENV}"] = str(_project)'''
    return f'''# Added by `kit kernel`: on Kaggle (offline), import kitlib from the attached dataset
# {owner}/{DATASET_SLUG}.
# Anywhere else this cell does nothing.
import os, sys
if os.environ.get("{KAGGLE_RUN_ENV}"):
    import pathlib, tempfile, zipfile
    _inputs = pathlib.Path("{KAGGLE_INPUT}")
    _wheel = "{wheel_name}"
    _found = [p for pattern in ("{DATASET_SLUG}/" + _wheel, "*/" + _wheel, "*/*/" + _wheel, "*/*/*/" + _wheel)
              for p in sorted(_inputs.glob(pattern))]
    if _found:  # the wheel as uploaded: extract it and import from there
        _root = pathlib.Path(tempfile.gettempdir()) / "kitlib-bundle"
        with zipfile.ZipFile(_found[0]) as _zip:
            _zip.extractall(_root)
    else:  # Kaggle unpacked the wheel into a folder holding kitlib/
        _unpacked = sorted(_inputs.glob("*/kitlib/errors.py")) + sorted(_inputs.glob("*/*/kitlib/errors.py"))
        if not _unpacked:
            raise ModuleNotFoundError(f"kitlib: {{_wheel}} not found under {{_inputs}}; attach the dataset "
                                      "{owner}/{DATASET_SLUG} (`kit kernel --push` uploads it)")
        _root = _unpacked[0].parent.parent
    sys.path.insert(0, str(_root))
    os.environ.setdefault("{RUNS_DIR_ENV}", "{KAGGLE_WORKING}/runs")
    os.environ.setdefault("{KAGGLE_INPUT_ENV}", str(_inputs)){model}{project}
'''


# -------------------------------------------------------------------------------------- helpers
def _owner(username: str | None) -> str:
    """``username``, else the configured Kaggle user; checked to be a plain Kaggle user name."""
    if username is None:
        from .platforms.kaggle_push import kaggle_username

        username = kaggle_username()
        if username is None:
            raise ParameterError("Kaggle user name unknown: pass --username NAME, set KAGGLE_USERNAME, or save "
                                 "kaggle.json with your username and key (https://www.kaggle.com/settings/api)")
    if not _USERNAME.fullmatch(username):
        raise ParameterError(f"Kaggle user name {username!r} is not valid; expected letters, digits, '-' or '_'")
    return username


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with anything JSON cannot hold written as ``str`` (for the notebook's metadata)."""
    plain = (str, int, float, bool, type(None), list, dict)
    return {k: v if isinstance(v, plain) else str(v) for k, v in values.items()}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")
