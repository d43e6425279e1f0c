"""nnstudy export: TensorBoard event files read back with tensorboard's EventAccumulator, MLflow runs read back
through a file-store tracking URI, and the Parquet long history read back with pandas, each equal to the store's
per-epoch metrics (a finished study, and a trial still running with two epochs stored); bad input is one line,
exit 2, nothing written."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pandas as pd
import pytest

if not os.environ.get("CI"):  # CI installs the export extra (scripts/setup.sh): there a missing one fails
    for package in ("tensorboard", "mlflow", "pyarrow"):
        pytest.importorskip(package, reason="pip install 'nnstudy[export]'")

import nnstudy  # noqa: E402
from nnstudy.cli import main  # noqa: E402
from nnstudy.exports._trials import flat  # noqa: E402
from test_cli_hostile import store_rows  # noqa: E402
from nnstudy.spec import expand, read_study  # noqa: E402
from nnstudy.store import Store  # noqa: E402

STUDY = {"study": {"name": "tiny", "description": "exported <b>"},
         "data": {"name": "moons", "n_samples": 200, "noise": 0.2},
         "model": {"hidden": [4]}, "train": {"epochs": 3, "batch_size": 32},
         "sweep": {"train.lr": [0.1, 0.01]}, "trials": {"seeds": 2}}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A finished study of 4 trials, and a study with one trial running (2 epochs stored) and one pending."""
    folder = tmp_path_factory.mktemp("export") / "runs"
    nnstudy.run(STUDY, store=folder, workers=1)
    spec, _, _ = read_study({"study": {"name": "live"}, "data": {"name": "moons"}, "train": {"epochs": 5},
                             "trials": {"seeds": 2}})
    trials = expand(spec)
    db = Store(folder)
    db.register("live", "", spec.model_dump(mode="json"), "", "classification", ["val_accuracy"], [], trials, {})
    assert db.claim("live", trials[0].trial_id)
    db.add_epochs("live", [(trials[0].trial_id, 1, {"train_loss": 0.5, "val_loss": 0.75}),
                           (trials[0].trial_id, 2, {"train_loss": 0.25, "val_loss": 0.625})])
    return folder


FIXED = ("seed", "status", "error", "started_at", "finished_at", "train.lr")


def stored(folder, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    snap = Store(folder, create=False).snapshot(name)
    return snap.trials, snap.history


def conditions(folder, name: str) -> dict[str, dict]:
    """trial id -> the conditions it ran under (device, threads, host, versions), as stored."""
    return Store(folder, create=False).snapshot(name).conditions


def configs(folder, name: str) -> dict[str, dict]:
    db = Store(folder, create=False)
    return {t: json.loads(next(r for r in db.find_trials(t) if r["study"] == name)["config_json"])
            for t in db.snapshot(name).trials.trial_id}


@pytest.mark.parametrize("name", ["tiny", "live"])
def test_tensorboard_event_files_hold_every_epoch(store, tmp_path, name, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "tb"
    for _ in range(2):  # a second export replaces the first: no point twice
        assert main(["export", name, "--to", "tensorboard", str(out), "--store", str(store)]) == 0
    trials, history = stored(store, name)
    started = trials[trials.status != "pending"]
    assert f"exported {len(started)} trials of {name} ({len(history)} per-epoch values)" in capsys.readouterr().out
    assert sorted(p.name for p in (out / name).iterdir()) == sorted(started.trial_id)
    for t in started.itertuples():
        acc = EventAccumulator(str(out / name / t.trial_id), size_guidance={"scalars": 0})
        acc.Reload()
        mine = history[history.trial_id == t.trial_id]
        row = trials.set_index("trial_id").loc[t.trial_id]
        finals = {f"final/{m}" for m in row.index if m not in FIXED and pd.notna(row[m])}
        assert set(acc.Tags()["scalars"]) == set(mine.metric) | finals
        for metric, rows in mine.groupby("metric"):
            points = acc.Scalars(metric)
            assert [p.step for p in points] == rows.epoch.tolist()
            np.testing.assert_array_equal([p.value for p in points], rows.value.to_numpy(np.float32))
        if finals:
            (final,) = acc.Scalars("final/test_accuracy")
            assert final.value == np.float32(t.test_accuracy)
        ran_under = conditions(store, name).get(t.trial_id)  # none for the running trial
        text = "conditions/text_summary"
        texts = [json.loads(x.tensor_proto.string_val[0]) for x in acc.Tensors(text)
                 ] if text in acc.Tags()["tensors"] else []
        assert texts == ([ran_under] if ran_under else [])
    assert len(history) == (120 if name == "tiny" else 4)


def test_mlflow_runs_hold_the_config_and_every_epoch(store, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    uri = (tmp_path / "mlruns").as_uri()
    for _ in range(2):  # a second export deletes the first's runs
        done = nnstudy.export("tiny", "mlflow", uri, store=store)
    assert (done.trials, done.values) == (4, 120)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("nnstudy")
    runs = client.search_runs([exp.experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert parent.data.tags["nnstudy.study"] == "tiny" and parent.info.status == "FINISHED"
    children = {r.data.tags["nnstudy.trial_id"]: r for r in runs if r is not parent}
    trials, history = stored(store, "tiny")
    assert set(children) == set(trials.trial_id)
    for tid, config in configs(store, "tiny").items():
        run = children[tid]
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id and run.info.status == "FINISHED"
        want = {k: str(v) if isinstance(v, (int, float, str)) else json.dumps(v, sort_keys=True)
                for k, v in flat(config).items()}
        want["seed"] = str(int(trials.set_index("trial_id").seed[tid]))
        assert run.data.params == want
        mine = history[history.trial_id == tid]
        for metric, rows in mine.groupby("metric"):
            got = client.get_metric_history(run.info.run_id, metric)
            assert [(m.step, m.value) for m in got] == list(zip(rows.epoch, rows.value)), metric
        assert run.data.metrics["final/test_accuracy"] == trials.set_index("trial_id").test_accuracy[tid]
        ran_under = {k.removeprefix("nnstudy.conditions."): v for k, v in run.data.tags.items()
                     if k.startswith("nnstudy.conditions.")}
        assert ran_under == {k: str(v) for k, v in conditions(store, "tiny")[tid].items()}
        assert ran_under["device"] == "cpu" and ran_under["threads"].isdigit()


def test_mlflow_running_trial_stays_running(store, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    uri = (tmp_path / "mlruns").as_uri()
    assert main(["export", "live", "--to", "mlflow", uri, "--store", str(store)]) == 0
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("nnstudy").experiment_id])
    (child,) = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert child.info.status == "RUNNING" and child.data.tags["nnstudy.status"] == "running"
    assert [(m.step, m.value) for m in client.get_metric_history(child.info.run_id, "val_loss")] == [
        (1, 0.75), (2, 0.625)]


def test_mlflow_server_that_is_down_is_said_at_once(store, capsys):
    import socket

    with socket.socket() as s:  # a port nothing listens on: bound, then closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    assert main(["export", "tiny", "--to", "mlflow", uri, "--store", str(store)]) == 2
    assert capsys.readouterr().err == (
        f"nnstudy: error: --to mlflow {uri}: cannot reach 127.0.0.1:{port} (Connection refused)\n")


def test_parquet_is_the_long_history(store, tmp_path):
    path = tmp_path / "out" / "tiny.parquet"
    assert main(["export", "tiny", "--to", "parquet", str(path), "--store", str(store)]) == 0
    got = pd.read_parquet(path)
    trials, history = stored(store, "tiny")
    assert list(got.columns[:4]) == ["study", "trial_id", "seed", "status"]
    assert list(got.columns[-3:]) == ["epoch", "metric", "value"]
    assert (got.study == "tiny").all() and (got.status == "done").all()
    def rows(df: pd.DataFrame) -> list[tuple]:
        return sorted(df[["trial_id", "epoch", "metric", "value"]].itertuples(index=False, name=None))

    assert rows(got) == rows(history) and len(got) == 120
    by_trial = got.drop_duplicates("trial_id").set_index("trial_id")
    for tid, config in configs(store, "tiny").items():
        row = by_trial.loc[tid]
        assert row["seed"] == trials.set_index("trial_id").seed[tid]
        assert row["train.lr"] == config["train"]["lr"] and row["model.hidden"] == "[4]"
        assert row["train.early_stopping.patience"] == config["train"]["early_stopping"]["patience"]
        assert pd.isna(row["data.split_seed"]) or row["data.split_seed"] == config["data"]["split_seed"]
        ran_under = conditions(store, "tiny")[tid]
        assert {k: row[f"conditions.{k}"] for k in ran_under} == ran_under
        assert row["conditions.device"] == "cpu" and isinstance(row["conditions.threads"], (int, np.integer))
    assert not list(tmp_path.glob("out/.*"))  # no temporary file left


def one_line_exit_2(capsys, argv, expected: str) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and expected in captured.err, captured.err


def test_bad_input_is_one_line_and_writes_nothing(store, tmp_path, capsys, monkeypatch):
    before = store_rows(store)  # rows, not bytes: closing the store may checkpoint its WAL into the file
    one_line_exit_2(capsys, ["export", "nope", "--to", "parquet", str(tmp_path / "a.parquet"), "--store", str(store)],
                    "no study named 'nope'")
    one_line_exit_2(capsys, ["export", "tiny", "--to", "csv", str(tmp_path / "a.csv"), "--store", str(store)],
                    "--to csv: choose one of tensorboard, mlflow, parquet")
    one_line_exit_2(capsys, ["export", "tiny", "--to", "tensorboard", "--store", str(store)], "expected 2 arguments")
    one_line_exit_2(capsys, ["export", "tiny", "--to", "parquet", "x.parquet", "--store", str(tmp_path / "none")],
                    "no store at")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    one_line_exit_2(capsys, ["export", "tiny", "--to", "tensorboard", str(blocker / "tb"), "--store", str(store)],
                    "is a file, not a folder")
    one_line_exit_2(capsys, ["export", "tiny", "--to", "parquet", str(blocker / "h.parquet"), "--store", str(store)],
                    "is a file, not a folder")
    one_line_exit_2(capsys, ["export", "tiny", "--to", "mlflow", (blocker / "mlruns").as_uri(), "--store",
                             str(store)], "--to mlflow")
    for to, module in (("tensorboard", "torch.utils.tensorboard"), ("mlflow", "mlflow"), ("parquet", "pyarrow")):
        for loaded in [m for m in sys.modules if m == module or m.startswith(module + ".")] + [module]:
            monkeypatch.setitem(sys.modules, loaded, None)  # the package is not installed
        monkeypatch.delitem(sys.modules, f"nnstudy.exports._{to}", raising=False)
        one_line_exit_2(capsys, ["export", "tiny", "--to", to, str(tmp_path / "x"), "--store", str(store)],
                        "pip install 'nnstudy[export]'")
        monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"] and blocker.read_text() == "not a folder"
    assert store_rows(store) == before


def test_a_postgresql_store_exports_like_sqlite(pg_url, tmp_path):
    spec, _, _ = read_study({"study": {"name": "team"}, "data": {"name": "moons"}, "train": {"epochs": 4},
                             "sweep": {"model.hidden": [[8], [8, 8]]}, "trials": {"seeds": 1}})
    trials = expand(spec)
    db = Store(pg_url)
    db.register("team", "", spec.model_dump(mode="json"), "", "classification", ["val_accuracy"],
                ["model.hidden"], trials, {})
    done, running = trials[0].trial_id, trials[1].trial_id
    for tid in (done, running):
        assert db.claim("team", tid)
    db.add_epochs("team", [(running, 1, {"train_loss": 0.5})])
    db.finish("team", done, "done", {"val_accuracy": 0.875},
              [{"epoch": e, "train_loss": 1.0 / e, "val_accuracy": 0.5 + e / 10} for e in (1, 2, 3, 4)], {}, None)
    got = nnstudy.export("team", "parquet", tmp_path / "team.parquet", store=pg_url)
    assert (got.trials, got.values) == (2, 9)
    table = pd.read_parquet(tmp_path / "team.parquet")
    rows = sorted(table[["trial_id", "status", "model.hidden", "epoch", "metric", "value"]]
                  .itertuples(index=False, name=None))
    assert rows == sorted([(done, "done", "[8]", e, "train_loss", 1.0 / e) for e in (1, 2, 3, 4)]
                          + [(done, "done", "[8]", e, "val_accuracy", 0.5 + e / 10) for e in (1, 2, 3, 4)]
                          + [(running, "running", "[8, 8]", 1, "train_loss", 0.5)])


def test_a_labelled_cross_validated_study_exports_its_metrics_only(tmp_path):
    """A [[sweep]] label (text) and data.folds' fold are columns of the trials, not final metrics: the export
    failed with 'could not convert string to float' on the label, and would have sent fold as final/fold."""
    from nnstudy.exports._trials import read_trials

    spec = {**STUDY, "study": {"name": "labelled"}, "data": {**STUDY["data"], "folds": 2},
            "sweep": [{"label": "Fast *lr*", "train.lr": [0.1]}, {"label": "Slow", "train.lr": [0.01]}],
            "trials": {"seeds": 1}}
    nnstudy.run(spec, store=tmp_path / "runs", workers=1)
    assert main(["export", "labelled", "--to", "parquet", str(tmp_path / "l.parquet"),
                 "--store", str(tmp_path / "runs")]) == 0
    assert pd.read_parquet(tmp_path / "l.parquet").trial_id.nunique() == 4  # 2 configurations x 2 folds
    _, trials = read_trials(Store(tmp_path / "runs", create=False), "labelled")
    assert [sorted(t.final) for t in trials] == [sorted(["train_loss", "train_accuracy", "val_loss", "val_accuracy",
                                                         "test_loss", "test_accuracy", "train_time_s",
                                                         "epochs_run"])] * 4


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="no /dev/null")
def test_a_parquet_target_that_is_a_device_is_refused_not_replaced():
    """os.replace put the new file in place of /dev/null (run as root); the export refuses such a target first.
    Checked on the function alone: a run of the command that regressed would replace the device again."""
    from pathlib import Path

    from nnstudy.exports import not_a_file

    assert not_a_file(Path("/dev/null")) == "a device or pipe, not a regular file"
    assert not_a_file(Path(os.devnull).parent) == "a folder, not a file"
    assert not_a_file(Path(__file__)) is None and not_a_file(Path("/nonexistent/x.parquet")) is None
