"""``kit sweep``: a grid of ``kit run``s on a local Dask cluster (``--jobs``) and on a real ``dask scheduler`` with a
``dask worker`` (``--scheduler``), each point in its own run folder with the sweep recorded in its manifest."""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from servers import dask_cluster  # noqa: F401  (fixtures are used by name)

from kitlib import sweep
from kitlib.cli import main
from kitlib.errors import ParameterError


def tiny_notebook(folder: Path) -> Path:
    """A notebook of no competition: knobs ``x`` and ``fail_at`` (the ``x`` whose run fails); it prints where it ran
    (``KIT_TEST_WORKER``, which the test Dask worker's environment sets)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell('x: int = 0  # a knob\nfail_at: int = -1  # the x whose run fails\n'
                                          'label: str = "a"  # a text knob',
                                          metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell('import os\nif x == fail_at:\n    raise ValueError(f"x {x} fails")\n'
                                          'print("ran on", os.environ.get("KIT_TEST_WORKER", "this machine"))')]
    path = folder / "tiny.ipynb"
    nbformat.write(nb, path)
    return path


def sweep_manifests(runs: Path) -> list[dict]:
    rows = [json.loads(p.read_text()) for p in runs.glob("*/manifest.json")]
    return sorted(rows, key=lambda m: m["sweep"]["index"])


def test_the_grid_is_every_combination_checked_against_the_notebook(tmp_path):
    nb = tiny_notebook(tmp_path)
    points = sweep.grid([("x", "1,2"), ("label", "p, q"), ("fail_at", "5")], nb)
    assert points == [{"x": 1, "label": "p", "fail_at": 5}, {"x": 1, "label": "q", "fail_at": 5},
                      {"x": 2, "label": "p", "fail_at": 5}, {"x": 2, "label": "q", "fail_at": 5}]
    with pytest.raises(ParameterError, match=r"Unknown parameter 'y' for this notebook; its parameters are "
                                             r"\['fail_at', 'label', 'x'\]"):
        sweep.grid([("y", "1,2")], nb)
    with pytest.raises(ParameterError, match="Parameter 'x' is declared int; cannot read 'two' as int"):
        sweep.grid([("x", "1,two")], nb)
    with pytest.raises(ParameterError, match=r"-p x '1,,2': an empty value"):
        sweep.grid([("x", "1,,2")], nb)
    with pytest.raises(ParameterError, match=r"parameter\(s\) \['x'\] given twice"):
        sweep.grid([("x", "1"), ("x", "2")], nb)


@pytest.mark.notebook
def test_a_local_sweep_runs_every_point_and_a_failed_one_does_not_stop_the_others(tmp_path, kit_dirs, capsys):
    runs, _ = kit_dirs
    nb = tiny_notebook(tmp_path)
    code = main(["sweep", str(nb), "-p", "x", "1,2,3", "-p", "fail_at", "2", "--jobs", "2", "-m", "first grid"])
    out = capsys.readouterr().out
    assert code == 1  # one point failed
    manifests = sweep_manifests(runs)
    assert [m["sweep"]["point"] for m in manifests] == [{"x": v, "fail_at": 2} for v in (1, 2, 3)]
    assert [m["status"] for m in manifests] == ["ok", "failed", "ok"]
    assert [m["params"]["x"] for m in manifests] == [1, 2, 3]
    sweep_id = manifests[0]["sweep"]["id"]
    assert {m["sweep"]["id"] for m in manifests} == {sweep_id} and sweep_id.startswith("sweep-tiny-")
    assert all(m["sweep"]["message"] == "first grid" and m["sweep"]["size"] == 3 for m in manifests)
    assert re.search(r"point 2: x=2 fail_at=2: FAILED \(failed: cell In \[\d+\] failed: ValueError: x 2 fails\)", out)
    assert f"sweep {sweep_id}: 2 ok, 1 failed" in out
    summary = out[out.index("run "):]
    assert all(m["run_id"] in summary for m in manifests) and "x=2" in summary

    assert main(["runs", "--sweep", sweep_id]) == 0  # the same table again, from the manifests
    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[:2] == ["run", "status"] and len(table.splitlines()) == 4
    assert main(["runs", "--sweep", "sweep-none"]) == 2
    assert "no runs of sweep 'sweep-none'" in capsys.readouterr().err


def test_a_sweep_refuses_bad_usage_before_anything_runs(tmp_path, kit_dirs, capsys):
    runs, _ = kit_dirs
    nb = tiny_notebook(tmp_path)
    assert main(["sweep", str(nb), "-p", "y", "1,2"]) == 2
    assert "kit sweep: Unknown parameter 'y'" in capsys.readouterr().err
    assert main(["sweep", str(nb), "-p", "x", "1", "--jobs", "2", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "not both" in capsys.readouterr().err
    assert not runs.exists()


@pytest.mark.notebook
def test_a_three_point_sweep_on_a_dask_scheduler_and_worker(tmp_path, kit_dirs, dask_cluster, capsys,
                                                          monkeypatch):
    runs, _ = kit_dirs
    nb = tiny_notebook(tmp_path)
    monkeypatch.chdir(tmp_path)  # relative paths and the runs folder travel absolute
    assert main(["sweep", "tiny.ipynb", "-p", "x", "10,20,30", "--scheduler", dask_cluster]) == 0
    out = capsys.readouterr().out
    assert f"points on {dask_cluster}" in out
    manifests = sweep_manifests(runs)
    assert [m["params"]["x"] for m in manifests] == [10, 20, 30] and {m["status"] for m in manifests} == {"ok"}
    assert all(m["notebook"] == str(nb) for m in manifests)
    for m in manifests:  # each ran in a child of the dask worker process, not here
        executed = nbformat.read(Path(runs / m["run_id"] / "notebook.ipynb"), as_version=4)
        assert executed.cells[-1].outputs[0]["text"] == "ran on kit-test-worker\n"
    assert f"sweep {manifests[0]['sweep']['id']}: 3 ok, 0 failed" in out


def _children(pid: int) -> list[int]:
    """The pids of the processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.notebook
@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_a_signalled_sweep_ends_its_local_runs_and_records_them_interrupted(tmp_path, kit_dirs, signame):
    import os
    import signal
    import subprocess
    import sys
    import time

    runs, _ = kit_dirs
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("x: int = 0  # a knob", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("import time\nprint('started', flush=True)\ntime.sleep(1.5)\n"
                                          "print('ready', flush=True)\ntime.sleep(120)")]
    path = tmp_path / "sleepy.ipynb"
    nbformat.write(nb, path)
    env = {**os.environ, "KIT_HEARTBEAT_S": "0.3"}
    proc = subprocess.Popen([sys.executable, "-m", "kitlib.cli", "sweep", str(path), "-p", "x", "1,2", "--jobs", "2"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            ready = [p for p in runs.glob("sleepy-*/notebook.ipynb") if "ready\\n" in p.read_text(errors="ignore")]
            if len(ready) == 2:
                break
            time.sleep(0.3)
        assert len(ready) == 2, "the two runs never started"
        kit_runs = _children(proc.pid)
        assert len(kit_runs) == 2
        proc.send_signal(getattr(signal, signame))
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130 and f"kit sweep: interrupted ({signame})" in err and "Traceback" not in err, err
    assert not [pid for pid in kit_runs if _alive(pid)]  # no kit run left behind as an orphan
    statuses = [json.loads(p.read_text())["status"] for p in runs.glob("sleepy-*/manifest.json")]
    assert statuses == ["interrupted", "interrupted"]
