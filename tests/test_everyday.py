"""Issue 16: sweeps from the command line, scripts without a main guard, logs without a terminal,
study identity (variants, --as, --replace)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import nnstudy
from conftest import run_cli, write_study
from nnstudy.cli import main
from nnstudy.errors import StudyError
from nnstudy.spec import expand, parse_sweeps, read_study, swept_keys

ROOT = Path(__file__).resolve().parents[1]
S = """
[study]
name = "s"
[data]
name = "moons"
n_samples = 200
[model]
hidden = [4]
[train]
epochs = 2
batch_size = 32
[sweep]
"train.lr" = [0.1, 0.01]
[trials]
seeds = 2
"""


@pytest.fixture
def s(tmp_path):
    return write_study(tmp_path, S, "s.toml")


# --- 2. sweeps from the command line ---------------------------------------------------------------

def test_sweep_values_split_at_top_level_commas():
    assert parse_sweeps(["model.hidden=[16],[16,16]", "train.lr=0.1,1e-3", "train.batch_size=16,full",
                         'model.activation="relu",tanh', "model.hidden2=[]"], "x") == {
        "model.hidden": [[16], [16, 16]], "train.lr": [0.1, 0.001], "train.batch_size": [16, "full"],
        "model.activation": ["relu", "tanh"], "model.hidden2": [[]]}
    assert parse_sweeps(['data.classes=[0, 1],[1, 2]', 'model.x={a = 1, b = 2},"c,d"'], "x") == {
        "data.classes": [[0, 1], [1, 2]], "model.x": [{"a": 1, "b": 2}, "c,d"]}
    for bad in ("train.lr", "train.lr=", "train.lr=0.1,", "=1,2"):
        with pytest.raises(StudyError, match="--sweep"):
            parse_sweeps([bad], "x")
    with pytest.raises(StudyError, match="given twice"):
        parse_sweeps(["train.lr=1", "train.lr=2"], "x")


def test_sweep_replaces_and_adds_axes_exactly(s):
    study, _, _ = read_study(s, sweep={"train.lr": [0.5], "model.hidden": [[4], [4, 4]]})
    trials = expand(study)
    assert swept_keys(study) == ["train.lr", "model.hidden"]
    assert [(t.point["train.lr"], t.point["model.hidden"], t.seed) for t in trials] == [
        (0.5, [4], 0), (0.5, [4], 1), (0.5, [4, 4], 0), (0.5, [4, 4], 1)]
    assert all(t.config["train"]["lr"] == 0.5 for t in trials)
    # the same configurations written in a file have the same trial ids
    written = s.parent / "w.toml"
    written.write_text(S.replace('"train.lr" = [0.1, 0.01]', '"train.lr" = [0.5]\n"model.hidden" = [[4], [4, 4]]'))
    assert [t.trial_id for t in expand(read_study(written)[0])] == [t.trial_id for t in trials]


def test_sweep_applies_to_every_grid_of_a_list(tmp_path):
    path = tmp_path / "u.toml"
    path.write_text(S.replace('[sweep]\n"train.lr" = [0.1, 0.01]',
                              '[[sweep]]\n"model.hidden" = [[4]]\n[[sweep]]\n"model.hidden" = [[8]]'))
    trials = expand(read_study(path, sweep={"train.lr": [0.3, 0.2]})[0])
    assert [(t.point["model.hidden"], t.point["train.lr"]) for t in trials if t.seed == 0] == [
        ([4], 0.3), ([4], 0.2), ([8], 0.3), ([8], 0.2)]


def test_set_on_a_swept_key_is_exit_2_naming_both(s, tmp_path, capsys):
    store = tmp_path / "runs"
    assert run_cli(s, "--store", store, "--set", "train.lr=0.5") == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--set train.lr=0.5" in err and 'sweep."train.lr"' in err
    assert run_cli(s, "--store", store, "--set", "train.lr=0.5", "--sweep", "train.lr=1,2") == 2
    err = capsys.readouterr().err.strip()
    assert "--set train.lr=0.5 and --sweep train.lr" in err
    assert run_cli(s, "--store", store, "--sweep", "model.hidden=[4],[8]", "--set", "model.hidden=[2]") == 2
    assert "--sweep model.hidden" in capsys.readouterr().err
    assert run_cli(s, "--store", store, "--set", "train=[1]") == 2  # no key at all: said so, not "train.lr is swept"
    assert capsys.readouterr().err.strip() == f"nnstudy: error: {s}: --set train: not a dotted key such as train.lr"
    assert not store.exists()  # nothing written


def test_set_on_a_searched_key_is_exit_2(tmp_path, capsys):
    path = tmp_path / "search.toml"
    path.write_text('[study]\nname = "q"\n[data]\nname = "moons"\n[search]\nmethod = "random"\ntrials = 2\n'
                    '[search.space]\n"train.lr" = { low = 0.01, high = 0.5, log = true }\n')
    assert run_cli(path, "--store", tmp_path / "runs", "--set", "train.lr=0.1") == 2
    err = capsys.readouterr().err
    assert "--set train.lr=0.1: train.lr is searched by the study file" in err and err.count("\n") == 1
    assert not (tmp_path / "runs").exists()


def test_bad_sweep_values_are_rejected_like_the_file(s, tmp_path, capsys):
    store = tmp_path / "runs"
    assert run_cli(s, "--store", store, "--sweep", "train.lr=0.1,-1") == 2
    assert "train.lr" in capsys.readouterr().err
    assert run_cli(s, "--store", store, "--sweep", "train.lrx=0.1") == 2
    assert "train.lrx" in capsys.readouterr().err
    assert run_cli(s, "--store", store, "--sweep", "study.name=a,b") == 2
    assert "--sweep study.name" in capsys.readouterr().err
    with pytest.raises(StudyError, match="non-empty list"):
        nnstudy.run(s, store=store, sweep={"train.lr": 0.1})
    assert not store.exists()


def test_sweep_from_the_command_line_trains_that_grid(s, tmp_path):
    store = tmp_path / "runs"
    assert run_cli(s, "--store", store, "--workers", "1", "--sweep", "model.hidden=[4],[4,4]",
                   "--sweep", "train.lr=0.5") == 0
    study = nnstudy.run(s, store=store, sweep={"model.hidden": [[4], [4, 4]], "train.lr": [0.5]})
    assert study.summary.ran == 0  # the same grid from Python: already stored
    results = study.results()
    assert list(results["train.lr"]) == [0.5, 0.5]
    assert sorted(map(str, results["model.hidden"])) == ["[4, 4]", "[4]"]
    assert list(results.n) == [2, 2]


# --- 4. scripts without a main guard -------------------------------------------------------------

SCRIPT = """
import os, sys
import nnstudy
print("script top level", os.getpid(), flush=True)
{call}
"""


@pytest.mark.parametrize("guarded", [False, True])
def test_a_script_with_worker_processes_runs_with_or_without_a_main_guard(s, tmp_path, guarded):
    call = ('study = nnstudy.run("s.toml", store="runs", workers=2, stack="off")\n'
            'print("statuses", study.trials().status.tolist())')
    if guarded:
        call = 'if __name__ == "__main__":\n' + "".join(f"    {line}\n" for line in call.splitlines())
    (tmp_path / "script.py").write_text(SCRIPT.format(call=call))
    env = {k: v for k, v in os.environ.items() if k != "NNSTUDY_STORE"}
    proc = subprocess.run([sys.executable, "script.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("script top level") == 1  # the workers never re-ran the script
    assert "statuses ['done', 'done', 'done', 'done']" in proc.stdout
    assert "training 4 trial(s) on 2 worker(s)" in proc.stderr and "Traceback" not in proc.stderr
    trials = pd.read_csv(tmp_path / "runs" / "s" / "trials.csv")
    assert list(trials.status) == ["done"] * 4
    for line in proc.stderr.splitlines():  # the default console of nnstudy.run never wraps a line
        assert re.match(r"(s: training 4 trial|done [0-9a-f]{12} lr=\S+ seed=\d .*train_time_s=\S+$"
                        r"|s: \d/4 trials, \d+/8 epochs, .* elapsed, ETA \S+$)", line), line


def test_run_inside_a_starting_worker_stops_with_one_line(s, tmp_path, monkeypatch):
    import multiprocessing as mp

    monkeypatch.setattr(mp.current_process(), "_inheriting", True, raising=False)
    with pytest.raises(StudyError, match='under `if __name__ == "__main__":`'):
        nnstudy.run(s, store=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


# --- 6. logs and terminals -------------------------------------------------------------------------

def test_version_prints_once(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"nnstudy {nnstudy.__version__}\n"
    assert subprocess.run([sys.executable, "-m", "nnstudy", "--version"], capture_output=True, text=True,
                          timeout=120).stdout == f"nnstudy {nnstudy.__version__}\n"
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnstudy: error: ") and "nnstudy: error: nnstudy" not in err and err.count("\n") == 1
    assert main(["run", "--workers", "x", "s.toml"]) == 2
    assert capsys.readouterr().err.startswith("nnstudy: error: run: argument --workers")


LONG = "s-" + "x" * 90  # every line about a trial is longer than 80 columns


def test_redirected_output_is_one_unwrapped_line_per_trial_with_heartbeats(s, tmp_path, capsys, monkeypatch):
    from nnstudy.executor import _progress

    monkeypatch.setattr(_progress, "HEARTBEAT_S", 0.05)
    s.write_text(S.replace('name = "s"', f'name = "{LONG}"').replace("epochs = 2", "epochs = 30"))
    assert run_cli(s, "--store", tmp_path / "runs", "--workers", "1") == 0
    lines = capsys.readouterr().err.splitlines()
    patterns = [rf"{LONG}: training 4 trial\(s\) on 1 stack\(s\) of up to 4 trials, device cpu; 0 already stored",
                r"done [0-9a-f]{12} lr=0\.0?1 seed=\d val_accuracy=\S+, test_accuracy=\S+, train_time_s=\S+",
                rf"{LONG}: [0-4]/4 trials, \d+/120 epochs, \d:\d\d:\d\d elapsed, ETA (\?|\d:\d\d:\d\d)",
                r"ran 4, skipped 0 already stored; 4 done; report: .*report\.html"]
    kinds = [next((i for i, p in enumerate(patterns) if re.fullmatch(p, line)), None) for line in lines]
    assert None not in kinds, lines[kinds.index(None)]  # no line is the wrapped tail of another
    assert kinds.count(1) == 4 and kinds.count(2) >= 1 and kinds[0] == 0 and kinds[-1] == 3
    assert max(map(len, lines)) > 100


def test_a_trials_line_shows_the_studys_report_metrics(s, tmp_path, capsys):
    s.write_text(S + '[report]\nmetrics = ["train_loss", "val_loss"]\n')
    assert run_cli(s, "--store", tmp_path / "runs", "--workers", "1") == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("done ")]
    assert len(lines) == 4 and all(re.fullmatch(r"done [0-9a-f]{12} lr=0\.0?1 seed=\d "
                                                r"train_loss=\S+, val_loss=\S+, train_time_s=\S+", line)
                                   for line in lines), lines


def test_quiet_prints_only_the_problems(s, tmp_path, capsys):
    assert run_cli(s, "--store", tmp_path / "a", "--workers", "1", "--quiet") == 0
    assert capsys.readouterr() == ("", "")
    assert run_cli(s, "--store", tmp_path / "b", "--workers", "1", "--quiet", "--sweep", "train.lr=1e12,0.1") == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 2
    assert all(re.fullmatch(r"nnstudy: s@lr=1000000000000\.0\+0\.1: diverged trial [0-9a-f]{12}: .*", line)
               for line in err.splitlines()), err
    assert run_cli(s, "--quiet", "--json") == 2  # one or the other


def test_json_is_one_object_per_event(s, tmp_path, capsys):
    assert run_cli(s, "--store", tmp_path / "runs", "--workers", "1", "--stack", "off", "--json", "--sweep",
                   "train.lr=1e12,0.1") == 1
    out, err = capsys.readouterr()
    assert err == ""
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["event"] for e in events] == ["start"] + ["trial"] * 4 + ["end"]  # no heartbeat in a short run
    name = "s@lr=1000000000000.0+0.1"  # a variant of s
    assert events[0] == {"event": "start", "study": name, "trials": 4, "where": "1 worker(s)", "device": "cpu",
                         "skipped": 0}
    trials = events[1:5]
    assert [t["status"] for t in trials] == ["diverged", "diverged", "done", "done"]
    assert [t["trials_done"] for t in trials] == [1, 2, 3, 4]
    assert trials[2]["point"] == {"train.lr": 0.1} and 0 <= trials[2]["final"]["test_accuracy"] <= 1
    stored = pd.read_csv(tmp_path / "runs" / name / "trials.csv").set_index("trial_id")
    assert {t["trial_id"] for t in trials} == set(stored.index)
    assert trials[0]["final"]["train_loss"] is None and "nan" in trials[0]["error"]
    assert events[-1] | {"report": None} == {"event": "end", "study": name, "ran": 4, "skipped": 0, "report": None,
                                             "statuses": {"diverged": 2, "done": 2}, "stopped": False, "exit": 1}
    assert run_cli(s, "--store", tmp_path / "runs", "--json", "--set", "train.lr=0.5") == 2
    out, err = capsys.readouterr()
    assert json.loads(out)["event"] == "error" and "train.lr" in json.loads(out)["message"] and err.count("\n") == 1


def test_json_end_says_whether_fail_fast_stopped_the_run(s, tmp_path, capsys):
    sweep = ("--sweep", "train.lr=1e12,0.1")  # the first trials diverge
    assert run_cli(s, "--store", tmp_path / "a", "--workers", "1", "--stack", "off", "--json", "--fail-fast",
                   *sweep) == 1  # (a stack trains all its trials, even under --fail-fast)
    end = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert end["event"] == "end" and end["stopped"] is True and end["ran"] == 1, end
    assert end["statuses"] == {"pending": 3, "diverged": 1}, end
    assert run_cli(s, "--store", tmp_path / "b", "--workers", "1", "--json", "--fail-fast") == 0  # nothing fails
    end = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert end["stopped"] is False and end["statuses"] == {"done": 4}, end


def test_json_says_when_interrupted(s, tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(nnstudy.api, "run", interrupted)
    assert run_cli(s, "--store", tmp_path / "runs", "--json") == 130
    out, err = capsys.readouterr()
    assert json.loads(out) == {"event": "interrupted", "exit": 130} and "interrupted" in err


# --- 1. study identity -----------------------------------------------------------------------------

def tree_digest(folder: Path) -> dict[str, bytes]:
    return {str(f.relative_to(folder)): f.read_bytes() for f in sorted(folder.rglob("*")) if f.is_file()}


def test_a_set_run_is_a_variant_and_leaves_the_original_byte_identical(s, tmp_path, capsys):
    from nnstudy.store import Store

    store = tmp_path / "runs"
    assert run_cli(s, "--store", store, "--workers", "1") == 0
    before = tree_digest(store / "s")
    assert "report.html" in before and any(k.startswith("figures/") for k in before)
    assert run_cli(s, "--store", store, "--workers", "1", "--set", "train.epochs=1") == 0
    assert "report: " + str(store / "s@epochs=1" / "report.html") in capsys.readouterr().err
    quick = nnstudy.run(s, store=store, set={"train.epochs": 1}, workers=1)  # the same variant from Python
    assert quick.name == "s@epochs=1" and quick.summary.ran == 0
    assert list(pd.read_csv(store / "s@epochs=1" / "trials.csv").epochs_run) == [1] * 4
    assert tree_digest(store / "s") == before  # report, tables and figures untouched
    counts = {r["name"]: r["done"] for r in Store(store).studies()}
    assert counts == {"s": 4, "s@epochs=1": 4}
    assert nnstudy.load("s", store=store).trials().epochs_run.tolist() == [2] * 4
    # --sweep makes a variant too; --as names one
    assert run_cli(s, "--store", store, "--workers", "1", "--sweep", "train.lr=0.3", "--set", "trials.seeds=1") == 0
    assert run_cli(s, "--store", store, "--workers", "1", "--set", "train.epochs=1", "--as", "quick") == 0
    assert set(Store(store).parents()) == {"s@epochs=1", "s@seeds=1,lr=0.3", "quick"}
    assert (store / "s@seeds=1,lr=0.3" / "report.html").exists() and (store / "quick" / "report.html").exists()
    assert tree_digest(store / "s") == before
    # [study] keys (a name, a description) are not a variant's: the study itself
    assert nnstudy.run(s, store=store, set={"study.description": "same trials"}).summary.ran == 0
    assert "same trials" in (store / "s" / "report.md").read_text()


def test_ls_shows_variants_under_their_study(s, tmp_path, capsys):
    store = tmp_path / "runs"
    other = tmp_path / "t.toml"
    other.write_text(S.replace('name = "s"', 'name = "t"').replace("seeds = 2", "seeds = 1"))
    for args in ([s], [s, "--set", "trials.seeds=1"], [other], [s, "--set", "trials.seeds=1", "--as", "mine"],
                 [other, "--set", "train.epochs=1"]):
        assert run_cli(*args, "--store", store, "--workers", "1", "--quiet") == 0
    capsys.readouterr()
    assert main(["ls", "--store", str(store)]) == 0
    rows = [line.split("│")[1].rstrip() for line in capsys.readouterr().out.splitlines() if line.startswith("│")]
    assert rows in ([" t", "   t@epochs=1", " s", "   mine", "   s@seeds=1"],
                    [" t", "   t@epochs=1", " s", "   s@seeds=1", "   mine"])


def test_another_file_under_a_stored_name_is_exit_2_unless_replace(s, tmp_path, capsys):
    import sqlite3

    store = tmp_path / "runs"
    assert run_cli(s, "--store", store, "--workers", "1", "--quiet") == 0
    before = tree_digest(store / "s")
    other = tmp_path / "elsewhere" / "s.toml"
    other.parent.mkdir()
    other.write_text(S.replace("epochs = 2", "epochs = 1"))

    def stored():
        with sqlite3.connect(store / "nnstudy.sqlite") as con:
            return con.execute("select count(*), group_concat(status) from trials").fetchone(), \
                con.execute("select source, trial_ids_json from studies").fetchall()

    rows = stored()
    assert run_cli(other, "--store", store, "--workers", "1") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'s'" in err and str(s) in err and "--replace" in err and "--as" in err
    assert stored() == rows and tree_digest(store / "s") == before  # nothing written
    with pytest.raises(StudyError, match="another file"):
        nnstudy.run(other, store=store)
    # the same text elsewhere (a copy, a moved file) and an edited file at the same path are the same study
    copy = tmp_path / "copy" / "s.toml"
    copy.parent.mkdir()
    copy.write_text(S)
    assert nnstudy.run(copy, store=store).summary.ran == 0
    s.write_text(S.replace("seeds = 2", "seeds = 3"))
    assert nnstudy.run(s, store=store, workers=1).summary.ran == 2
    # --as keeps both; --replace hands the name to the other file
    assert run_cli(other, "--store", store, "--workers", "1", "--as", "s-one-epoch", "--quiet") == 0
    assert run_cli(other, "--store", store, "--workers", "1", "--replace", "--quiet") == 0
    assert nnstudy.load("s", store=store).trials().epochs_run.tolist() == [1] * 4
    assert run_cli(other, "--store", store, "--workers", "1", "--quiet") == 0  # now it is this file's


def test_two_spellings_of_one_value_are_one_variant(s, tmp_path, capsys):
    """--set values name the variant as the study holds them once validated: `1.0` and `1`."""
    store = tmp_path / "runs"
    first = ["--set", "train.save_weights=false", "--set", "train.epochs=1.0"]
    assert run_cli(s, "--store", store, "--workers", "1", "--quiet", *first) == 0
    again = nnstudy.run(s, store=store, set={"train.save_weights": False, "train.epochs": 1}, workers=1)
    assert again.name == "s@save_weights=false,epochs=1" and again.summary.ran == 0
    assert (store / "s@save_weights=false,epochs=1" / "report.html").exists()
    assert nnstudy.run(s, store=store, set={"model.hidden": [4, 4]}, workers=1).name == "s@hidden=4-4"
    from nnstudy.spec._variant import as_validated

    held = {"data": {"train_size": 2000.0, "n_samples": 1000}, "train": {"lr": 1.0}}
    assert as_validated({"data.train_size": 2000, "data.n_samples": 1e3, "train.lr": 1.0}, held) == {
        "data.train_size": 2000, "data.n_samples": 1000, "train.lr": 1.0}  # names as they were, but 1e3


def test_variant_names():
    from nnstudy.spec._variant import variant_name

    assert variant_name("s", {"train.epochs": 1}, None, None, "x") == ("s@epochs=1", "s")
    assert variant_name("s", {"train.lr": 1e-05, "trials.seeds": [1, 2]}, {"model.hidden": [[16], [16, 16]]}, None,
                        "x") == ("s@lr=1e-05,seeds=1-2,hidden=16+16-16", "s")
    assert variant_name("s", {"train.lr": 0.5, "model.lr": 1, "train.batch_size": "full"}, None, None, "x")[0] == \
        "s@train.lr=0.5,model.lr=1,batch_size=full"
    assert variant_name("s", {"study.description": "d"}, {}, None, "x") == ("s", None)
    assert variant_name("s", {}, None, "quick", "x") == ("quick", "s")
    long, parent = variant_name("s", {"data.classes": list(range(80))}, None, None, "x")
    assert len(long) <= 100 and long.startswith("s@classes=0-1-2") and parent == "s"
    assert long != variant_name("s", {"data.classes": list(range(81))}, None, None, "x")[0]
    for bad in ("Quick", "a b", "@x", "x" * 101):
        with pytest.raises(StudyError, match="--as"):
            variant_name("s", {}, None, bad, "x")


def test_a_file_cannot_name_itself_like_a_variant(s, tmp_path, capsys):
    s.write_text(S.replace('name = "s"', 'name = "s@epochs=1"'))
    assert run_cli(s, "--store", tmp_path / "runs") == 2
    assert "study.name: use lowercase letters, digits and dashes" in capsys.readouterr().err


def test_an_edited_study_trains_only_new_configurations_and_keeps_removed_ones(s, tmp_path, capsys):
    """docs/running.md: after an edit only new configurations train; a removed one stays in the store, out of the
    report and of ls's counts, and is used again untrained when it comes back."""
    store = tmp_path / "runs"

    def run_and_count(sweep: str) -> tuple[str, list[str], list[float]]:
        s.write_text(S.replace('"train.lr" = [0.1, 0.01]', f'"train.lr" = {sweep}'))
        assert run_cli(s, "--store", store, "--workers", "1") == 0
        ran = capsys.readouterr().err.strip().splitlines()[-1].split(";")[0]
        assert main(["ls", "--store", str(store)]) == 0
        row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("│ s "))
        return ran, [c.strip() for c in row.split("│")[2:8]], pd.read_csv(store / "s" / "results.csv")["train.lr"].tolist()

    assert run_and_count("[0.1, 0.01]") == ("ran 4, skipped 0 already stored", ["4", "0", "0", "0", "0", "4"], [0.1, 0.01])
    assert run_and_count("[0.1, 0.3]") == ("ran 2, skipped 2 already stored", ["4", "0", "0", "0", "0", "4"], [0.1, 0.3])
    assert run_and_count("[0.1]") == ("ran 0, skipped 2 already stored", ["2", "0", "0", "0", "0", "2"], [0.1])
    assert run_and_count("[0.01, 0.1, 0.3]") == ("ran 0, skipped 6 already stored", ["6", "0", "0", "0", "0", "6"],
                                                 [0.01, 0.1, 0.3])


def test_the_nnstudy_program_runs_the_exit_handlers_and_flushes_its_output(s, tmp_path):
    """`nnstudy run` leaves without tearing every module down, yet as the interpreter would: atexit handlers
    (Ray's shutdown, a user's own) run, the output is all there, the exit code is the run's."""
    mark = tmp_path / "handler-ran"
    code = ("import atexit, pathlib, sys\n"
            f"atexit.register(lambda: pathlib.Path({str(mark)!r}).write_text('yes'))\n"
            "from nnstudy.cli import main\n"
            f"sys.argv = ['nnstudy', 'run', {str(s)!r}, '--store', {str(tmp_path / 'runs')!r}, '--workers', '1',"
            " '--json']\n"
            "sys.exit(main())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.splitlines()[-1])["event"] == "end" and mark.read_text() == "yes"
