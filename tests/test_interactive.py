"""A notebook run in Jupyter without `kit run` (kitlib.run.start in an IPython shell): one run folder per kernel
session, ``failed`` after a failing cell, ``ok`` with the submission after the last cell's ``run.finish()``.

The cells run in an in-process IPython shell, which fires the same ``post_run_cell`` events as a Jupyter kernel;
tests/test_jupyter.py runs a whole notebook in JupyterLab in a browser."""
import json
import sys
import types

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from kitlib import run
from kitlib.competitions import sentiment_classification as sentiment

PARAMETERS = 'seed: int = 0  # models\nsmoke: bool = False  # tiny and fast'
SETUP = ("import kitlib.run\n"
         "COMPETITION = 'sentiment-classification'\n"
         "run = kitlib.run.start(COMPETITION, globals())")


@pytest.fixture
def shell(tmp_path, monkeypatch, kit_dirs):
    """An IPython shell whose namespace is a notebook's (``__session__`` names the notebook file, as
    ipykernel sets it); the shell is torn down afterwards and ``__main__`` restored."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    notebook = tmp_path / "explore.ipynb"
    cells = [new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}), new_code_cell(SETUP)]
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                      "display_name": "Python 3"}}), notebook)
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    main = sys.modules.get("__main__")
    ip = InteractiveShell.instance(config=config, user_module=types.ModuleType("kit_notebook"))
    ip.user_ns["__session__"] = str(notebook)
    try:
        yield ip
    finally:
        InteractiveShell.clear_instance()
        sys.modules["__main__"] = main
        monkeypatch.setattr(run, "_LIVE", None)


def cell(ip, source, cell_id=None):
    """Run ``source`` as a notebook cell; returns IPython's ExecutionResult."""
    return ip.run_cell(source, store_history=True, cell_id=cell_id)


def only_run(runs_dir):
    folders = sorted(p for p in runs_dir.iterdir() if p.is_dir())
    assert len(folders) == 1, f"one interactive run folder, got {[p.name for p in folders]}"
    return folders[0], json.loads((folders[0] / "manifest.json").read_text())


def test_running_the_setup_cell_again_reuses_the_run_folder(shell, kit_dirs):
    assert cell(shell, PARAMETERS).success and cell(shell, SETUP).success
    first, manifest = only_run(kit_dirs[0])
    assert manifest["status"] == "interactive" and manifest["params"] == {"seed": 0, "smoke": False}
    assert manifest["notebook"] == shell.user_ns["__session__"]
    shell.user_ns["run"].log_metrics({"val_weighted_f1": 0.5})
    assert cell(shell, "seed = 7").success and cell(shell, SETUP).success
    again, manifest = only_run(kit_dirs[0])
    assert again == first and shell.user_ns["run"].dir == first
    assert manifest["params"] == {"seed": 7, "smoke": False} and manifest["seed"] == 7
    assert "metrics" not in manifest and "score" not in manifest, "the earlier pass's results are cleared"


def test_a_failing_cell_marks_the_run_failed_until_it_runs_cleanly(shell, kit_dirs):
    cell(shell, PARAMETERS), cell(shell, SETUP)
    result = cell(shell, "values = [1, 2]\nvalues[5]", cell_id="cell-3")
    assert not result.success
    folder, manifest = only_run(kit_dirs[0])
    assert manifest["status"] == "failed"
    assert manifest["error"] == f"cell In [{result.execution_count}] failed: IndexError: list index out of range"
    assert cell(shell, "x = 1").success and run.read_manifest(folder)["status"] == "failed", \
        "another cell running cleanly does not clear the failure"
    shell.user_ns["run"].finish()
    assert run.read_manifest(folder)["status"] == "failed", "finish keeps a failure nobody fixed"

    cell(shell, SETUP)  # start over in the same folder, fix the cell and run it again
    cell(shell, "1 +", cell_id="cell-4")  # a syntax error fails too
    assert "failed: SyntaxError: invalid syntax" in run.read_manifest(folder)["error"]
    assert cell(shell, "1 + 1", cell_id="cell-4").success
    manifest = run.read_manifest(folder)
    assert manifest["status"] == "interactive" and "error" not in manifest


def test_finish_in_the_last_cell_marks_the_run_ok_with_its_submission(shell, kit_dirs, tmp_path):
    data_dir = sentiment.write_demo(tmp_path / "data", n_train=30, n_val=12, n_test=5)
    cell(shell, PARAMETERS), cell(shell, SETUP)
    assert cell(shell, "ratio = 1 / 0", cell_id="cell-5").error_in_exec is not None
    assert cell(shell, "ratio = 1 / 1", cell_id="cell-5").success  # fixed and run again
    shell.user_ns["data_dir"] = data_dir
    last = ("import pandas as pd, kitlib.submit\n"
            "sample = pd.read_csv(data_dir / 'sample_submission.csv', dtype=str, keep_default_na=False)\n"
            "path = kitlib.submit.write_submission(sample.assign(label='neutral'), COMPETITION, run=run, "
            "data_dir=data_dir)\n"
            "run.finish()")
    assert cell(shell, last).success
    folder, manifest = only_run(kit_dirs[0])
    assert manifest["status"] == "ok" and "error" not in manifest
    assert manifest["submission"]["path"] == str(shell.user_ns["path"].resolve())
    assert pd.read_csv(manifest["submission"]["path"]).label.eq("neutral").all()
    assert isinstance(manifest["seconds"], float) and manifest["seconds"] >= 0
    cell(shell, "1/0")  # exploring after the last cell leaves the record alone
    assert run.read_manifest(folder)["status"] == "ok"
    cell(shell, SETUP)  # until the setup cell runs again: the same folder, open again
    assert only_run(kit_dirs[0])[1]["status"] == "interactive" and "submission" not in run.read_manifest(folder)


def test_the_error_recorded_masks_credentials(shell, kit_dirs, monkeypatch):
    monkeypatch.setenv("KAGGLE_KEY", "k3y-0f-the-user")
    cell(shell, PARAMETERS), cell(shell, SETUP)
    cell(shell, "import os\nraise ValueError('bad key ' + os.environ['KAGGLE_KEY'])")
    _, manifest = only_run(kit_dirs[0])
    assert manifest["error"].endswith("ValueError: bad key ***") and "k3y" not in json.dumps(manifest)


def test_under_kit_run_the_cells_leave_the_status_to_kit_run(shell, kit_dirs, tmp_path, monkeypatch):
    folder = tmp_path / "given-run"
    folder.mkdir()
    run.update_manifest(folder, status="running", params={"seed": 0, "smoke": True})
    monkeypatch.setenv("KIT_RUN_DIR", str(folder))
    cell(shell, PARAMETERS), cell(shell, SETUP), cell(shell, SETUP), cell(shell, "1/0")
    shell.user_ns["run"].finish()
    assert shell.user_ns["run"].dir == folder and run.read_manifest(folder)["status"] == "running"
    assert not kit_dirs[0].exists() or not any(kit_dirs[0].iterdir()), "no interactive folder under kit run"


def test_outside_a_notebook_every_start_with_a_dict_is_a_new_run(kit_dirs):
    first = run.start("sentiment-classification", {"seed": 0})
    second = run.start("sentiment-classification", {"seed": 0})
    assert first.dir != second.dir and first.dir.is_dir() and second.dir.is_dir()
    second.finish()
    assert run.read_manifest(second.dir)["status"] == "ok" and run.read_manifest(first.dir)["status"] == "interactive"
