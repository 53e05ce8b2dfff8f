"""kit run (kitlib.execute) on tiny notebooks written by the test (fast; the competition notebooks are in
test_notebooks.py)."""
from importlib import metadata

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from kitlib import cli, run
from kitlib.execute import execute
from kitlib.errors import ParameterError


def tiny_notebook(path, body):
    cells = [
        new_code_cell('n: int = 3  # how many\nratio: float = 0.5  # a share\nname: str = "x"  # a label\n'
                      'flag: bool = False  # a switch\nseed: int = 0  # seed', metadata={"tags": ["parameters"]}),
        new_code_cell("import kitlib.run\nrun = kitlib.run.start('sentiment-classification', "
                      "params=dict(n=n, ratio=ratio, name=name, flag=flag, seed=seed))"),
        new_code_cell(body),
    ]
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                            "language": "python"}})
    nbformat.write(nb, path)
    return path


@pytest.fixture
def nb_path(tmp_path):
    return tmp_path / "sentiment-classification.ipynb"


def test_run_records_params_metrics_and_state(kit_dirs, nb_path):
    tiny_notebook(nb_path, "import sys\nfrom tqdm import tqdm\nfor _ in tqdm(range(50), file=sys.stderr, mininterval=0): pass\n"
                           "run.log_metrics({'val_weighted_f1': n * ratio, 'other': 1})")
    run_dir = execute(str(nb_path), {"n": "4", "ratio": "0.25", "flag": "true"})
    manifest = run.read_manifest(run_dir)
    assert manifest["status"] == "ok" and manifest["competition"] == "sentiment-classification"
    assert manifest["params"] == {"n": 4, "ratio": 0.25, "name": "x", "flag": True, "seed": 0}
    assert manifest["metrics"] == {"val_weighted_f1": 1.0, "other": 1.0} and manifest["score"] == 1.0
    for key in ("git_commit", "git_dirty", "packages", "started", "seconds", "seed"):
        assert key in manifest
    assert manifest["packages"]["torch"] == metadata.version("torch")  # whichever torch is installed
    executed = nbformat.read(run_dir / "notebook.ipynb", as_version=4)
    streams = [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "stream"]
    bar = [o for o in streams if "50/50" in o["text"]]
    assert len(bar) == 1 and "\r" not in bar[0]["text"] and bar[0]["text"].strip().count("\n") == 0


def test_unknown_parameter_lists_the_known_ones(kit_dirs, nb_path):
    tiny_notebook(nb_path, "pass")
    with pytest.raises(ParameterError, match=r"Unknown parameter 'epochs'.*\['flag', 'n', 'name', 'ratio', 'seed'\]"):
        execute(str(nb_path), {"epochs": "3"})
    with pytest.raises(ParameterError, match="declared int; cannot read 'three'"):
        execute(str(nb_path), {"n": "three"})


def test_failing_cell_is_named_and_partial_notebook_kept(kit_dirs, nb_path, capsys):
    tiny_notebook(nb_path, "print('before')\nraise ValueError('bad column')")
    status = cli.main(["run", str(nb_path), "-q"])
    err = capsys.readouterr().err
    assert status == 1
    assert "cell In [3] failed: ValueError: bad column" in err
    run_dir = next(kit_dirs[0].iterdir())
    assert run.read_manifest(run_dir)["status"] == "failed"
    executed = nbformat.read(run_dir / "notebook.ipynb", as_version=4)
    assert any("before" in o.get("text", "") for o in executed.cells[-1].outputs)


def test_credentials_never_reach_the_run_folder(kit_dirs, nb_path, monkeypatch):
    monkeypatch.setenv("KAGGLE_KEY", "s3cr3t-kaggle-key")
    monkeypatch.setenv("AICROWD_API_KEY", "s3cr3t-aicrowd-key")
    tiny_notebook(nb_path, "import os\nprint(os.environ['KAGGLE_KEY'], os.environ['AICROWD_API_KEY'])")
    run_dir = execute(str(nb_path), {})
    for path in run_dir.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="ignore")
            assert "s3cr3t" not in text, path


def test_plots_are_kept_in_the_executed_notebook(kit_dirs, nb_path, monkeypatch):
    monkeypatch.delenv("MPLBACKEND", raising=False)
    tiny_notebook(nb_path, "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()")
    executed = nbformat.read(execute(str(nb_path), {}) / "notebook.ipynb", as_version=4)
    assert any("image/png" in o.get("data", {}) for o in executed.cells[-1].outputs)


def test_the_manifest_records_the_effective_parameters_read_from_the_namespace(kit_dirs, tmp_path):
    path = tmp_path / "sentiment-classification.ipynb"
    cells = [
        new_code_cell('epochs: int = 40  # most epochs\nsmoke: bool = False  # tiny\nseed: int = 0  # seed',
                      metadata={"tags": ["parameters"]}),
        new_code_cell("import kitlib.run\nhelper = 'not a parameter'\nif smoke:\n    epochs = 4\n"
                      "run = kitlib.run.start('sentiment-classification', globals())"),
    ]
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                      "language": "python"}}), path)
    manifest = run.read_manifest(execute(str(path), {"smoke": "true", "seed": "2"}))
    assert manifest["params"] == {"epochs": 4, "smoke": True, "seed": 2}  # what ran, not the declared 40
    assert manifest["overrides"] == {"smoke": True, "seed": 2} and manifest["seed"] == 2


def test_start_in_jupyter_reads_the_parameters_cell_of_the_session_notebook(kit_dirs, tmp_path, monkeypatch):
    path = tmp_path / "any-name.ipynb"
    cells = [new_code_cell('lr: float = 0.1  # rate\nseed: int = 0  # seed', metadata={"tags": ["parameters"]})]
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                      "language": "python"}}), path)
    namespace = {"__builtins__": {}, "__session__": str(path), "lr": 0.5, "seed": 3, "np": object()}
    r = run.start("sentiment-classification", namespace)
    manifest = run.read_manifest(r.dir)
    assert manifest["params"] == {"lr": 0.5, "seed": 3} and manifest["status"] == "interactive"


# ------------------------------------------------------------------ any notebook: papermill's example style
def papermill_example(path, body="print(f'result {alpha * ratio:.2f}')", metadata=None):
    """A notebook as papermill's examples write them: a parameters cell of plain assignments, a few cells,
    no kitlib import."""
    cells = [new_code_cell("# Parameters\nalpha = 0.6\nratio = 0.1", metadata={"tags": ["parameters"]}),
             new_code_cell("import math\nproduct = math.prod([alpha, ratio])"), new_code_cell(body)]
    meta = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}, **(metadata or {})}
    nbformat.write(new_notebook(cells=cells, metadata=meta), path)
    return path


def test_a_notebook_of_no_competition_runs_with_the_same_record(kit_dirs, tmp_path, capsys):
    path = papermill_example(tmp_path / "python_parameterized.ipynb")
    assert cli.main(["run", str(path), "-p", "alpha", "0.8", "-q"]) == 0
    assert "competition: none" in capsys.readouterr().out
    (run_dir,) = kit_dirs[0].iterdir()
    assert run_dir.name.startswith("python_parameterized-")
    manifest = run.read_manifest(run_dir)
    assert manifest["competition"] is None and manifest["status"] == "ok"
    assert manifest["params"] == {"alpha": 0.8, "ratio": 0.1} and manifest["overrides"] == {"alpha": 0.8}
    for key in ("run_id", "notebook", "git_commit", "git_dirty", "packages", "started", "seconds", "seed", "metrics",
                "score"):
        assert key in manifest, key
    executed = nbformat.read(run_dir / "notebook.ipynb", as_version=4)
    assert "result 0.08" in executed.cells[-1].outputs[0]["text"]
    assert cli.main(["runs", "--all"]) == 0 and run_dir.name in capsys.readouterr().out
    assert cli.main(["params", str(path)]) == 0
    assert "alpha" in capsys.readouterr().out


def test_a_notebook_of_no_competition_refuses_unknown_parameters_and_keeps_a_failed_run(kit_dirs, tmp_path, capsys):
    path = papermill_example(tmp_path / "example.ipynb")
    with pytest.raises(ParameterError, match=r"Unknown parameter 'beta' for this notebook; its parameters are "
                                             r"\['alpha', 'ratio'\]"):
        execute(str(path), {"beta": "1"})
    failing = papermill_example(tmp_path / "failing.ipynb", body="print('half way')\nraise KeyError('ratio')")
    assert cli.main(["run", str(failing), "-q"]) == 1
    assert "cell In [3] failed: KeyError" in capsys.readouterr().err
    (run_dir,) = [p for p in kit_dirs[0].iterdir() if p.name.startswith("failing-")]
    assert run.read_manifest(run_dir)["status"] == "failed" and run.read_manifest(run_dir)["competition"] is None
    executed = nbformat.read(run_dir / "notebook.ipynb", as_version=4)
    assert any("half way" in o.get("text", "") for o in executed.cells[-1].outputs)


def test_the_competition_comes_from_metadata_or_the_command_line(kit_dirs, tmp_path, capsys):
    named = papermill_example(tmp_path / "mine.ipynb", metadata={"kitlib": {"competition": "recommender"}})
    assert run.read_manifest(execute(str(named), {}))["competition"] == "recommender"
    plain = papermill_example(tmp_path / "plain.ipynb")
    assert cli.main(["run", str(plain), "-c", "sentiment-classification", "-q"]) == 0
    assert any(p.name.startswith("sentiment-classification-") for p in kit_dirs[0].iterdir())
    assert cli.main(["run", str(plain), "-c", "nope", "-q"]) == 2
    assert "Unknown competition 'nope'" in capsys.readouterr().err
    with pytest.raises(ParameterError, match="notebook 'missing.ipynb' not found"):
        execute("missing.ipynb", {})
