import optuna
import pytest

from kitlib import hpo
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
    with pytest.raises(ParameterError, match=r"Unknown pruner 'asha'; expected one of \['median', 'hyperband', 'none'\]"):
        hpo.make_pruner("asha")
    with pytest.raises(ParameterError, match="give a storage URL or a run_dir"):
        hpo.storage_url(None, None)


def test_trials_table_best_first(tmp_path):
    study = hpo.create_study("t", run_dir=tmp_path, pruner="none")
    hpo.tune(study, lambda t: t.suggest_int("k", 0, 100), n_trials=4, progress=False)
    table = hpo.trials_table(study)
    assert list(table["value"]) == sorted(table["value"], reverse=True)
