"""kit run (kitlib.execute) on tiny notebooks written by the test (fast; the competition notebooks are in
test_notebooks.py)."""
import time
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from kitlib import cli, run, runs_table
from kitlib.errors import ParameterError, RunError
from kitlib.execute import execute


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
    tiny_notebook(nb_path, "import sys\nfrom tqdm import tqdm\n"
                           "for _ in tqdm(range(50), file=sys.stderr, mininterval=0): pass\n"
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


def assert_no_secret(run_dir, secret="s3cr3t"):
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="ignore"), path


def test_credentials_never_reach_the_run_folder(kit_dirs, nb_path, monkeypatch):
    monkeypatch.setenv("KAGGLE_KEY", "s3cr3t-kaggle-key")
    monkeypatch.setenv("AICROWD_API_KEY", "s3cr3t-aicrowd-key")
    tiny_notebook(nb_path, "import os\n"
                           "print('kernel sees', os.environ.get('KAGGLE_KEY'), os.environ.get('AICROWD_API_KEY'))")
    run_dir = execute(str(nb_path), {})
    assert_no_secret(run_dir)
    executed = nbformat.read(run_dir / "notebook.ipynb", as_version=4)
    assert "kernel sees None None" in executed.cells[-1].outputs[0]["text"]  # not even in the kernel


def uploading_notebook(path, body):
    cells = [new_code_cell('submit: bool = False  # upload\nstorage: str = ""  # Optuna storage URL',
                           metadata={"tags": ["parameters"]}), new_code_cell(body)]
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                      "language": "python"}}), path)
    return path


def test_an_uploading_run_sees_its_credentials_and_every_write_is_masked(kit_dirs, tmp_path, monkeypatch):
    monkeypatch.setenv("KAGGLE_KEY", "s3cr3t-kaggle-key")
    path = uploading_notebook(tmp_path / "upload.ipynb", "import os\nprint(os.environ['KAGGLE_KEY'], storage)\n"
                                                         "raise ValueError('bad key ' + os.environ['KAGGLE_KEY'])")
    with pytest.raises(RunError, match=r"ValueError: bad key \*\*\*") as caught:
        execute(str(path), {"submit": "true", "storage": "postgresql://kit:s3cr3t-db-password@127.0.0.1:5432/kit"})
    run_dir = caught.value.run_dir
    manifest = run.read_manifest(run_dir)
    assert manifest["status"] == "failed" and "bad key ***" in manifest["error"]
    assert manifest["params"]["storage"] == "postgresql://kit:***@127.0.0.1:5432/kit"
    executed = nbformat.read(run_dir / "notebook.ipynb", as_version=4)
    assert "*** postgresql://kit:***@127.0.0.1:5432/kit" in executed.cells[-1].outputs[0]["text"]
    assert_no_secret(run_dir)


def test_relative_paths_resolve_against_the_directory_kit_run_started_in(kit_dirs, tmp_path, monkeypatch):
    (tmp_path / "work" / "data").mkdir(parents=True)
    path = uploading_notebook(tmp_path / "paths.ipynb", "print(storage)")
    monkeypatch.chdir(tmp_path / "work")
    from kitlib.parameters import resolve_paths

    resolved = resolve_paths({"data_dir": "data", "model": "bert-base-uncased", "corpus": "data", "storage":
                              "sqlite:///runs/x/optuna.db", "out_file": "a.csv", "n": 3}, Path.cwd())
    assert resolved == {"data_dir": str(tmp_path / "work" / "data"), "model": "bert-base-uncased",
                        "corpus": str(tmp_path / "work" / "data"),
                        "storage": f"sqlite:///{tmp_path / 'work' / 'runs' / 'x' / 'optuna.db'}",
                        "out_file": str(tmp_path / "work" / "a.csv"), "n": 3}
    manifest = run.read_manifest(execute(str(path), {"storage": "journal:studies/a.log"}))
    assert manifest["params"]["storage"] == f"journal:{tmp_path / 'work' / 'studies' / 'a.log'}"


def test_a_file_that_is_not_a_notebook_is_one_line_naming_it(kit_dirs, tmp_path, capsys):
    bad = tmp_path / "broken.ipynb"
    bad.write_text("{not json")
    assert cli.main(["run", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"kit run: {bad}: not a Jupyter notebook") and "\n" not in err
    bad.write_text('{"cells": 3}')
    assert cli.main(["params", str(bad)]) == 2
    assert "not a Jupyter notebook" in capsys.readouterr().err


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


def ctrl_c_reaches_it() -> None:
    """In the child before it starts: SIGINT as a terminal delivers it. A suite started in the background of a
    non-interactive shell (``make test &``) inherits SIGINT ignored, and Python then never raises KeyboardInterrupt."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _sleeping_run(tmp_path, kit_dirs):
    import os
    import subprocess
    import sys

    path = uploading_notebook(tmp_path / "sleepy.ipynb", "import time\nprint('started', flush=True)\ntime.sleep(1.5)\n"
                                                         "print('ready', flush=True)\ntime.sleep(120)")
    env = {**os.environ, "KIT_RUNS_DIR": str(kit_dirs[0]), "KIT_HEARTBEAT_S": "0.3"}
    proc = subprocess.Popen([sys.executable, "-m", "kitlib.cli", "run", str(path), "-q"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=ctrl_c_reaches_it)
    deadline = time.time() + 90
    while time.time() < deadline:  # wait until the sleeping cell runs and the watcher has copied it
        folders = list(kit_dirs[0].glob("sleepy-*"))
        nb = folders[0] / "notebook.ipynb" if folders else None
        if nb is not None and nb.is_file() and "ready\\n" in nb.read_text():  # an output, not the source
            return proc, folders[0]
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"the run never started: {proc.communicate()}")


@pytest.mark.notebook
def test_ctrl_c_records_an_interrupted_run_without_a_traceback(kit_dirs, tmp_path):
    import signal

    proc, run_dir = _sleeping_run(tmp_path, kit_dirs)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err and "kit run: INTERRUPTED" in err
    manifest = run.read_manifest(run_dir)
    assert manifest["status"] == "interrupted" and manifest["interrupted"] and manifest["seconds"] > 0
    executed = nbformat.read(run_dir / "notebook.ipynb", as_version=4)
    assert any("started" in o.get("text", "") for o in executed.cells[-1].get("outputs", []))
    assert executed.cells[-1].metadata.papermill["status"] == "failed"  # not "completed": it was stopped


@pytest.mark.notebook
def test_a_killed_run_shows_as_interrupted_once_its_heartbeat_stops(kit_dirs, tmp_path, monkeypatch):
    import os
    import signal

    proc, run_dir = _sleeping_run(tmp_path, kit_dirs)
    monkeypatch.setenv("KIT_STALE_AFTER_S", "3")
    assert [r["status"] for r in runs_table.list_runs(include_all=True)] == ["running"]
    os.killpg(proc.pid, signal.SIGKILL)  # kit run and its kernel, as a lost machine would
    proc.wait(timeout=30)
    time.sleep(3.5)
    assert run.read_manifest(run_dir)["status"] == "running"  # nobody could write it...
    assert [r["status"] for r in runs_table.list_runs(include_all=True)] == ["interrupted"]  # ...but the beat stopped


def test_after_ctrl_c_the_kernel_teardown_is_not_reported_but_a_kernel_death_on_its_own_is():
    """The flaky half of the Ctrl-C test, made certain: nbclient's "Kernel died" line and the orphaned cell task's
    DeadKernelError traceback (logged by asyncio whenever the task is collected) are dropped only after
    a stop signal."""
    import logging

    from nbclient.exceptions import DeadKernelError

    from kitlib import execute as ex
    from kitlib.stops import Stop

    def record(name, message, exc=None):
        info = (type(exc), exc, None) if exc else None
        return logging.LogRecord(name, logging.ERROR, __file__, 1, message, None, info)

    died = record("papermill", "Kernel died while waiting for execute reply.")
    orphan = record("asyncio", "Task exception was never retrieved", DeadKernelError("Kernel died"))
    other = record("asyncio", "Task exception was never retrieved", ValueError("a real fault"))
    noise = ex._KernelTeardownNoise()
    noise.stop = Stop()
    assert noise.filter(died) and noise.filter(orphan) and noise.filter(other)  # no stop: a kernel death is said
    noise.stop.signal = "SIGINT"
    assert not noise.filter(died) and not noise.filter(orphan)
    assert noise.filter(other)  # anything else is still said


def test_the_stop_names_ctrl_c_and_the_signals_that_end_a_command_like_it(request):
    import os
    import signal

    from kitlib.stops import interrupted_by_signals

    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # as a terminal starts Python (a background
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, before))  # shell starts it with SIGINT ignored)
    for number, name, said in [(signal.SIGINT, "SIGINT", ""), (signal.SIGTERM, "SIGTERM", "signal SIGTERM")]:
        with pytest.raises(KeyboardInterrupt) as caught, interrupted_by_signals() as stop:
            assert stop.signal is None
            os.kill(os.getpid(), number)
            time.sleep(5)  # the handler raises before this ends
        assert stop.signal == name and str(caught.value) == said
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_a_run_id_collision_draws_another_id(kit_dirs, monkeypatch):
    from kitlib import execute as ex

    ids = iter(["nb-20260101-000000-aaaa", "nb-20260101-000000-aaaa", "nb-20260101-000000-bbbb"])
    monkeypatch.setattr(ex, "new_run_id", lambda name: next(ids))
    assert ex._new_run_dir("nb", None).name == "nb-20260101-000000-aaaa"
    assert ex._new_run_dir("nb", None).name == "nb-20260101-000000-bbbb"  # the second draw collided
    with pytest.raises(ParameterError, match="run 'nb-20260101-000000-aaaa' exists already"):
        ex._new_run_dir("nb", "nb-20260101-000000-aaaa")


# ------------------------------------------------------------------ issue 24: secrets, signals, full disks
PUNCTUATED = 'postgresql://kit2:pa/ss"9 x@127.0.0.1:5432/db'


def test_a_storage_password_with_punctuation_never_reaches_the_run_folder(kit_dirs, tmp_path):
    path = uploading_notebook(tmp_path / "store.ipynb", "print('storage is', storage)\nprint(repr(storage))")
    run_dir = execute(str(path), {"storage": PUNCTUATED})
    for form in ('pa/ss"9 x', 'pa/ss\\"9 x', "pa/ss\\\\\\\"9 x", "pa%2Fss%229%20x"):
        assert_no_secret(run_dir, form)
    assert "'pa/ss" not in (run_dir / "notebook.ipynb").read_text()
    manifest = run.read_manifest(run_dir)
    assert manifest["params"]["storage"] == "postgresql://kit2:***@127.0.0.1:5432/db"


def test_the_live_copy_of_a_running_notebook_is_masked(kit_dirs, tmp_path, monkeypatch):
    """The kernel runs without the credentials, but a notebook may still print one (read from a file here): the copy
    the watcher writes while the run lives is masked as the final one is."""
    import threading

    monkeypatch.setenv("KAGGLE_KEY", "s3cr3t-kaggle-key")
    monkeypatch.setenv("KIT_HEARTBEAT_S", "0.3")
    (tmp_path / "key.txt").write_text("s3cr3t-kaggle-key")
    key = str(tmp_path / "key.txt")
    path = uploading_notebook(tmp_path / "live.ipynb", f"import time\nprint(open({key!r}).read(), flush=True)\n"
                                                       "time.sleep(1.5)\nprint('printed', flush=True)\ntime.sleep(3)")
    done = threading.Thread(target=execute, args=(str(path), {}), daemon=True)
    done.start()
    seen = []
    while done.is_alive():
        for copy in kit_dirs[0].glob("live-*/notebook.ipynb"):
            text = copy.read_text(errors="ignore")
            if "printed\\n" in text:  # the cell's output (a JSON string), not its source
                seen.append(text)
        time.sleep(0.1)
    done.join()
    assert seen, "no live copy with the cell's output was seen"
    assert all("s3cr3t" not in t and '"***\\n"' in t for t in seen)


@pytest.mark.notebook
def test_sighup_records_an_interrupted_run_and_keeps_its_kernel_log(kit_dirs, tmp_path):
    import signal

    proc, run_dir = _sleeping_run(tmp_path, kit_dirs)
    proc.send_signal(signal.SIGHUP)  # the terminal closed
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err and "kit run: INTERRUPTED" in err
    manifest = run.read_manifest(run_dir)
    assert manifest["status"] == "interrupted" and "by signal SIGHUP" in manifest["error"]
    assert (run_dir / "notebook.ipynb").is_file()


def _kit_run_with_a_size_limit(path, kit_dirs, limit: int):
    """``kit run PATH`` in a child whose files may not grow past ``limit`` bytes (RLIMIT_FSIZE, inherited by the
    kernel), as on a disk that fills up; SIGXFSZ ignored so writes fail with EFBIG instead of killing it."""
    import os
    import resource
    import signal
    import subprocess
    import sys

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "KIT_RUNS_DIR": str(kit_dirs[0])}
    return subprocess.run([sys.executable, "-m", "kitlib.cli", "run", str(path), "-q"], env=env, capture_output=True,
                          text=True, timeout=180, preexec_fn=limited)


@pytest.mark.notebook
def test_a_run_that_fills_the_disk_ends_failed_with_the_reason(kit_dirs, tmp_path):
    path = uploading_notebook(tmp_path / "full.ipynb", "print('x' * 100, flush=True)\nprint('y' * 300_000)")
    done = _kit_run_with_a_size_limit(path, kit_dirs, 200_000)
    assert done.returncode == 1 and "Traceback" not in done.stderr and "kit run: FAILED" in done.stderr, done.stderr
    (run_dir,) = kit_dirs[0].glob("full-*")
    manifest = run.read_manifest(run_dir)
    assert manifest["status"] == "failed"
    assert "File too large" in manifest["error"]


@pytest.mark.notebook
def test_a_run_whose_record_cannot_be_written_says_so_plainly(kit_dirs, tmp_path):
    path = uploading_notebook(tmp_path / "tiny.ipynb", "print('hello')")
    done = _kit_run_with_a_size_limit(path, kit_dirs, 300)  # not even the manifest fits
    assert done.returncode in (1, 2) and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.count("\n") <= 3 and "File too large" in done.stderr, done.stderr
