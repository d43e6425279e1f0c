"""Study-file checks that came late: BOM and non-regular files, sizes, strict numbers, search ranges on
integer keys, steps beside epochs, overlapping sweeps, an empty report.metrics. Each bad input is one line
on stderr, exit 2, and no store."""

from __future__ import annotations

import os

import pytest

from nnstudy.cli import main
from nnstudy.spec import expand, read_study
from refusals import refused, write

BASE = """
[study]
name = "strict"
[data]
name = "moons"
n_samples = 100
[model]
hidden = [4]
[train]
epochs = 1
"""


def test_a_byte_order_mark_is_read_as_utf8(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.encode())
    study, text, _ = read_study(path)
    assert study.study.name == "strict" and not text.startswith("\ufeff")


def test_a_fifo_is_refused_before_it_is_read(tmp_path, capsys):
    fifo = tmp_path / "x.toml"
    os.mkfifo(fifo)
    assert "not a regular file" in refused(tmp_path, capsys, ["run", str(fifo)])


def test_a_device_is_refused(tmp_path, capsys):
    assert "not a regular file" in refused(tmp_path, capsys, ["run", "/dev/zero"])


def test_a_huge_study_file_is_refused(tmp_path, capsys):
    path = write(tmp_path, BASE + "#" * 10_000_001)
    assert "a study file has at most 10,000,000" in refused(tmp_path, capsys, ["run", path])


def test_steps_beside_the_default_epochs_or_a_swept_budget_is_valid(tmp_path):
    study, _, _ = read_study(write(tmp_path, BASE.replace("epochs = 1", "steps = 10")))
    assert study.train.steps == 10
    swept = BASE.replace("epochs = 1\n", "") + '[sweep]\n"train.steps" = [5, 10]\n'
    assert [t.config["train"]["steps"] for t in expand(read_study(write(tmp_path, swept))[0])] == [5, 10]


def test_steps_set_beside_epochs_by_the_command_line_is_refused(tmp_path, capsys):
    args = ["run", write(tmp_path, BASE), "--set", "train.steps=10", "--set", "train.epochs=2"]
    line = refused(tmp_path, capsys, args)  # a --set of steps alone replaces the file's epochs
    assert "train.steps: a budget of 10 steps replaces train.epochs, so epochs = 2 would not be used" in line


def test_a_command_line_sweep_inside_a_swept_table_is_refused(tmp_path, capsys):
    path = write(tmp_path, BASE + '[sweep]\n"train.early_stopping" = [{ patience = 1 }]\n')
    line = refused(tmp_path, capsys, ["run", path, "--sweep", "train.early_stopping.patience=2,3"])
    assert "sweep: train.early_stopping and train.early_stopping.patience are both swept" in line


def test_equal_configurations_from_two_sweep_tables_are_still_one(tmp_path):
    both = BASE + '[[sweep]]\n"train.lr" = [0.1, 0.01]\n[[sweep]]\n"train.lr" = [0.1]\n'
    assert len(expand(read_study(write(tmp_path, both))[0])) == 2


@pytest.mark.parametrize("key, value, line", [
    ("train.epochs", '"2"', "train.epochs: input should be a number, not a string (got '2')"),
    ("trials.seeds", '"1"', "trials.seeds: input should be a number, not a string (got '1')"),
    ("model.dropout", '"0.1"', "model.dropout: input should be a number, not a string (got '0.1')"),
    ("train.save_weights", '"yes"', "train.save_weights: input should be true or false, not a string (got 'yes')"),
    ("train.early_stopping.restore_best", "0", "restore_best: input should be true or false, not a number (got 0)"),
])
def test_a_string_for_a_number_or_a_number_for_a_boolean_is_refused(tmp_path, capsys, key, value, line):
    assert line in refused(tmp_path, capsys, ["run", write(tmp_path, BASE), "--set", f"{key}={value}"])


def test_a_swept_string_is_refused_at_its_sweep_point(tmp_path, capsys):
    path = write(tmp_path, BASE + '[sweep]\n"train.lr" = ["0.1", "0.01"]\n')
    line = refused(tmp_path, capsys, ["run", path])
    assert "train.lr: input should be a number, not a string (got '0.1') (in the sweep point" in line


def test_command_line_values_and_python_values_keep_their_types(tmp_path):
    from nnstudy.spec import parse_overrides, parse_sweeps

    path = write(tmp_path, BASE)
    sets = parse_overrides(["train.lr=0.05", "train.save_weights=true", "data.name=moons", "model.hidden=[8,8]"], path)
    study, _, _ = read_study(path, sets, parse_sweeps(["train.epochs=1,2"], path))
    assert (study.train.lr, study.train.save_weights, study.model.hidden) == (0.05, True, [8, 8])
    assert [t.config["train"]["epochs"] for t in expand(study)] == [1, 2]
    raw = {"study": {"name": "py"}, "data": {"name": "moons"}, "model": {"hidden": (8,)},
           "train": {"lr": 1, "save_weights": True}}
    study, _, _ = read_study(raw)
    assert (study.train.lr, study.model.hidden) == (1.0, [8])


def test_text_keys_and_named_strings_still_take_text(tmp_path):
    svr = '[study]\nname = "s"\n[data]\nname = "sine"\n[model]\nkind = "svr"\ngamma = "scale"\n[train]\nengine = "classical"\n'
    assert read_study(write(tmp_path, svr))[0].model.gamma == "scale"
    assert read_study(write(tmp_path, BASE.replace("epochs = 1", 'batch_size = "full"')))[0].train.batch_size == "full"


SEARCH = BASE + '[search]\nmethod = "random"\ntrials = 2\n[search.space]\n'


def test_a_fractional_range_on_a_whole_number_key_is_refused_before_the_history_is_written(tmp_path, capsys):
    path = write(tmp_path, SEARCH + '"train.epochs" = { low = 1, high = 3 }\n')
    assert "search.space.train.epochs: train.epochs takes whole numbers" in refused(tmp_path, capsys, ["run", path])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]  # no store, no optuna history


def test_whole_ranges_and_fractions_where_they_are_taken_are_valid(tmp_path):
    for space in ('"train.epochs" = { low = 1, high = 3, int = true }', '"train.lr" = { low = 1, high = 3 }',
                  '"train.lr" = { low = 0.01, high = 1, log = true }'):
        assert read_study(write(tmp_path, SEARCH + space + "\n"))[0].search.active


@pytest.mark.parametrize("command", ["summary", "gradcheck"])
def test_a_huge_model_is_one_line_for_summary_and_gradcheck(tmp_path, capsys, command):
    path = write(tmp_path, BASE.replace("hidden = [4]", "hidden = [100000000000]"))
    assert main([command, path]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "model.hidden: [100000000000] gives a model of 5.0e11 parameters" in err


@pytest.mark.parametrize("data, model, key", [
    ('name = "digits"', 'kind = "cnn"\nblocks = [{ channels = 100000 }, { channels = 100000 }]', "model.blocks"),
    ('name = "digits"', 'kind = "cnn"\nblocks = [{ channels = 4 }]\nhidden = [10000000000]', "model.hidden"),
    ('name = "digits"', 'kind = "ae"\nhidden = [8]\nencoding_dim = 1000000000', "model.encoding_dim"),
    ('name = "digits"\nnormalize = "minmax"', 'kind = "gan"\nhidden = [1000000000]', "model.hidden"),
    ('name = "digits"', 'kind = "vit"\ndim = 1000000\nheads = 1', "model.dim"),
])
def test_huge_models_of_other_kinds_are_refused(tmp_path, capsys, data, model, key):
    path = write(tmp_path, f'[study]\nname = "big"\n[data]\n{data}\n[model]\n{model}\n')
    line = refused(tmp_path, capsys, ["run", path])
    assert f"{key}: " in line and "; the limit is 2**31 (2.1e09)" in line


@pytest.mark.parametrize("name", ["mlp", "cnn", "ae", "vae", "gan", "vit"])
def test_the_size_counted_from_the_config_is_near_the_built_models(name):
    import math

    from nnstudy import kinds
    from nnstudy.data import info
    from nnstudy.summary import summarize_trial

    kind = kinds.get(name)
    study, _, label = read_study({"study": {"name": "size"}, **kind.example,
                                  "model": {"kind": name, **kind.example["model"]}})
    trial = expand(study, label)[0]
    data = info(study.data)
    _, counted = kind.size(trial.config["model"], math.prod(data.input_shape), max(data.n_classes, 1))
    built = summarize_trial(trial, label).total
    assert built / 4 <= counted <= built * 2
