"""[train] function / nnstudy.run(train=fn): the user's own training loop, with nnstudy doing the rest
(grid x seeds, store, resume, divergence, failures with their traceback, the pool, Ray)."""

import hashlib
import json
import sqlite3
import textwrap

import numpy as np
import pandas as pd
import pytest

import nnstudy
from nnstudy.cli import main
from nnstudy.errors import StudyError

TRAIN_PY = '''
import math

import numpy as np


def falling(config, seed, data, report):
    """Losses that fall by a known rule: loss_e = (1 + seed/10) / 2**e."""
    x = config["train"]["args"].get("x", 1)
    for epoch in range(1, config["train"]["epochs"] + 1):
        loss = (1 + seed / 10) / 2 ** epoch
        report(epoch, train_loss=loss, val_loss=2 * loss, val_accuracy=1 - loss, val_f1=x / 10)
    return {"test_accuracy": 0.5 + x / 100 + seed / 1000}


def only_returns(config, seed, data, report):
    return {"test_accuracy": float(len(data.y_test)) / 1000, "val_accuracy": seed / 10}


def nan_at_two(config, seed, data, report):
    for epoch in range(1, 6):
        report(epoch, train_loss=math.nan if epoch == 2 else 1.0 / epoch)
    raise AssertionError("report() should have stopped the loop at the NaN")


def explodes_at_three(config, seed, data, report):
    for epoch, loss in enumerate([0.5, 2e5, 6e5, 1.0], 1):  # 6e5 is over 1e6 times 0.5: diverged, though finite
        report(epoch, train_loss=loss)
    raise AssertionError("report() should have stopped the loop at the exploded loss")


def fails_on_seed_one(config, seed, data, report):
    report(1, train_loss=1.0)
    if seed == 1:
        {}["no such key"]  # the user's bug
    return {"test_accuracy": 0.9}


def reports_its_own(config, seed, data, report):
    report(1, zzz=1.0)
    return {}


def scales_the_data(config, seed, data, report):
    data.x_train *= 2  # the user's bug: the data are shared
    return {"test_accuracy": 0.9}


def real_fit(config, seed, data, report):
    """A nearest-centroid classifier, so that the data really reach the function."""
    classes = np.unique(data.y_train)
    centroids = np.stack([data.x_train[data.y_train == c].mean(0) for c in classes])
    pred = classes[np.argmin(((data.x_test[:, None, :] - centroids) ** 2).sum(-1), axis=1)]
    report(1, train_loss=0.0)
    return {"test_accuracy": float((pred == data.y_test).mean())}
'''


def write(tmp_path, function, extra="", name="fn", seeds=2, epochs=3):
    (tmp_path / "train.py").write_text(TRAIN_PY)
    study = tmp_path / f"{name}.toml"
    study.write_text(textwrap.dedent(f"""
        [study]
        name = "{name}"
        [data]
        name = "iris"
        [train]
        function = "train.py:{function}"
        epochs = {epochs}
        """) + textwrap.dedent(extra) + f"\n[trials]\nseeds = {seeds}\n")
    return study


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "cache"))  # user files are cached here (datasets: sklearn)


def history(store, trial_id, name="fn"):
    h = nnstudy.load(name, store=store).history()
    return h[h.trial_id == trial_id]


def test_reported_epochs_are_the_history_and_the_return_the_final(tmp_path):
    study = write(tmp_path, "falling", '[report]\nmetrics = ["test_accuracy", "val_f1"]\n')
    s = nnstudy.run(study, store=tmp_path / "runs", workers=1)
    t = s.trials().set_index("seed")
    assert list(t.status) == ["done", "done"]
    for seed in (0, 1):
        loss = [(1 + seed / 10) / 2 ** e for e in (1, 2, 3)]
        h = history(tmp_path / "runs", t.loc[seed, "trial_id"]).pivot(index="epoch", columns="metric", values="value")
        assert list(h.index) == [1, 2, 3]
        np.testing.assert_allclose(h["train_loss"], loss)
        np.testing.assert_allclose(h["val_loss"], [2 * v for v in loss])
        assert (h["time_s"].diff().dropna() >= 0).all()
        # final: the last epoch's metrics, updated by the returned dict; train_time_s and epochs_run by nnstudy
        assert t.loc[seed, "train_loss"] == pytest.approx(loss[-1])
        assert t.loc[seed, "val_accuracy"] == pytest.approx(1 - loss[-1])
        assert t.loc[seed, "test_accuracy"] == pytest.approx(0.51 + seed / 1000)
        assert t.loc[seed, "val_f1"] == pytest.approx(0.1)
        assert t.loc[seed, "epochs_run"] == 3 and 0 < t.loc[seed, "train_time_s"] < 30
    r = s.results()
    assert r["test_accuracy_mean"].iloc[0] == pytest.approx(0.5105) and r["n"].iloc[0] == 2
    assert r["val_f1_mean"].iloc[0] == pytest.approx(0.1)
    assert (tmp_path / "runs" / "fn" / "figures" / "learning_curves.png").exists()
    # resume: everything is stored, nothing trains again
    again = nnstudy.run(study, store=tmp_path / "runs", workers=1)
    assert (again.summary.ran, again.summary.skipped) == (0, 2)


def test_a_returned_dict_alone_is_the_final(tmp_path):
    s = nnstudy.run(write(tmp_path, "only_returns"), store=tmp_path / "runs", workers=1)
    t = s.trials().set_index("seed")
    assert list(t.status) == ["done", "done"]
    assert t.loc[1, "val_accuracy"] == pytest.approx(0.1)
    from nnstudy.data import load
    from nnstudy.spec._schema import DataConfig

    n_test = len(load(DataConfig(name="iris")).y_test)
    assert n_test == 30 and t.loc[0, "test_accuracy"] == pytest.approx(n_test / 1000)  # the data reach the function
    assert "epochs_run" not in t.columns or t["epochs_run"].isna().all()
    assert history(tmp_path / "runs", t.loc[0, "trial_id"]).empty


def test_a_nan_metric_is_a_diverged_trial_and_ends_its_loop(tmp_path):
    s = nnstudy.run(write(tmp_path, "nan_at_two", seeds=1), store=tmp_path / "runs", workers=1)
    t = s.trials()
    assert list(t.status) == ["diverged"]
    assert t.error.iloc[0] == "train_loss became nan at epoch 2"
    h = history(tmp_path / "runs", t.trial_id.iloc[0])
    assert sorted(h.epoch.unique()) == [1, 2]


def test_a_finite_exploded_loss_is_a_diverged_trial(tmp_path):
    s = nnstudy.run(write(tmp_path, "explodes_at_three", seeds=1, epochs=4), store=tmp_path / "runs", workers=1)
    t = s.trials()
    assert list(t.status) == ["diverged"]
    assert t.error.iloc[0] == "train_loss became 6e+05 (over 1e+06 times its first value 0.5) at epoch 3"


def test_changing_the_shared_data_fails_the_trial_saying_to_copy_it(tmp_path, capsys):
    study = write(tmp_path, "scales_the_data", seeds=1)
    assert main(["run", str(study), "--store", str(tmp_path / "runs"), "--workers", "1"]) == 1
    line = next(ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("failed "))
    user_line = 1 + TRAIN_PY.splitlines().index("    data.x_train *= 2  # the user's bug: the data are shared")
    assert ("ValueError: output array is read-only: the data's arrays are read-only, shared by the trials; copy one "
            f"before changing it (x = data.x_train.copy()) (train.py:{user_line})") in line, line


def test_an_exception_is_a_failed_trial_with_its_traceback_and_the_study_goes_on(tmp_path, capsys):
    study = write(tmp_path, "fails_on_seed_one", seeds=3)
    assert main(["run", str(study), "--store", str(tmp_path / "runs"), "--workers", "1"]) == 1
    err = capsys.readouterr().err
    line = next(ln for ln in err.splitlines() if ln.startswith("failed "))
    assert "KeyError: 'no such key' (train.py:" in line and "prints the traceback" in line  # one line
    assert "Traceback" not in err
    t = pd.read_csv(tmp_path / "runs" / "fn" / "trials.csv").set_index("seed")
    assert list(t.status) == ["done", "failed", "done"]
    assert main(["show", t.loc[1, "trial_id"], "--store", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "Traceback (most recent call last):" in out
    sha = hashlib.sha256((tmp_path / "train.py").read_bytes()).hexdigest()
    assert f"code: train.py:fails_on_seed_one (sha256 {sha})" in out  # which code the trial ran
    user_line = 1 + TRAIN_PY.splitlines().index('        {}["no such key"]  # the user\'s bug')
    assert f'File "train.py", line {user_line}, in fails_on_seed_one' in out
    assert '{}["no such key"]' in out  # the source line itself, read from the cached copy
    assert "files/" not in out  # the cache path is written as the study's file name
    # the report files carry the error's line, not the traceback
    assert t.loc[1, "error"] == f"KeyError: 'no such key' (train.py:{user_line})"
    report = (tmp_path / "runs" / "fn" / "report.md").read_text()
    assert t.loc[1, "error"] in report and "Traceback" not in report


def test_sweep_over_train_args_times_seeds(tmp_path):
    study = write(tmp_path, "falling", '[sweep]\n"train.args.x" = [1, 5]\n[report]\nmetrics = ["val_f1"]\n',
                  epochs=2)
    s = nnstudy.run(study, store=tmp_path / "runs", workers=1)
    r = s.results().set_index("train.args.x")
    assert r.loc[5, "rank"] == 1 and r.loc[1, "rank"] == 2  # an F1 is higher-is-better: x / 10 reported
    t = s.trials()
    assert len(t) == 4 and set(t.status) == {"done"}
    assert "train.args.x" in t.columns
    got = t.set_index(["train.args.x", "seed"])["test_accuracy"]
    for x in (1, 5):
        for seed in (0, 1):
            assert got[(x, seed)] == pytest.approx(0.5 + x / 100 + seed / 1000)
    assert len(set(t.trial_id)) == 4


def test_metrics_reported_only_per_epoch_are_named(tmp_path, capsys):
    nnstudy.run(write(tmp_path, "reports_its_own", seeds=1, epochs=1), store=tmp_path / "runs", workers=1)
    err = " ".join(capsys.readouterr().err.split())
    assert "reported no test_accuracy, val_accuracy; name the metrics it reports in [report] metrics = [...] " \
        "(it reported: zzz)" in err


def test_a_function_that_reports_nothing_says_so(tmp_path, capsys):
    nnstudy.run(write(tmp_path, "only_returns", seeds=1, epochs=1, extra='[report]\nmetrics = ["nope"]\n'),
                store=tmp_path / "runs", workers=1)
    err = " ".join(capsys.readouterr().err.split())
    assert "reported no nope;" in err


def test_the_process_pool_with_two_workers(tmp_path, capsys):
    study = write(tmp_path, "real_fit", seeds=2)
    s = nnstudy.run(study, store=tmp_path / "runs", workers=2,
                    sweep={"data.split_seed": [0, 1]})
    err = " ".join(capsys.readouterr().err.split())
    assert "on 2 worker(s)" in err
    assert ("report.metrics: the training function reported no val_accuracy; name the metrics it reports in "
            "[report] metrics = [...] (it reported: train_loss, test_accuracy)") in err
    t = s.trials()
    assert len(t) == 4 and set(t.status) == {"done"}
    assert (t.test_accuracy > 0.7).all()  # a nearest-centroid classifier on iris
    inline = nnstudy.run(study, store=tmp_path / "inline", workers=1, sweep={"data.split_seed": [0, 1]}).trials()
    pd.testing.assert_series_equal(t.set_index("trial_id").test_accuracy.sort_index(),
                                   inline.set_index("trial_id").test_accuracy.sort_index())


def test_an_edited_file_means_new_trial_ids_and_an_unchanged_one_the_same(tmp_path):
    study = write(tmp_path, "falling", seeds=1, epochs=1)
    first = nnstudy.run(study, store=tmp_path / "runs", workers=1).trials().trial_id.tolist()
    (tmp_path / "train.py").write_text(TRAIN_PY)  # rewritten, same bytes
    same = nnstudy.run(study, store=tmp_path / "runs", workers=1)
    assert same.summary.ran == 0 and same.trials().trial_id.tolist() == first
    (tmp_path / "train.py").write_text(TRAIN_PY.replace("0.5 + x / 100", "0.25 + x / 100"))
    edited = nnstudy.run(study, store=tmp_path / "runs", workers=1)
    assert edited.summary.ran == 1
    new = edited.trials()
    assert len(new) == 1 and new.trial_id.iloc[0] != first[0]
    assert new.test_accuracy.iloc[0] == pytest.approx(0.26)


# ---------------------------------------------------------------- nnstudy.run(study, train=fn)

DICT_STUDY = {"study": {"name": "given"}, "data": {"name": "iris"}, "train": {"epochs": 2, "args": {"k": 3}},
              "sweep": {"train.lr": [0.1, 0.2]}, "trials": {"seeds": 2}}


def module_level_train(config, seed, data, report):
    for epoch in range(1, config["train"]["epochs"] + 1):
        report(epoch, train_loss=config["train"]["lr"] / epoch, val_accuracy=seed / 10)
    return {"test_accuracy": config["train"]["args"]["k"] / 10 + config["train"]["lr"]}


def test_run_with_a_module_level_function_in_the_pool(tmp_path, capsys):
    s = nnstudy.run(DICT_STUDY, store=tmp_path / "runs", workers=2, train=module_level_train)
    err = " ".join(capsys.readouterr().err.split())
    assert f"runs the training function {__name__}:module_level_train" in err
    assert "imported by name in each worker" in err and "on 2 worker(s)" in err
    t = s.trials()
    assert len(t) == 4 and set(t.status) == {"done"}
    np.testing.assert_allclose(sorted(t.test_accuracy), [0.4, 0.4, 0.5, 0.5])
    cfg = json.loads(sqlite3.connect(tmp_path / "runs" / "nnstudy.sqlite").execute(
        "select config_json from trials limit 1").fetchone()[0])
    assert cfg["train"]["engine"] == "function" and cfg["train"]["function"].endswith(":module_level_train")
    assert len(cfg["train"]["function_sha256"]) == 64
    again = nnstudy.run(DICT_STUDY, store=tmp_path / "runs", workers=2, train=module_level_train)
    assert again.summary.ran == 0


def test_a_function_that_cannot_be_sent_to_workers_runs_in_this_process(tmp_path, capsys):
    seen = []

    def nested(config, seed, data, report):  # a closure: no other process can import it
        seen.append(seed)
        return {"test_accuracy": 0.5}

    s = nnstudy.run(DICT_STUDY, store=tmp_path / "runs", workers=4, train=nested)
    err = " ".join(capsys.readouterr().err.split())  # as one line, however the console wrapped it
    assert "in this process, one trial at a time" in err and "on 1 worker(s)" in err
    assert sorted(seen) == [0, 0, 1, 1] and set(s.trials().status) == {"done"}


@pytest.mark.parametrize("bad, message", [
    (3, "train=3 is not a function"),
    (dict, "is not a function"),
    (lambda config, seed: None, "must take four arguments (config, seed, data, report)"),
])
def test_train_given_a_non_function_is_one_line_and_nothing_is_stored(tmp_path, bad, message):
    with pytest.raises(StudyError, match=message.replace("(", r"\(").replace(")", r"\)")) as e:
        nnstudy.run(DICT_STUDY, store=tmp_path / "runs", train=bad)
    assert "\n" not in str(e.value) and str(e.value).startswith("train=")
    assert not (tmp_path / "runs").exists()


def test_a_function_study_on_ray_from_a_directory_the_workers_do_not_share(ray_address, tmp_path, monkeypatch):
    """The two-node test cluster: train.py is in the driver's folder and cache only; each task is sent it."""
    from test_ray import driver

    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "driver-cache"))
    study = write(tmp_path, "falling", '[sweep]\n"train.args.x" = [1, 5]\n[report]\nmetrics = ["val_f1"]\n', epochs=2)
    code, out = driver("run", study, "--executor", "ray", "--address", ray_address, "--store", tmp_path / "ray",
                       cwd=tmp_path)
    assert code == 0 and out.count("done ") == 4, out
    ray_rows = pd.read_csv(tmp_path / "ray" / "fn" / "trials.csv").set_index("trial_id").sort_index()
    local = nnstudy.run(study, store=tmp_path / "local", workers=1).trials().set_index("trial_id").sort_index()
    assert list(ray_rows.index) == list(local.index)
    pd.testing.assert_series_equal(ray_rows.test_accuracy, local.test_accuracy)
    pd.testing.assert_series_equal(ray_rows.train_loss, local.train_loss)
    pd.testing.assert_series_equal(ray_rows.val_f1, local.val_f1)
    assert sorted(ray_rows.val_f1) == pytest.approx([0.1, 0.1, 0.5, 0.5])  # train.args.x / 10, as reported


def test_metric_direction_of_reported_names():
    from nnstudy.report import higher_is_better

    assert [higher_is_better(m) for m in ("val_f1", "test_auc", "val_recall", "test_r2", "val_accuracy")] == [True] * 5
    assert [higher_is_better(m) for m in ("val_loss", "profile_time", "grad_norm/f1x", "test_mse")] == [False] * 4


def test_two_training_functions_in_two_files_swept_side_by_side(tmp_path):
    study = write(tmp_path, "falling", seeds=1, epochs=1, extra='[sweep]\n"train.function" = '
                  '["train.py:falling", "other.py:train"]\n')
    (tmp_path / "other.py").write_text("def train(config, seed, data, report):\n    return {'test_accuracy': 0.125}\n")
    t = nnstudy.run(study, store=tmp_path / "runs", workers=1).trials().set_index("train.function")
    assert t.loc["other.py:train", "test_accuracy"] == 0.125
    assert t.loc["train.py:falling", "test_accuracy"] == pytest.approx(0.51)


def test_a_resolved_config_validates_again_without_the_study_folder(tmp_path):
    """A worker re-validates a trial's train section with no study folder: its sha256 is taken as written."""
    from nnstudy.spec import expand, read_study
    from nnstudy.spec._schema import TrainConfig

    study, _, label = read_study(write(tmp_path, "falling", seeds=1))
    resolved = expand(study, label)[0].config["train"]
    (tmp_path / "train.py").unlink()  # nothing next to a study on a worker
    again = TrainConfig.model_validate(resolved).model_dump(mode="json")
    assert again == resolved and again["engine"] == "function" and len(again["function_sha256"]) == 64
    with pytest.raises(ValueError, match="no such file 'train.py'"):  # with the folder, the file must be there
        TrainConfig.model_validate(resolved, context={"base_dir": tmp_path})


def test_a_function_only_this_process_can_run_is_refused_for_ray(tmp_path):
    def nested(config, seed, data, report):
        return {"test_accuracy": 0.5}

    with pytest.raises(StudyError, match=r"cannot be sent to Ray workers.*\[train\] function = \"train.py:train\""):
        nnstudy.run(DICT_STUDY, store=tmp_path / "runs", train=nested, executor="ray")
    assert not (tmp_path / "runs").exists()
