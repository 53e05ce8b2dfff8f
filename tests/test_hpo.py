"""Optuna studies: resume, pruning, and studies shared between processes and machines (journal files and a real
PostgreSQL server started by tests/servers.py)."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from servers import postgres_server, postgres_url  # noqa: F401  (fixtures are used by name)

from kitlib import hpo
from kitlib.cli import main
from kitlib.errors import ParameterError


class Interrupted(Exception):
    pass


def test_interrupted_study_resumes_without_losing_finished_trials(tmp_path):
    calls = []

    def objective(trial):
        x = trial.suggest_float("x", -1, 1)
        calls.append(x)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the user pressed Ctrl-C during the third trial
        return -(x ** 2)

    study = hpo.create_study("s", run_dir=tmp_path, seed=0)
    with pytest.raises(KeyboardInterrupt):
        hpo.tune(study, objective, n_trials=5, progress=False)
    assert (tmp_path / "optuna.db").is_file()

    resumed = hpo.create_study("s", run_dir=tmp_path, seed=0)  # a fresh process would do exactly this
    done = [t for t in resumed.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert [t.params["x"] for t in done] == calls[:2]
    hpo.tune(resumed, objective, n_trials=5, progress=False)
    assert hpo.finished_trials(resumed) == 5
    assert len(calls) == 6  # 2 kept + 1 interrupted + 3 new: nothing finished was run again


def test_median_pruner_stops_a_trial_that_falls_behind(tmp_path):
    curves = [[0.5, 0.6, 0.7, 0.8]] * 3 + [[0.1, 0.1, 0.1, 0.1]]

    def objective(trial):
        curve = curves[trial.number]
        for epoch, value in enumerate(curve, start=1):
            trial.report(value, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return curve[-1]

    study = hpo.create_study("p", storage=f"sqlite:///{tmp_path / 'x.db'}", pruner="median", n_startup_trials=2,
                             n_warmup_steps=2)
    hpo.tune(study, objective, n_trials=4, progress=False)
    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE", "COMPLETE", "COMPLETE", "PRUNED"]
    assert study.trials[3].last_step == 2  # epoch 1 is warm-up; pruned at the first epoch it may be


def test_bad_names():
    with pytest.raises(ParameterError,
                       match=r"Unknown pruner 'asha'; expected one of \['median', 'hyperband', 'none'\]"):
        hpo.make_pruner("asha")
    with pytest.raises(ParameterError, match="give a storage URL or a run_dir"):
        hpo.storage_url(None, None)


def test_trials_table_best_first(tmp_path):
    study = hpo.create_study("t", run_dir=tmp_path, pruner="none")
    hpo.tune(study, lambda t: t.suggest_int("k", 0, 100), n_trials=4, progress=False)
    table = hpo.trials_table(study)
    assert list(table["value"]) == sorted(table["value"], reverse=True)


# ------------------------------------------------------------------------------------------- shared studies
# A worker process: joins study "shared" in the storage URL argv[1] with a 1 s heartbeat and a 3 s grace period
# and runs argv[4] trials; mode "hang" writes the trial number to argv[2] and then never returns.
WORKER = '''
import pathlib, sys, time
from kitlib import hpo
url, marker, mode, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
study = hpo.create_study("shared", storage=url, pruner="none", heartbeat_s=1, grace_s=3)
def objective(trial):
    x = trial.suggest_float("x", 0, 1)
    if mode == "hang":
        pathlib.Path(marker).write_text(str(trial.number))
        time.sleep(3600)
    return x
hpo.tune(study, objective, n, progress=False, run_id=mode)
'''


def _worker(tmp_path: Path, url: str, mode: str, n: int) -> subprocess.Popen:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    return subprocess.Popen([sys.executable, str(script), url, str(tmp_path / f"{mode}.marker"), mode, str(n)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_plain_postgresql_url_gets_the_installed_driver():
    assert hpo.database_url("postgresql://u:p@db.example:5432/optuna") == "postgresql+psycopg://u:p@db.example:5432/optuna"
    assert hpo.database_url("postgresql+psycopg2://u@h/db") == "postgresql+psycopg2://u@h/db"  # a chosen driver stays
    urls = ("sqlite:///x.db", "journal:/tmp/j.log", "postgresql://h/db")
    assert [hpo.is_shared(u) for u in urls] == [False, True, True]
    with pytest.raises(ParameterError, match=r"Unknown Optuna storage 'redis://h:\*\*\*@x'; expected sqlite:///PATH"):
        hpo.storage_kind("redis://h:secret@x")


@pytest.mark.parametrize("key, other", [("competition", "sentiment-classification"), ("data_sha256", "b" * 64),
                                        ("fold_seed", 1)])
def test_a_study_of_other_settings_is_refused(tmp_path, key, other):
    mine = {"competition": "recommender", "data_sha256": "a" * 64, "fold_seed": 0}
    url = f"sqlite:///{tmp_path / 'o.db'}"
    study = hpo.create_study("s", storage=url, identity=mine)
    hpo.tune(study, lambda t: t.suggest_float("x", 0, 1), 2, progress=False)
    assert hpo.create_study("s", storage=url, identity=dict(mine)).user_attrs[hpo.IDENTITY_ATTR] == mine  # same: joins
    with pytest.raises(ParameterError, match=rf"study 's' in sqlite:///.*o.db holds trials of other settings \({key} "
                                             r".* there, .* here\): .* name another study \(-p study NAME\)"):
        hpo.create_study("s", storage=url, identity={**mine, key: other})


def test_a_shared_study_without_a_record_is_refused_and_an_old_sqlite_one_adopted(tmp_path):
    mine = {"competition": "recommender", "fold_seed": 0}
    for url in (f"journal:{tmp_path / 'old.log'}", f"sqlite:///{tmp_path / 'old.db'}"):
        old = optuna.create_study(study_name="old", storage=hpo.open_storage(url), direction="maximize")
        old.optimize(lambda t: 0.5, n_trials=1)
    with pytest.raises(ParameterError, match=r"study 'old' in journal:.* has 1 trials and no record of its "
                                             r"competition, data or folds"):
        hpo.create_study("old", storage=f"journal:{tmp_path / 'old.log'}", identity=mine)
    adopted = hpo.create_study("old", storage=f"sqlite:///{tmp_path / 'old.db'}", identity=mine)
    assert adopted.user_attrs[hpo.IDENTITY_ATTR] == mine and len(adopted.trials) == 1


def test_a_study_of_the_other_direction_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'd.db'}"
    hpo.create_study("s", storage=url, direction="minimize")
    with pytest.raises(ParameterError, match="study 's' .* is to minimize; this run would maximize"):
        hpo.create_study("s", storage=url, direction="maximize")


def test_processes_sharing_a_journal_add_up_their_trials(tmp_path):
    url = f"journal:{tmp_path / 'study.log'}"
    workers = [_worker(tmp_path, url, f"w{i}", 3) for i in range(2)]  # started together: both create the study
    for w in workers:
        _, err = w.communicate(timeout=300)
        assert w.returncode == 0, err
    study = hpo.load_study("shared", url)
    assert hpo.finished_trials(study) == 6
    assert sorted(t.user_attrs["run_id"] for t in study.trials) == ["w0"] * 3 + ["w1"] * 3
    assert len({t.params["x"] for t in study.trials}) == 6  # each worker draws its own sampler seed


def test_on_sqlite_n_trials_is_the_total_and_on_a_shared_storage_what_a_run_adds(tmp_path):
    for url, expected in ((f"sqlite:///{tmp_path / 's.db'}", 3), (f"journal:{tmp_path / 's.log'}", 6)):
        for _ in range(2):
            study = hpo.create_study("t", storage=url, pruner="none")
            hpo.tune(study, lambda t: t.suggest_float("x", 0, 1), 3, progress=False)
        assert hpo.finished_trials(hpo.load_study("t", url)) == expected


def test_kit_study_prints_the_trials_best_first_and_the_best(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'k.db'}"
    study = hpo.create_study("knobs", storage=url, pruner="none",
                             identity={"competition": "recommender", "fold_seed": 0})
    hpo.tune(study, lambda t: t.suggest_int("k", 0, 100), 4, progress=False, run_id="run-a")
    best = max(t.value for t in study.trials)
    assert main(["study", "--storage", url]) == 0  # the only study in the storage
    out = capsys.readouterr().out
    assert out.startswith("study knobs (maximize)\n  competition: recommender\n  fold_seed: 0\ntrials: 4 (4 complete)")
    values = [float(line.split()[1]) for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert values == sorted((t.value for t in study.trials), reverse=True)
    assert f"value {best:g} (run run-a)" in out
    assert main(["study", "other", "--storage", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kit study: no study 'other' in sqlite:///") and "its studies are ['knobs']" in err


def test_a_sigkilled_worker_leaves_a_failed_trial_that_another_worker_retries(tmp_path, postgres_url):
    hung = _worker(tmp_path, postgres_url, "hang", 1)
    marker = tmp_path / "hang.marker"
    for _ in range(1200):
        if marker.is_file() or hung.poll() is not None:
            break
        time.sleep(0.1)
    assert marker.is_file(), hung.communicate()[1]
    os.kill(hung.pid, signal.SIGKILL)  # mid-trial: no chance to tell the storage
    hung.communicate()
    killed = hpo.load_study("shared", postgres_url).trials
    assert [t.state.name for t in killed] == ["RUNNING"]
    time.sleep(4)  # past the 3 s grace period since its last heartbeat

    second = _worker(tmp_path, postgres_url, "second", 1)
    _, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    trials = hpo.load_study("shared", postgres_url).trials
    assert [t.state.name for t in trials] == ["FAIL", "COMPLETE"]
    assert trials[1].params == trials[0].params  # the same point, run again
    assert trials[1].system_attrs["failed_trial"] == 0  # what RetryHeartbeatStaleTrialCallback records
    assert trials[1].user_attrs["run_id"] == "second"


@pytest.mark.notebook
def test_two_concurrent_kit_runs_share_one_study_on_postgresql(tmp_path, kit_dirs, postgres_url, capsys):
    runs, _ = kit_dirs
    cmd = [sys.executable, "-m", "kitlib.cli", "run", "recommender", "-q", "-p", "smoke", "true",
           "-p", "storage", postgres_url, "-p", "study", "fm-shared"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for proc in procs:  # kernels started at the same moment: IPC sockets, no port race
        _, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-2000:]
    manifests = [json.loads(p.read_text()) for p in sorted(runs.glob("*/manifest.json"))]
    assert len(manifests) == 2 and all(m["params"]["study"] == "fm-shared" for m in manifests)
    assert all("***" in m["params"]["storage"] for m in manifests)  # the password never reaches the record

    study = hpo.load_study("fm-shared", postgres_url)
    assert hpo.finished_trials(study) == 4  # smoke: 2 trials each, added up
    assert sorted(t.user_attrs["run_id"] for t in study.trials) == sorted(m["run_id"] for m in manifests for _ in "ab")
    identity = study.user_attrs[hpo.IDENTITY_ATTR]
    assert identity["competition"] == "recommender" and identity["fold_seed"] == 0
    assert len(identity["data_sha256"]) == 64

    other = subprocess.run(cmd + ["-p", "fold_seed", "1"], capture_output=True, text=True, timeout=900)
    assert other.returncode == 1
    assert "holds trials of other settings (fold_seed 0 there, 1 here)" in other.stderr
    assert hpo.finished_trials(hpo.load_study("fm-shared", postgres_url)) == 4  # nothing was mixed in

    assert main(["study", "fm-shared", "--storage", postgres_url]) == 0
    out = capsys.readouterr().out
    assert "trials: 4 (" in out and all(m["run_id"] in out for m in manifests)
    assert "best: trial" in out and postgres_url.split("@")[0].split(":")[-1] not in out  # no password printed


# ------------------------------------------------------------------ issue 24: a storage that fails is one line
def test_kit_study_on_a_storage_it_cannot_open_is_one_line(tmp_path, postgres_server, capsys):
    from servers import free_port

    host, port, user, password = postgres_server
    cases = {
        f"postgresql://{user}:wrong-{password}@{host}:{port}/postgres": "password authentication failed",
        f"postgresql://{user}:{password}@{host}:{free_port()}/postgres": "Connection refused",
        f"sqlite:///{tmp_path}/missing/dir/study.db": "no such file",
        f"journal:{tmp_path}/missing/dir/j.log": "no such file",
    }
    for url, said in cases.items():
        assert main(["study", "--storage", url]) in (1, 2)
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err and said in err, err
        assert err.startswith("kit study: ") and password not in err
    assert not (tmp_path / "missing").exists()  # reading never creates a storage


def test_a_postgresql_server_gone_mid_run_is_one_error_naming_the_storage(postgres_url, postgres_server):
    """Optuna's trial loop raised UnboundLocalError ('updated_state') when the database went away mid-trial."""
    import psycopg

    from kitlib.errors import StorageError

    host, port, user, password = postgres_server
    database = postgres_url.rsplit("/", 1)[1]
    study = hpo.create_study("gone", storage=postgres_url, identity={"c": 1})

    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        if trial.number == 1:  # the server stops taking this database's connections, and drops the open ones
            with psycopg.connect(host=host, port=port, user=user, password=password, dbname="postgres",
                                 autocommit=True) as conn:
                conn.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false')
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> "
                             "pg_backend_pid()", (database,))
        return x

    with pytest.raises(StorageError) as caught:
        hpo.tune(study, objective, 3, progress=False)
    said = str(caught.value)
    assert said.startswith(f"Optuna storage postgresql+psycopg://{user}:***@{host}:{port}/{database}: recording the "
                           "trials of study 'gone' failed: ")
    assert "\n" not in said and password not in said
