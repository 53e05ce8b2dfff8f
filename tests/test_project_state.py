"""Provenance of edits (issue 23 item 7, kitlib.project_state): the manifest's spec and features records, "differs" in
kit runs for a changed spec or feature set, the git state of the project folder (untracked specs, features modules
and notebooks counting, runs/ and submissions/ never), the kit checkout's beside it, and the kernel bundle carrying
the features module."""
from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import nbformat
import pytest
from kaggle_sandbox import run_bootstrap
from tabular_sets import write_kaggle_set

from kitlib import project_state, run, runs_table
from kitlib.competitions import get_competition
from kitlib.competitions.specfile import spec_document, spec_path, write_spec
from kitlib.runtime import ROOT
from kitlib.scaffold import infer, render_notebook
from kitlib.tasks import tabular

FEATURES = ("def features(train, test):\n    train['r'] = train.x1 * 2\n    test['r'] = test.x1 * 2\n"
            "    return train, test\n")


def git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=kit", "-c", "user.email=kit@example.com", *args], cwd=folder,
                          check=True, capture_output=True, text=True).stdout


def spec_competition(tmp_path: Path, name: str = "edits", platform: str = "local") -> Path:
    """A spec competition (``[features]`` drop x5) with its notebook, on a generated binary set; its data folder."""
    folder = write_kaggle_set(tmp_path / "data", "binary", n_train=80, n_test=20)
    found = infer(folder)
    doc = spec_document(found.problem, platform=platform, slug=name, data_dir=folder, dtypes=found.dtypes,
                        notebook=f"notebooks/{name}.ipynb")
    doc["columns"] = {"id": "id", "targets": ["target"]}
    doc["features"] = {"drop": ["x5"]}
    write_spec(spec_path(name), doc)
    notebook = spec_path(name).parent.parent / "notebooks" / f"{name}.ipynb"
    notebook.parent.mkdir(parents=True, exist_ok=True)
    notebook.write_text(json.dumps(render_notebook(name)))
    return folder


def test_the_manifest_records_the_spec_and_the_features(tmp_path, kit_dirs, kit_project):
    folder = spec_competition(tmp_path)
    module = spec_path("edits").with_name("edits_features.py")
    module.write_text(FEATURES)
    comp = get_competition("edits")
    code = tabular.features_of("edits")
    data = tabular.load(comp.tabular, folder, code)
    started = run.start(comp, {"seed": 0})
    started.log_provenance(comp.source, code, data.problem)
    manifest = run.read_manifest(started.dir)
    assert manifest["spec"] == {"path": str(spec_path("edits")),
                                "sha256": hashlib.sha256(spec_path("edits").read_bytes()).hexdigest()}
    assert manifest["features"] == {
        "categorical": ["colour"], "numeric": ["x1", "x2", "x3", "x4", "r"],
        "unused": {"x5": f"dropped by {spec_path('edits')} ([features] drop)"},
        "code": {"source": str(module), "sha256": hashlib.sha256(FEATURES.encode()).hexdigest()}}
    assert manifest["git_commit"] is None and manifest["git_dirty"] is None  # the project folder is not in git
    kit_commit, kit_dirty = project_state.checkout_state(ROOT)
    if kit_commit is not None:  # the kit's checkout is another repository: its state beside
        assert manifest["kit_git_commit"] == kit_commit and manifest["kit_git_dirty"] == kit_dirty
    started.log_provenance("", None, data.problem)  # a built-in competition: no spec, no features step
    assert run.read_manifest(started.dir)["spec"] is None
    assert run.read_manifest(started.dir)["features"]["code"] is None


def record(runs_dir: Path, name: str, spec: str, features: dict | None, lr: float = 0.1) -> None:
    folder = runs_dir / f"edits-{name}"
    folder.mkdir(parents=True)
    run.update_manifest(folder, run_id=folder.name, competition="edits", status="ok", score=0.8,
                        started=f"2026-01-0{len(name)}", params={"seed": 0, "lr": lr},
                        spec={"path": "competitions/edits.toml", "sha256": spec}, features=features)


def test_kit_runs_shows_a_changed_spec_or_feature_set_under_differs(tmp_path, kit_dirs):
    spec_competition(tmp_path)
    lists = {"categorical": ["colour"], "numeric": ["x1", "x2"], "unused": {"x5": "dropped"},
             "code": {"source": "cell", "sha256": "c" * 64}}
    record(kit_dirs[0], "a", "a" * 64, lists)
    record(kit_dirs[0], "bb", "b" * 64, lists)
    table = runs_table.format_runs(runs_table.list_runs("edits")).splitlines()
    assert "spec=\"aaaaaaaa\"" in table[-2] + table[-1] and "spec=\"bbbbbbbb\"" in table[-2] + table[-1]
    assert "features=" not in "\n".join(table) and "lr=" not in "\n".join(table)  # the same feature set and lr
    record(kit_dirs[0], "ccc", "b" * 64, {**lists, "numeric": ["x1"]}, lr=0.2)
    rows = runs_table.list_runs("edits")
    shown = dict(zip([r["run_id"] for r in rows], runs_table.differing_params(rows)))
    digest = project_state.feature_digest(lists)
    assert shown["edits-a"] == f'spec="aaaaaaaa" features="{digest}" lr=0.1'
    assert shown["edits-ccc"].startswith('spec="bbbbbbbb" features="') and digest not in shown["edits-ccc"]
    assert project_state.feature_digest({**lists, "unused": {"x5": "other words"}}) == digest  # reasons aside
    assert project_state.feature_digest({**lists, "code": {"sha256": "d" * 64}}) != digest  # the code counts


def test_the_git_state_is_the_project_folders(tmp_path):
    outer = tmp_path / "repo"
    project = outer / "project"
    for path, text in [("project/competitions/edits.toml", "x = 1\n"), ("project/notebooks/edits.ipynb", "{}\n"),
                       ("other/file.txt", "a\n")]:
        (outer / path).parent.mkdir(parents=True, exist_ok=True)
        (outer / path).write_text(text)
    git(outer, "init", "-q")
    git(outer, "add", ".")
    git(outer, "commit", "-q", "-m", "start")
    commit = git(outer, "rev-parse", "HEAD").strip()
    assert project_state.project_state(project) == (commit, False)
    quiet = ["runs/edits-1/manifest.json", "submissions/ledger.csv", "data/train.csv", "notes.txt",
             "notebooks/scratch.txt", "competitions/sub/deeper.toml"]
    for path in [*quiet, "../other/competitions/x.toml", "../loose.ipynb"]:
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text("untracked\n")
    assert project_state.project_state(project) == (commit, False)  # none of these counts
    for path in ["competitions/edits_features.py", "competitions/new.toml", "notebooks/new.ipynb"]:
        (project / path).write_text("untracked\n")
        assert project_state.project_state(project) == (commit, True), path
        (project / path).unlink()
    (project / "competitions/edits.toml").write_text("x = 2\n")  # a tracked file changed
    assert project_state.project_state(project) == (commit, True)
    git(outer, "checkout", "-q", "--", "project/competitions/edits.toml")
    (outer / "other/file.txt").write_text("b\n")  # outside the project folder
    assert project_state.project_state(project) == (commit, False)
    assert project_state.project_state(tmp_path / "plain") == (None, None)  # no folder
    (tmp_path / "plain").mkdir()
    assert project_state.project_state(tmp_path / "plain") == (None, None)  # not in git: recorded as none


def test_a_run_in_a_project_with_an_untracked_features_module_is_dirty(tmp_path, kit_dirs, monkeypatch):
    project = tmp_path / "mine"
    monkeypatch.setenv("KIT_PROJECT_DIR", str(project))
    spec_competition(tmp_path)
    (project / ".gitignore").write_text("runs/\nsubmissions/\n")
    git(project, "init", "-q")
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "spec")
    assert run.read_manifest(run.start("edits", {"seed": 0}).dir)["git_dirty"] is False
    spec_path("edits").with_name("edits_features.py").write_text(FEATURES)
    manifest = run.read_manifest(run.start("edits", {"seed": 0}).dir)
    assert manifest["git_dirty"] is True and manifest["git_commit"] == git(project, "rev-parse", "HEAD").strip()
    fields = project_state.git_fields()
    if project_state.checkout_state(ROOT)[0] is not None:
        assert fields["kit_git_commit"] == project_state.checkout_state(ROOT)[0]
    monkeypatch.setenv("KIT_PROJECT_DIR", str(ROOT))  # the kit's checkout as the project: one state, no kit_ fields
    assert not {"kit_git_commit", "kit_git_dirty"} & set(project_state.git_fields())


def test_the_kernel_bundle_carries_the_features_module(tmp_path, kit_project):
    from kitlib import kernel

    spec_competition(tmp_path, "bundled", platform="kaggle")
    spec_path("bundled").with_name("bundled_features.py").write_text(FEATURES)
    out = kernel.build_bundle("bundled", {}, tmp_path / "bundle", username="ada")
    nb = nbformat.read(out / "bundled.ipynb", as_version=4)
    bootstrap = nb.cells[1].source
    assert "bundled_features.py" in bootstrap and repr(FEATURES) in bootstrap
    done = run_bootstrap(out, bootstrap, "from kitlib.tasks.tabular import features_of\ncode = features_of('bundled')\n"
                         "import pandas as pd\nframe = pd.DataFrame({'x1': [1.0]})\n"
                         "print(code.source.endswith('kit-project/competitions/bundled_features.py'),\n"
                         "      code.fn(frame, frame)[0].r[0])", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True 2.0"


@pytest.mark.parametrize("record_value", [None, "text", {"categorical": "x", "unused": ["a"]}])
def test_a_features_record_of_any_shape_is_shown_not_fatal(record_value):
    digest = project_state.feature_digest(record_value)
    assert digest is None if not isinstance(record_value, dict) else len(digest) == 8
    row = runs_table.clean_row({"params": {}, "spec": "not a table", "features": record_value}, "x")
    assert runs_table.compared(row) == ({} if not isinstance(record_value, dict) else {"features": digest})
