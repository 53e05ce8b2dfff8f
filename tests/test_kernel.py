"""``kit kernel``: the Kaggle notebook bundle (baked parameters, bundled kitlib, metadata the kaggle client
accepts) and its push through the REAL kaggle client to the local stand-in server of ``kaggle_stub``.

The competition's notebook is replaced by a small one written here (the real notebooks are tested by
``test_notebooks.py``). "On Kaggle" is imitated in a subprocess: ``KAGGLE_KERNEL_RUN_TYPE`` set, the
bundle's dataset copied under a folder standing in for ``/kaggle/input``, and kitlib NOT importable from
this checkout, so the notebook can only import the bundled copy.
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from kaggle_stub import (  # noqa: F401  (fixtures are used by name)
    BLOBS,
    DATASETS,
    KAGGLE_SERVICE,
    KERNELS,
    Seen,
    StubPlatform,
    kaggle_client,
    kaggle_credentials,
    kaggle_server,
    no_network,
)

from kitlib import competitions, kernel
from kitlib.errors import ParameterError, UploadError
from kitlib.platforms import kaggle_push as kaggle_platform

ROOT = Path(__file__).resolve().parent.parent
COMPETITION = "llm-science-exam"
SLUG = competitions.COMPETITIONS[COMPETITION].slug

PARAMETERS = '''n_trials: int = 20  # Optuna trials
data_dir: str = ""  # folder with the competition files; "" means the embedded demo set
seed: int = 0
smoke: bool = False  # tiny and fast, for tests
device: str = "auto"  # "auto", "cpu" or "cuda"
submit: bool = False  # upload the submission
track: str = "none"  # "none" or "wandb"
model: str = ""  # a model folder
checkpoints: str = ""  # a training run to predict with'''

REPORT = '''import kitlib.competitions, kitlib.kernel, kitlib.pretrained, kitlib.runtime
print("KITLIB", kitlib.competitions.__file__)
print("MODEL", kitlib.pretrained.resolve_model(model or None))
print("DEFAULT", kitlib.pretrained.default_model_path())
print("CHECKPOINTS", kitlib.runtime.input_path(checkpoints) if checkpoints else None)
print("PARAMS", n_trials, repr(device), smoke, repr(data_dir))
print("RUNS", os.environ.get("KIT_RUNS_DIR"))'''


@pytest.fixture
def notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small parameterised notebook standing in for the competition's own."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell(PARAMETERS)
    params.metadata["tags"] = ["parameters"]
    ran = nbformat.v4.new_code_cell("print('ran before')")
    ran.outputs = [nbformat.v4.new_output("stream", text="ran before\n")]
    ran.execution_count = 3
    nb.cells = [nbformat.v4.new_markdown_cell("# Demo\nRun with `kit run ...`."), params,
                nbformat.v4.new_code_cell(REPORT), ran]
    path = tmp_path / "src" / "demo.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    model = tmp_path / "default-model"  # a stand-in for the offline MiniLM, always attached (small uploads)
    (model / "1_Pooling").mkdir(parents=True)
    (model / "config.json").write_text('{"model_type": "bert"}')
    (model / "1_Pooling" / "config.json").write_text("{}")
    monkeypatch.setenv("KIT_DEFAULT_MODEL", str(model))
    comp = dataclasses.replace(competitions.COMPETITIONS[COMPETITION], notebook=str(path))
    monkeypatch.setitem(competitions.COMPETITIONS, COMPETITION, comp)
    return path


def build(tmp_path: Path, params: dict | None = None, username: str | None = "ada") -> Path:
    return kernel.build_bundle(COMPETITION, params or {}, tmp_path / "bundle", username=username)


# ---------------------------------------------------------------------------------------- bundle
def test_bundle_metadata_and_files(notebook: Path, tmp_path: Path) -> None:
    out = build(tmp_path, {"n_trials": "3", "smoke": "true", "device": "cuda"})

    assert out == tmp_path / "bundle"
    meta = json.loads((out / "kernel-metadata.json").read_text())
    assert meta == {
        "id": "ada/llm-science-exam-kit",
        "title": "llm-science-exam kit",
        "code_file": "llm-science-exam.ipynb",
        "language": "python",
        "kernel_type": "notebook",
        "is_private": True,
        "enable_gpu": True,
        "enable_tpu": False,
        "enable_internet": False,
        "dataset_sources": ["ada/kitlib", "ada/all-minilm-l6-v2"],
        "competition_sources": [SLUG],
        "kernel_sources": [],
        "model_sources": [],
    }
    model = json.loads((out / "datasets" / "all-minilm-l6-v2" / "dataset-metadata.json").read_text())
    assert model["id"] == "ada/all-minilm-l6-v2" and (out / "datasets" / "all-minilm-l6-v2" / "1_Pooling").is_dir()
    dataset = json.loads((out / "kitlib-dataset" / "dataset-metadata.json").read_text())
    assert dataset["id"] == "ada/kitlib" and 6 <= len(dataset["title"]) <= 50 and len(dataset["licenses"]) == 1
    assert [p.name for p in (out / "kitlib-dataset").iterdir() if p.suffix == ".whl"] == [
        f"kitlib-{kernel.kitlib_version()}-py3-none-any.whl"
    ]


def test_parameters_are_baked_in_without_executing(notebook: Path, tmp_path: Path) -> None:
    out = build(tmp_path, {"n_trials": "3", "smoke": True})

    nb = nbformat.read(out / "llm-science-exam.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    tags = [c.metadata.get("tags", []) for c in code]
    assert tags == [["kit-bootstrap"], ["parameters"], ["injected-parameters"], [], []]
    assert code[1].source == PARAMETERS  # the defaults stay visible; papermill's cell overrides them
    injected = code[2].source
    assert "n_trials = 3\n" in injected and "smoke = True\n" in injected
    assert "device" not in injected  # only what was given is baked in
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert nb.cells[0].cell_type == "markdown"  # the title stays on top
    assert nb.metadata.kernelspec.name == "python3"


def test_unchanged_sources_give_the_same_wheel(notebook: Path, tmp_path: Path) -> None:
    first = kernel.build_wheel(tmp_path / "a").read_bytes()
    second = kernel.build_wheel(tmp_path / "b").read_bytes()
    assert first == second


def test_wheel_holds_kitlib_with_a_valid_record(tmp_path: Path) -> None:
    wheel = kernel.build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as zipped:
        names = set(zipped.namelist())
        dist_info = f"kitlib-{kernel.kitlib_version()}.dist-info"
        record = zipped.read(f"{dist_info}/RECORD").decode().splitlines()
        contents = {name: zipped.read(name) for name in names}
    expected = {
        f"kitlib/{p.relative_to(ROOT / 'kitlib').as_posix()}" for p in (ROOT / "kitlib").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert expected <= names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert {f"{dist_info}/METADATA", f"{dist_info}/WHEEL", f"{dist_info}/RECORD"} <= names
    assert len(record) == len(names)
    for line in record:
        name, digest, size = line.rsplit(",", 2)
        if name.endswith("/RECORD"):
            continue
        data = contents[name]
        assert digest == "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert int(size) == len(data)


@pytest.mark.parametrize("layout", ["wheel", "unpacked"])
def test_bundled_notebook_imports_kitlib_offline_on_kaggle(notebook: Path, tmp_path: Path, layout: str) -> None:
    out = build(tmp_path, {"n_trials": "3", "device": "cpu"})
    nb = nbformat.read(out / "llm-science-exam.ipynb", as_version=4)
    inputs, working, temp = tmp_path / "kaggle" / "input", tmp_path / "kaggle" / "working", tmp_path / "tmp"
    (inputs / "kitlib").mkdir(parents=True)
    (inputs / SLUG).mkdir()
    working.mkdir()
    temp.mkdir()
    (wheel,) = (out / "kitlib-dataset").glob("*.whl")
    if layout == "wheel":
        (inputs / "kitlib" / wheel.name).write_bytes(wheel.read_bytes())
    else:  # as if Kaggle had unpacked the upload into a folder
        with zipfile.ZipFile(wheel) as zipped:
            zipped.extractall(inputs / "kitlib" / "unpacked")
    shutil.copytree(out / "datasets" / "all-minilm-l6-v2", inputs / "all-minilm-l6-v2")
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert '"/kaggle/input"' in code[0] and '"/kaggle/working/runs"' in code[0]
    code[0] = code[0].replace('"/kaggle/input"', repr(str(inputs))).replace(
        '"/kaggle/working/runs"', repr(str(working / "runs")))
    script = (
        "import sys\n"  # imitate Kaggle, where kitlib is not installed: drop this checkout's editable finder
        "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in type(f).__module__.lower()]\n"
        + "\n".join(code)
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIT_", "PYTHON"))}
    env.update(KAGGLE_KERNEL_RUN_TYPE="Batch", TMPDIR=str(temp))
    done = subprocess.run([sys.executable, "-c", script], cwd=working, env=env, capture_output=True, text=True,
                          timeout=60)

    assert done.returncode == 0, done.stderr
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    bundled_root = temp / "kitlib-bundle" if layout == "wheel" else inputs / "kitlib" / "unpacked"
    assert lines["KITLIB"] == str(bundled_root / "kitlib" / "competitions" / "__init__.py")
    assert lines["PARAMS"] == "3 'cpu' False ''"
    assert lines["RUNS"] == str(working / "runs")
    assert lines["DEFAULT"] == lines["MODEL"] == str(inputs / "all-minilm-l6-v2")  # the package is not needed


def test_bootstrap_cell_does_nothing_off_kaggle(notebook: Path, tmp_path: Path) -> None:
    out = build(tmp_path)
    nb = nbformat.read(out / "llm-science-exam.ipynb", as_version=4)
    script = nb.cells[1].source + "\nprint(len(sys.path), os.environ.get('KIT_RUNS_DIR'))"
    env = {k: v for k, v in os.environ.items() if k not in ("KAGGLE_KERNEL_RUN_TYPE", "KIT_RUNS_DIR")}
    reference = subprocess.run([sys.executable, "-c", "import sys; print(len(sys.path), None)"], env=env,
                               capture_output=True, text=True, timeout=60)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == reference.stdout


def test_bootstrap_names_the_dataset_when_it_is_not_attached(notebook: Path, tmp_path: Path) -> None:
    out = build(tmp_path)
    nb = nbformat.read(out / "llm-science-exam.ipynb", as_version=4)
    inputs = tmp_path / "empty-input"
    inputs.mkdir()
    script = nb.cells[1].source.replace('"/kaggle/input"', repr(str(inputs)))
    env = {**os.environ, "KAGGLE_KERNEL_RUN_TYPE": "Interactive"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "ModuleNotFoundError" in done.stderr and "attach the dataset ada/kitlib" in done.stderr


def test_rebuilding_replaces_the_previous_wheel(notebook: Path, tmp_path: Path) -> None:
    out = build(tmp_path)
    stale = out / "kitlib-dataset" / "kitlib-0.0.0a0-py3-none-any.whl"  # as an earlier kitlib version built it
    stale.write_bytes(b"old")
    record = json.loads((out / "bundle.json").read_text())
    (out / "bundle.json").write_text(json.dumps({**record, "written": [*record["written"], stale.relative_to(out)
                                                                       .as_posix()]}))
    build(tmp_path)
    assert len(list((out / "kitlib-dataset").glob("*.whl"))) == 1 and not stale.exists()


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"n_trails": 3},
         r"Unknown parameter 'n_trails' .*\['checkpoints', 'data_dir', 'device', 'model', 'n_trials', 'seed', 'smoke', "
         r"'submit', 'track'\]"),
        ({"n_trials": "many"}, r"Parameter 'n_trials' is declared int; cannot read 'many'"),
        ({"submit": "true"}, r"submit must stay False in a Kaggle kernel"),
    ],
)
def test_bad_parameters_are_refused(notebook: Path, tmp_path: Path, params: dict, error: str) -> None:
    with pytest.raises(ParameterError, match=error):
        build(tmp_path, params)
    assert not (tmp_path / "bundle" / "kernel-metadata.json").exists()


def test_only_kaggle_competitions(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=r"'somd-ner' is on platform 'local'; expected one of \['llm-science"):
        kernel.build_bundle("somd-ner", {}, tmp_path / "bundle", username="ada")


def test_username_from_credentials(notebook: Path, tmp_path: Path, kaggle_client: type,
                                   monkeypatch: pytest.MonkeyPatch, no_network: list[object]) -> None:
    with pytest.raises(ParameterError, match=r"Kaggle user name unknown: pass --username NAME, set KAGGLE_USERNAME"):
        build(tmp_path, username=None)

    config = tmp_path / "kaggle" / "kaggle.json"
    config.parent.mkdir(exist_ok=True)
    config.write_text(json.dumps({"username": "grace", "key": "k"}))
    config.chmod(0o600)
    meta = json.loads((build(tmp_path, username=None) / "kernel-metadata.json").read_text())
    assert meta["id"] == "grace/llm-science-exam-kit" and meta["dataset_sources"][0] == "grace/kitlib"

    monkeypatch.setenv("KAGGLE_USERNAME", "ada")
    meta = json.loads((build(tmp_path, username=None) / "kernel-metadata.json").read_text())
    assert meta["id"] == "ada/llm-science-exam-kit"
    assert no_network == []

    with pytest.raises(ParameterError, match=r"Kaggle user name 'ada/x' is not valid"):
        build(tmp_path, username="ada/x")


# ------------------------------------------------------------------------------------------ push
@pytest.fixture
def kaggle_push(kaggle_server: StubPlatform, kaggle_credentials: tuple[str, str]) -> StubPlatform:
    """The stand-in server with the dataset, blob and kernel routes; the kitlib dataset does not exist yet."""
    state = {"created": False, "slugs": set()}  # created: every dataset exists already

    def status(request: Seen) -> tuple:
        if not state["created"] and request.json().get("datasetSlug") not in state["slugs"]:
            return 404, {"code": 404, "message": "Dataset not found"}
        return 200, {"status": "READY"}

    def create(request: Seen) -> tuple:
        state["slugs"].add(request.json()["slug"])
        return 200, {"ref": f"ada/{request.json()['slug']}", "url": "https://www.kaggle.com/datasets/ada/x",
                     "status": "ok"}

    base = kaggle_server.base_url
    kaggle_server.routes.update({
        ("POST", f"{DATASETS}/GetDatasetStatus"): status,
        ("POST", f"{BLOBS}/StartBlobUpload"): lambda r: (200, {"token": "wheel-9",
                                                                "createUrl": f"{base}/blob/wheel-9"}),
        ("PUT", "/blob/wheel-9"): lambda r: (200, {}),
        ("POST", f"{DATASETS}/CreateDataset"): create,
        ("POST", f"{DATASETS}/CreateDatasetVersion"): lambda r: (200, {"ref": "ada/kitlib", "status": "ok"}),
        ("POST", f"{KERNELS}/SaveKernel"): lambda r: (200, {
            "ref": "ada/llm-science-exam-kit", "url": "https://www.kaggle.com/code/ada/llm-science-exam-kit",
            "versionNumber": 1}),
    })
    kaggle_server.state = state
    return kaggle_server


def test_push_creates_the_dataset_then_the_kernel(notebook: Path, tmp_path: Path, kaggle_push: StubPlatform) -> None:
    out = build(tmp_path, {"n_trials": "3"})
    (wheel,) = (out / "kitlib-dataset").glob("*.whl")

    answer = kernel.push_bundle(out)

    assert answer == (
        "Kaggle saved version 1 of ada/llm-science-exam-kit: https://www.kaggle.com/code/ada/llm-science-exam-kit "
        f"(kitlib from dataset ada/kitlib, {wheel.name}; attached ada/all-minilm-l6-v2)"
    )
    order = [r.path.rsplit("/", 1)[-1] for r in kaggle_push.seen]
    assert order[-1] == "SaveKernel" and order.index("CreateDataset") < order.index("SaveKernel")
    assert "CreateDatasetVersion" not in order
    blobs = [b.json()["name"] for b in kaggle_push.requests_to("POST", f"{BLOBS}/StartBlobUpload")]
    assert blobs[0] == wheel.name and sorted(blobs[1:]) == ["1_Pooling.zip", "config.json"]  # the model: zipped folder
    puts = kaggle_push.requests_to("PUT", "/blob/wheel-9")
    assert puts[0].body == wheel.read_bytes()
    creates = kaggle_push.requests_to("POST", f"{DATASETS}/CreateDataset")
    assert [c.json()["slug"] for c in creates] == ["kitlib", "all-minilm-l6-v2"]
    body = creates[0].json()
    assert (body["ownerSlug"], body["slug"], body["isPrivate"]) == ("ada", "kitlib", True)
    assert body["files"] == [{"token": "wheel-9"}]

    (save,) = kaggle_push.requests_to("POST", f"{KERNELS}/SaveKernel")
    sent = save.json()
    assert sent["slug"] == "ada/llm-science-exam-kit"
    assert sent["newTitle"] == "llm-science-exam kit"
    assert (sent["language"], sent["kernelType"]) == ("python", "notebook")
    assert sent["enableInternet"] is False and sent["enableGpu"] is False and sent["isPrivate"] is True
    assert sent["datasetDataSources"] == ["ada/kitlib", "ada/all-minilm-l6-v2"]
    assert sent["competitionDataSources"] == [SLUG]
    sent_nb = json.loads(sent["text"])
    injected = next(c for c in sent_nb["cells"] if "injected-parameters" in c["metadata"].get("tags", []))
    assert "n_trials = 3" in injected["source"]


def test_push_adds_a_version_to_an_existing_dataset(notebook: Path, tmp_path: Path, kaggle_push: StubPlatform) -> None:
    kaggle_push.state["created"] = True
    out = build(tmp_path)

    kernel.push_bundle(out)

    version, model = kaggle_push.requests_to("POST", f"{DATASETS}/CreateDatasetVersion")
    assert version.json()["ownerSlug"] == "ada" and version.json()["datasetSlug"] == "kitlib"
    assert model.json()["datasetSlug"] == "all-minilm-l6-v2"
    assert version.json()["body"]["versionNotes"].startswith("kitlib-")
    assert not kaggle_push.requests_to("POST", f"{DATASETS}/CreateDataset")
    assert kaggle_push.requests_to("POST", f"{KERNELS}/SaveKernel")


def test_push_waits_until_the_dataset_is_processed(notebook: Path, tmp_path: Path, kaggle_push: StubPlatform,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    kaggle_push.state["created"] = True
    # the existence check before the upload, then polls until the new version is processed
    sequence = ["READY", "BLOBS_RECEIVED", "BLOBS_DECOMPRESSED", "READY"]
    answers = iter(sequence)
    replies = []

    def status(request: Seen) -> tuple:
        replies.append(next(answers, "READY"))
        return 200, {"status": replies[-1]}

    kaggle_push.routes[("POST", f"{DATASETS}/GetDatasetStatus")] = status
    monkeypatch.setattr(kaggle_platform, "DATASET_POLL_S", 0.0)

    kernel.push_bundle(build(tmp_path))

    assert replies[:4] == sequence and replies[4:] == ["READY", "READY"]  # then the model's check and wait
    calls = [r.path.rsplit("/", 1)[-1] for r in kaggle_push.seen]
    assert calls[calls.index("CreateDatasetVersion"):][:4] == ["CreateDatasetVersion", "GetDatasetStatus",
                                                              "GetDatasetStatus", "GetDatasetStatus"]
    assert calls[-2:] == ["GetDatasetStatus", "SaveKernel"]  # the attached model too was awaited


@pytest.mark.parametrize(
    ("status", "timeout", "error"),
    [("FAILED", 600.0, r"could not process the new version \(status 'failed'\)"),
     ("BLOBS_RECEIVED", 0.0, r"still 'blobs_received' after 0 s; check https://www.kaggle.com/datasets/ada/kitlib")],
)
def test_push_stops_when_the_dataset_does_not_get_ready(notebook: Path, tmp_path: Path, kaggle_push: StubPlatform,
                                                        monkeypatch: pytest.MonkeyPatch, status: str, timeout: float,
                                                        error: str) -> None:
    kaggle_push.routes[("POST", f"{DATASETS}/GetDatasetStatus")] = lambda r: (200, {"status": status})
    monkeypatch.setattr(kaggle_platform, "DATASET_READY_TIMEOUT_S", timeout)
    with pytest.raises(UploadError, match=error):
        kernel.push_bundle(build(tmp_path))
    assert not kaggle_push.requests_to("POST", f"{KERNELS}/SaveKernel")  # no kernel without its kitlib


@pytest.mark.parametrize(
    ("route", "reply", "error"),
    [
        (f"{KERNELS}/SaveKernel", (200, {"error": "Notebook exceeds the size limit"}),
         r"Kaggle answered: Notebook exceeds the size limit"),
        (f"{KERNELS}/SaveKernel", (403, {"code": 403, "message": "Permission denied"}),
         r"HTTP 403 .*SaveKernel: .*Permission denied"),
        (f"{KERNELS}/SaveKernel", (200, {"ref": "ada/llm-science-exam-kit", "url": "https://k/x", "versionNumber": 2,
                                         "invalidDatasetSources": ["ada/kitlib"]}),
         r"saved version 2 .* could not attach .*datasets: \['ada/kitlib'\]"),
        (f"{DATASETS}/CreateDataset", (200, {"status": "error", "error": "The slug is already in use"}),
         r"dataset push .* Kaggle answered: The slug is already in use"),
        (f"{DATASETS}/GetDatasetStatus", (500, {"code": 500, "message": "Backend unavailable"}),
         r"dataset push .*HTTP 500 .*Backend unavailable"),
    ],
)
def test_push_failures_raise_with_the_answer(notebook: Path, tmp_path: Path, kaggle_push: StubPlatform,
                                             route: str, reply: tuple, error: str) -> None:
    kaggle_push.routes[("POST", route)] = lambda r: reply
    with pytest.raises(UploadError, match=error):
        kernel.push_bundle(build(tmp_path))


def test_client_checks_metadata_before_sending(notebook: Path, tmp_path: Path, kaggle_push: StubPlatform) -> None:
    kaggle_push.state["created"] = True
    out = build(tmp_path)
    meta = json.loads((out / "kernel-metadata.json").read_text())
    (out / "kernel-metadata.json").write_text(json.dumps({**meta, "title": "kit"}))

    with pytest.raises(UploadError, match=r"refused .*kernel-metadata.json: Title must be at least five characters"):
        kernel.push_bundle(out)
    assert not kaggle_push.requests_to("POST", f"{KERNELS}/SaveKernel")


def test_client_warning_reaches_the_answer(notebook: Path, tmp_path: Path, kaggle_push: StubPlatform) -> None:
    """kernels_push prints a warning when the title does not slugify to the id: ours does, a renamed one not."""
    kaggle_push.state["created"] = True
    out = build(tmp_path)
    assert "Client output" not in kernel.push_bundle(out)

    meta = json.loads((out / "kernel-metadata.json").read_text())
    (out / "kernel-metadata.json").write_text(json.dumps({**meta, "title": "Science exam, take two"}))
    assert "does not resolve to the specified id" in kernel.push_bundle(out)


def test_push_needs_a_complete_bundle(tmp_path: Path, no_network: list[object]) -> None:
    with pytest.raises(UploadError, match=r"is not a complete kernel bundle .*Nothing was sent"):
        kernel.push_bundle(tmp_path)
    assert no_network == []


def test_push_without_credentials(notebook: Path, tmp_path: Path, kaggle_client: type,
                                  no_network: list[object]) -> None:
    out = build(tmp_path)
    with pytest.raises(UploadError, match=r"No Kaggle credentials found"):
        kernel.push_bundle(out)
    assert no_network == []


def test_kit_kernel_command(notebook: Path, tmp_path: Path, kaggle_push: StubPlatform,
                            capsys: pytest.CaptureFixture[str]) -> None:
    from kitlib.cli import main

    out = tmp_path / "bundle"
    status = main(["kernel", COMPETITION, "-p", "n_trials", "3", "-p", "device", "cuda", "--out", str(out),
                   "--username", "ada", "--push"])

    printed = capsys.readouterr()
    assert status == 0, printed.err
    assert f"kernel bundle: {out}" in printed.out
    assert "Kaggle saved version 1 of ada/llm-science-exam-kit" in printed.out
    (save,) = kaggle_push.requests_to("POST", f"{KERNELS}/SaveKernel")
    assert save.json()["enableGpu"] is True and "n_trials = 3" in save.json()["text"]

    assert main(["kernel", COMPETITION, "-p", "n_trails", "3", "--out", str(out), "--username", "ada"]) == 2
    assert "Unknown parameter 'n_trails'" in capsys.readouterr().err


def test_kit_kernel_push_records_the_version_and_submit_sends_it(notebook: Path, tmp_path: Path,
                                                                 kaggle_push: StubPlatform, monkeypatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 26: the pushed version goes into the ledger; --submit makes it a submission (CreateCodeSubmission),
    and --wait reads its verdict."""
    from kitlib import platform_status, submit
    from kitlib.cli import main

    monkeypatch.setattr(platform_status, "POLL_S", 0.05)
    answered = kaggle_push.board.code

    def create(request: Seen) -> tuple:
        status, body = answered(request)
        kaggle_push.board.items[0].update(status="COMPLETE", publicScore="0.6420")
        return status, body

    kaggle_push.routes[("POST", f"{KAGGLE_SERVICE}/CreateCodeSubmission")] = create
    out = tmp_path / "bundle"
    status = main(["kernel", COMPETITION, "--out", str(out), "--username", "ada", "--push", "--submit", "-m", "v1",
                   "--wait", "5"])
    printed = capsys.readouterr()
    assert status == 0, printed.err
    assert "recorded in the ledger: kernel ada/llm-science-exam-kit version 1 pushed" in printed.out
    assert "submitted kernel ada/llm-science-exam-kit version 1: Your code submission was received" in printed.out
    assert "scored: public 0.6420" in printed.out
    (sent,) = kaggle_push.requests_to("POST", f"{KAGGLE_SERVICE}/CreateCodeSubmission")
    assert sent.json()["kernelVersion"] == 1 and sent.json()["competitionName"] == SLUG
    pushed, submitted = submit.read_ledger().to_dict("records")
    assert pushed["upload_status"] == "kernel_pushed" and pushed["file"] == str(out / f"{COMPETITION}.ipynb")
    assert (submitted["upload_status"], submitted["platform_id"], submitted["public_score"]) == ("uploaded", "9001",
                                                                                                "0.6420")


# ----------------------------------------------------------------------------- attached folders
def fake_run(tmp_path: Path, params: dict) -> Path:
    """A run folder with a checkpoints/ folder as a training run of the notebook leaves it (tiny files)."""
    run_dir = tmp_path / "runs" / "llm-science-exam-20260101-000000-abcd"
    for k in (0, 1):
        (run_dir / "checkpoints" / f"fold{k}" / "contrastive").mkdir(parents=True)
        (run_dir / "checkpoints" / f"fold{k}" / "config.json").write_text("{}")
        (run_dir / "checkpoints" / f"fold{k}" / "contrastive" / "seed0.pt").write_bytes(b"w")
    (run_dir / "checkpoints" / "run.json").write_text(json.dumps({"run_id": run_dir.name, "params": params}))
    return run_dir


def test_model_checkpoints_and_datasets_are_attached_and_found_offline(notebook: Path, tmp_path: Path) -> None:
    model = tmp_path / "My DeBERTa v3 large"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "deberta-v2"}')
    corpus = tmp_path / "wiki"
    corpus.mkdir()
    (corpus / "a.parquet").write_bytes(b"PAR1")
    run_dir = fake_run(tmp_path, {"retrieval": True, "retrieval_method": "tfidf"})

    with pytest.warns(UserWarning, match="trained with retrieved context"):
        out = kernel.build_bundle(COMPETITION, {"device": "cpu"}, tmp_path / "bundle", username="ada", model=model,
                                  datasets=[corpus], checkpoints=run_dir)

    meta = json.loads((out / "kernel-metadata.json").read_text())
    ckpt = "llm-science-exam-20260101-000000-abcd-checkpoints"
    assert meta["dataset_sources"] == ["ada/kitlib", "ada/all-minilm-l6-v2", "ada/my-deberta-v3-large", f"ada/{ckpt}",
                                       "ada/wiki-files"]
    for slug in ("my-deberta-v3-large", ckpt, "wiki-files"):
        dataset = json.loads((out / "datasets" / slug / "dataset-metadata.json").read_text())
        assert dataset["id"] == f"ada/{slug}" and 6 <= len(slug) <= 50 and 6 <= len(dataset["title"]) <= 50
    assert (out / "datasets" / ckpt / "fold1" / "contrastive" / "seed0.pt").read_bytes() == b"w"
    nb = nbformat.read(out / "llm-science-exam.ipynb", as_version=4)
    injected = next(c.source for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert "model = '/kaggle/input/my-deberta-v3-large'" in injected.replace('"', "'")
    assert f"checkpoints = '/kaggle/input/{ckpt}'" in injected.replace('"', "'")
    notes = json.loads((out / "bundle.json").read_text())["notes"]
    assert len(notes) == 1 and "attach the corpus with --dataset DIR and -p corpus" in notes[0]

    # on Kaggle, with the datasets mounted one level deeper than /kaggle/input/<slug>
    inputs, working, temp = tmp_path / "kaggle" / "input", tmp_path / "kaggle" / "working", tmp_path / "tmp"
    for slug in ("all-minilm-l6-v2", "my-deberta-v3-large", ckpt):
        shutil.copytree(out / "datasets" / slug, inputs / "datasets" / "ada" / slug)
    (inputs / "kitlib").mkdir(parents=True)
    (wheel,) = (out / "kitlib-dataset").glob("*.whl")
    (inputs / "kitlib" / wheel.name).write_bytes(wheel.read_bytes())
    working.mkdir()
    temp.mkdir()
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    code[0] = code[0].replace('"/kaggle/input"', repr(str(inputs))).replace(
        '"/kaggle/working/runs"', repr(str(working / "runs")))
    script = ("import sys\n"
              "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in type(f).__module__.lower()]\n"
              + "\n".join(code))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIT_", "PYTHON"))}
    env.update(KAGGLE_KERNEL_RUN_TYPE="Batch", TMPDIR=str(temp))
    done = subprocess.run([sys.executable, "-c", script], cwd=working, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert lines["MODEL"] == str(inputs / "datasets" / "ada" / "my-deberta-v3-large")
    assert lines["CHECKPOINTS"] == str(inputs / "datasets" / "ada" / ckpt)
    assert lines["DEFAULT"] == str(inputs / "datasets" / "ada" / "all-minilm-l6-v2")


@pytest.mark.parametrize(("params", "record", "package"), [
    ({"retrieval_method": "bm25"}, None, "bm25s"),
    ({}, {"retrieval_method": "embedding"}, "faiss-cpu"),  # the checkpoints' run decides in the kernel
])
def test_a_bundle_needing_a_package_missing_from_kaggle_says_so(notebook: Path, tmp_path: Path, params, record,
                                                                package, monkeypatch: pytest.MonkeyPatch) -> None:
    import kitlib.execute

    known = dict(kitlib.execute.notebook_parameters(notebook))
    known["retrieval_method"] = {"default": "'tfidf'", "type": "str", "help": ""}
    monkeypatch.setattr(kitlib.execute, "notebook_parameters", lambda path: known)
    run_dir = fake_run(tmp_path, record) if record else None
    with pytest.warns(UserWarning, match=rf"needs the package {package}, which Kaggle's image lacks"):
        out = kernel.build_bundle(COMPETITION, params, tmp_path / "bundle", username="ada", checkpoints=run_dir)
    assert package in json.loads((out / "bundle.json").read_text())["notes"][0]


def test_attaching_a_missing_folder_is_refused(notebook: Path, tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=r"the model folder .*nowhere' does not exist"):
        build_attached(tmp_path, model=tmp_path / "nowhere")
    with pytest.raises(ParameterError, match=r"--checkpoints 'no-such-run': no checkpoints folder"):
        build_attached(tmp_path, checkpoints="no-such-run")


def build_attached(tmp_path: Path, **kw) -> Path:
    return kernel.build_bundle(COMPETITION, {}, tmp_path / "bundle", username="ada", **kw)


def test_push_sends_every_attached_dataset_with_folders_zipped(notebook: Path, tmp_path: Path,
                                                                kaggle_push: StubPlatform) -> None:
    run_dir = fake_run(tmp_path, {"retrieval": False})
    out = build_attached(tmp_path, checkpoints=run_dir)

    answer = kernel.push_bundle(out)

    ckpt = "llm-science-exam-20260101-000000-abcd-checkpoints"
    assert answer.endswith(f"attached ada/all-minilm-l6-v2, ada/{ckpt})")
    creates = {c.json()["slug"]: c.json() for c in kaggle_push.requests_to("POST", f"{DATASETS}/CreateDataset")}
    assert set(creates) == {"kitlib", "all-minilm-l6-v2", ckpt} and all(c["isPrivate"] for c in creates.values())
    names = [b.json()["name"] for b in kaggle_push.requests_to("POST", f"{BLOBS}/StartBlobUpload")]
    assert {"fold0.zip", "fold1.zip", "run.json"} <= set(names)  # the client zipped the fold folders
    (save,) = kaggle_push.requests_to("POST", f"{KERNELS}/SaveKernel")
    assert save.json()["datasetDataSources"] == ["ada/kitlib", "ada/all-minilm-l6-v2", f"ada/{ckpt}"]


# ------------------------------------------------------------------ issue 24: the --out folder and what is attached
def test_rebuilding_deletes_only_what_the_earlier_bundle_recorded(notebook: Path, tmp_path: Path, capsys) -> None:
    """kit kernel --out once ran shutil.rmtree(DIR/datasets): a user's own files there were deleted."""
    out = build(tmp_path)
    mine = out / "datasets" / "my-notes.txt"
    mine.write_text("mine")
    (out / "datasets" / "all-minilm-l6-v2" / "extra.bin").write_bytes(b"mine too")
    (out / "README.md").write_text("my bundle notes")
    build(tmp_path)
    assert mine.read_text() == "mine" and (out / "README.md").read_text() == "my bundle notes"
    assert (out / "datasets" / "all-minilm-l6-v2" / "extra.bin").read_bytes() == b"mine too"
    record = json.loads((out / "bundle.json").read_text())
    assert "kernel-metadata.json" in record["written"] and "datasets/my-notes.txt" not in record["written"]


def test_a_folder_that_holds_no_bundle_is_refused_unless_forced(notebook: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "datasets").mkdir()
    (out / "datasets" / "keep.csv").write_text("a,b\n")
    (out / "kernel-metadata.json").write_text("{}")  # the user's own, in the way
    with pytest.raises(ParameterError, match=r"holds files and no bundle.json of an earlier bundle.*--force"):
        build(tmp_path)
    assert (out / "datasets" / "keep.csv").is_file() and (out / "kernel-metadata.json").read_text() == "{}"
    kernel.build_bundle(COMPETITION, {}, out, username="ada", force=True)
    assert (out / "datasets" / "keep.csv").read_text() == "a,b\n"  # forced: replaced its own names only
    assert json.loads((out / "kernel-metadata.json").read_text())["id"] == "ada/llm-science-exam-kit"


def test_out_being_a_file_and_a_torn_record_are_one_line(notebook: Path, tmp_path: Path, capsys) -> None:
    from kitlib import cli

    (tmp_path / "afile").write_text("x")
    assert cli.main(["kernel", COMPETITION, "--out", str(tmp_path / "afile"), "--username", "ada"]) == 2
    assert "is a file; expected a folder" in capsys.readouterr().err
    out = build(tmp_path)
    (out / "bundle.json").write_text("{torn")
    assert cli.main(["kernel", COMPETITION, "--out", str(out), "--username", "ada"]) == 2
    err = capsys.readouterr().err
    assert "bundle.json: not a readable bundle record" in err and err.count("\n") == 1


def test_links_out_of_an_attached_folder_linked_folders_and_big_files_are_said(notebook: Path, tmp_path: Path,
                                                                               capsys) -> None:
    from kitlib import cli

    secret = tmp_path / "outside" / "private.txt"
    secret.parent.mkdir()
    secret.write_text("not to be pushed")
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "ok.csv").write_text("a\n")
    (data / "leak.txt").symlink_to(secret)
    (data / "linked").symlink_to(secret.parent, target_is_directory=True)
    with open(data / "sub" / "big.bin", "wb") as handle:  # sparse: 3 GiB on paper, nothing on disk
        handle.truncate(3 << 30)
    assert cli.main(["kernel", COMPETITION, "--out", str(tmp_path / "b"), "--username", "ada", "--dataset",
                     str(data)]) == 0
    out = capsys.readouterr().out
    assert f"leak.txt links outside {data} (to {secret}): not attached" in out
    assert "linked is a linked folder: not attached" in out and "big.bin is 3.0 GiB" in out
    attached = tmp_path / "b" / "datasets" / "data-files"
    assert (attached / "ok.csv").is_file() and not (attached / "leak.txt").exists()
    notes = json.loads((tmp_path / "b" / "bundle.json").read_text())["notes"]
    assert any("links outside" in n for n in notes) and any("3.0 GiB" in n for n in notes)


def test_a_folder_holding_credentials_is_refused(notebook: Path, tmp_path: Path) -> None:
    data = tmp_path / "creds"
    data.mkdir()
    (data / "kaggle.json").write_text('{"username": "ada", "key": "s3cret"}')
    with pytest.raises(ParameterError, match=r"kaggle.json is a credential file"):
        kernel.build_bundle(COMPETITION, {}, tmp_path / "b", username="ada", datasets=[data])


def test_a_corrupt_run_record_beside_the_checkpoints_is_one_line(notebook: Path, tmp_path: Path) -> None:
    ckpt = tmp_path / "run" / "checkpoints"
    (ckpt / "fold0").mkdir(parents=True)
    (ckpt / "fold0" / "w.pt").write_bytes(b"w")
    (ckpt / "run.json").write_text("{not json")
    with pytest.raises(ParameterError, match=r"run.json: not a readable run record"):
        kernel.build_bundle(COMPETITION, {}, tmp_path / "b", username="ada", checkpoints=ckpt)


@pytest.mark.parametrize("name", ["ada\n", "ada/x", "a" * 51])
def test_a_username_with_a_newline_or_separator_is_refused(notebook: Path, tmp_path: Path, name: str) -> None:
    with pytest.raises(ParameterError, match="is not valid"):
        kernel.build_bundle(COMPETITION, {}, tmp_path / "b", username=name)
