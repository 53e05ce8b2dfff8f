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

How kitlib reaches an offline kernel (the choice): a Kaggle *dataset* holding one wheel file. A dataset is
what a kernel can attach offline (``dataset_sources``), a wheel is one file that Kaggle should store as it
is (it unpacks uploaded ``.zip`` archives; the bootstrap also copes if it unpacked the wheel), and it is what
``pip install --no-index`` takes should a user prefer that. The bootstrap cell does nothing unless
``KAGGLE_KERNEL_RUN_TYPE`` is set; on Kaggle it finds the wheel under ``/kaggle/input`` (``kitlib/`` first,
then up to three folder levels down, else a folder holding ``kitlib/``), extracts it into
``<tempdir>/kitlib-bundle``, puts that first on ``sys.path`` (no pip run, well under a second) and sets ``KIT_RUNS_DIR=/kaggle/working/runs`` so the run
record is part of the kernel's output. Only kitlib travels: the kernel uses the packages of Kaggle's image;
models it needs must be attached as Kaggle datasets or models and named through a parameter.

On Kaggle, ``Competition.resolve_data_dir("")`` finds the competition's files in ``/kaggle/input/<slug>``, and
:func:`kitlib.runtime.kaggle_output_path` names ``/kaggle/working/<file>``, where Kaggle takes a code competition's
``submission.csv`` from.

:func:`push_bundle` uploads the kitlib dataset (new, or a new version), waits until Kaggle has processed it,
then pushes the kernel through the kaggle client's ``kernels_push``.

Imports only the standard library and kitlib's light modules at module level;
papermill, nbformat and the kaggle client are imported inside the functions that need them.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

from .competitions import COMPETITIONS, ROOT, get_competition
from .errors import ParameterError, UploadError
from .runtime import KAGGLE_INPUT, KAGGLE_RUN_ENV, KAGGLE_WORKING

DATASET_SLUG = "kitlib"
DATASET_TITLE = "kitlib competition kit"
DATASET_DIR = "kitlib-dataset"
BOOTSTRAP_TAG = "kit-bootstrap"
PACKAGE_DIR = Path(__file__).resolve().parent
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same sources give the same wheel bytes
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


# --------------------------------------------------------------------------------------- bundle
def kernel_slug(competition: str) -> str:
    """The kernel's slug for ``competition``: ``<competition>-kit`` (what Kaggle makes of its title)."""
    return f"{competition}-kit"


def build_bundle(competition: str, params: dict, out_dir: Path, username: str | None = None) -> Path:
    """Build the Kaggle kernel bundle of ``competition`` in ``out_dir`` (layout in the module docstring).

    ``params`` maps notebook parameters to values (CLI strings are converted to the types declared in
    the notebook's parameters cell, as ``kit run`` does); they are baked into the notebook. ``device``
    decides the accelerator: ``"cuda"`` (or ``"cuda:N"``) sets ``enable_gpu``, anything else runs on CPU.
    ``username`` owns the kernel and the kitlib dataset; by default the one of the configured Kaggle
    credentials (``KAGGLE_USERNAME`` or ``kaggle.json``; no network call). Files of an earlier bundle in
    ``out_dir`` are replaced. Returns ``out_dir``.

    Raises :class:`ParameterError` for a competition not on Kaggle, a notebook without a ``parameters``
    cell, an unknown parameter or a value that does not fit its type, ``submit=True`` (an offline kernel
    cannot upload; Kaggle scores its output), or no usable user name.
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
    values = coerce_parameters(dict(params), known)
    if values.get("submit") is True:
        raise ParameterError("submit must stay False in a Kaggle kernel: it runs offline, and Kaggle scores the "
                             "submission.csv it writes to /kaggle/working")
    device = str(values.get("device", known.get("device", {}).get("default", "")) or "").strip("'\"")

    out_dir = Path(out_dir)
    dataset_dir = out_dir / DATASET_DIR
    dataset_dir.mkdir(parents=True, exist_ok=True)
    for old in dataset_dir.glob("kitlib-*.whl"):
        old.unlink()
    wheel = build_wheel(dataset_dir)
    dataset_ref = f"{owner}/{DATASET_SLUG}"
    _write_json(dataset_dir / "dataset-metadata.json", {
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
    bootstrap = nbformat.v4.new_code_cell(bootstrap_source(wheel.name, owner, spec))
    bootstrap.metadata["tags"] = [BOOTSTRAP_TAG]
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
    nb.cells.insert(first_code, bootstrap)
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    code_file = f"{comp.name}.ipynb"
    nbformat.write(nb, out_dir / code_file)

    slug = kernel_slug(comp.name)
    _write_json(out_dir / "kernel-metadata.json", {
        "id": f"{owner}/{slug}",
        "title": f"{comp.name} kit",  # the client warns unless the title slugifies to the id's slug
        "code_file": code_file,
        "language": "python",
        "kernel_type": "notebook",
        "is_private": True,
        "enable_gpu": device.startswith("cuda"),
        "enable_tpu": False,
        "enable_internet": False,
        "dataset_sources": [dataset_ref],
        "competition_sources": [comp.slug],
        "kernel_sources": [],
        "model_sources": [],
    })
    return out_dir


def push_bundle(out_dir: Path) -> str:
    """Push the bundle in ``out_dir`` (made by :func:`build_bundle`) to Kaggle; return what Kaggle answered.

    First the kitlib dataset (``out_dir/kitlib-dataset``): created private, or given a new version, then
    awaited until Kaggle has processed it; then the kernel through the kaggle client's ``kernels_push``,
    which checks ``kernel-metadata.json`` itself. Returns ``"Kaggle saved version N of <id>: <url>"``
    followed by the dataset it attached. Credentials as for :func:`kitlib.platforms.kaggle.upload_kaggle`.

    Raises :class:`UploadError` when ``out_dir`` is not a bundle, credentials are missing, the client
    rejects a metadata file, or Kaggle refuses or fails either push (with its answer).
    """
    from .platforms.kaggle import push_kaggle_dataset, push_kaggle_kernel

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
    answer = push_kaggle_kernel(out_dir)
    return f"{answer} (kitlib from dataset {dataset_ref}, {wheels[0].name})"


def bootstrap_source(wheel_name: str, owner: str, spec: tuple[str, str] | None = None) -> str:
    """The first code cell of a bundled notebook: on Kaggle, import kitlib from the attached wheel.

    ``wheel_name`` is the wheel's file name, ``owner`` the owner of the dataset ``<owner>/kitlib`` (named in
    the error raised when the wheel is not found). ``spec`` is ``(name, TOML text)`` of a competition written by
    ``kit new``: on Kaggle the cell writes it to ``<tempdir>/kit-project/competitions/<name>.toml`` and points
    ``KIT_PROJECT_DIR`` there, so the notebook finds its competition. Off Kaggle the cell does nothing.
    """
    project = "" if spec is None else f'''
    _project = pathlib.Path(tempfile.gettempdir()) / "kit-project"
    (_project / "competitions").mkdir(parents=True, exist_ok=True)
    (_project / "competitions" / {spec[0] + ".toml"!r}).write_text({spec[1]!r})
    os.environ["KIT_PROJECT_DIR"] = str(_project)'''
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
    os.environ.setdefault("KIT_RUNS_DIR", "{KAGGLE_WORKING}/runs"){project}
'''


# ---------------------------------------------------------------------------------------- wheel
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
        "Wheel-Version: 1.0\nGenerator: kitlib.kernel\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    ).encode()))
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


# -------------------------------------------------------------------------------------- helpers
def _owner(username: str | None) -> str:
    """``username``, else the configured Kaggle user; checked to be a plain Kaggle user name."""
    if username is None:
        from .platforms.kaggle import kaggle_username

        username = kaggle_username()
        if username is None:
            raise ParameterError("Kaggle user name unknown: pass --username NAME, set KAGGLE_USERNAME, or save "
                                 "kaggle.json with your username and key (https://www.kaggle.com/settings/api)")
    if not _USERNAME.match(username):
        raise ParameterError(f"Kaggle user name {username!r} is not valid; expected letters, digits, '-' or '_'")
    return username


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with anything JSON cannot hold written as ``str`` (for the notebook's metadata)."""
    plain = (str, int, float, bool, type(None), list, dict)
    return {k: v if isinstance(v, plain) else str(v) for k, v in values.items()}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")
