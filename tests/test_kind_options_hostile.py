"""Bad model-kind keys, data options and command-line budgets: each is one line on stderr, exit 2 and no
store, or (a valid replacement) runs."""

from __future__ import annotations

import pytest

from nnstudy.cli import main
from nnstudy.spec import expand, read_study
from refusals import refused, write

GIVEN = """
[study]
name = "kinds"
[data]
name = "moons"
normalize = "none"
[model]
kind = "given"
[[model.layers]]
w = {w}
b = {b}
[train]
engine = "numpy"
"""


@pytest.mark.parametrize("w, b, key, got", [
    ('[["1", 1]]', "[0]", "model.layers.0.w", "not a string (got '1')"),
    ("[[true, 1]]", "[0]", "model.layers.0.w", "not a boolean (got true)"),
    ("[[1, 1]]", '["0"]', "model.layers.0.b", "not a string (got '0')"),
])
def test_a_string_or_boolean_in_given_weights_is_refused_at_any_depth(tmp_path, capsys, w, b, key, got):
    err = refused(tmp_path, capsys, ["run", write(tmp_path, GIVEN.format(w=w, b=b))])
    assert f"{key}: input should be a number, {got}" in err


BUDGET = """
[study]
name = "budget"
[data]
name = "moons"
n_samples = 100
[model]
hidden = [4]
[train]
{budget}
"""


@pytest.mark.parametrize("budget, overrides, sweep, expect", [
    ("epochs = 30", {"train.steps": 3}, None, [(3, 20)]),
    ("epochs = 30", None, {"train.steps": [2, 3]}, [(2, 20), (3, 20)]),
    ("steps = 5", {"train.epochs": 2}, None, [(None, 2)]),
])
def test_a_command_line_budget_replaces_the_files_other_budget(tmp_path, budget, overrides, sweep, expect):
    study, _, label = read_study(write(tmp_path, BUDGET.format(budget=budget)), overrides, sweep)
    assert [(t.config["train"].get("steps"), t.config["train"]["epochs"]) for t in expand(study, label)] == expect


def test_steps_set_on_the_command_line_run_a_file_with_epochs(tmp_path, capsys):
    path = write(tmp_path, BUDGET.format(budget="epochs = 30"))
    assert main(["run", path, "--set", "train.steps=3", "--store", str(tmp_path / "store")]) == 0
    assert "1 done" in capsys.readouterr().err


def test_steps_and_epochs_both_set_on_the_command_line_are_refused(tmp_path, capsys):
    path = write(tmp_path, BUDGET.format(budget="epochs = 30"))
    err = refused(tmp_path, capsys, ["run", path, "--set", "train.steps=3", "--set", "train.epochs=2"])
    assert "train.steps: a budget of 3 steps replaces train.epochs" in err


PCA = """
[study]
name = "pca"
[data]
name = "iris"
{data}
[model]
kind = "pca"
components = {components}
[train]
engine = "classical"
"""


@pytest.mark.parametrize("data, components, has", [
    ("", 100000000000, "iris has 4 inputs (after any data.features and pca), so at most 4 components"),
    ("", 5, "iris has 4 inputs (after any data.features and pca), so at most 4 components"),
    ("train_size = 3", 4, "iris has 3 training samples, so at most 3 components"),
])
def test_pca_components_beyond_the_data_are_refused(tmp_path, capsys, data, components, has):
    err = refused(tmp_path, capsys, ["run", write(tmp_path, PCA.format(data=data, components=components))])
    assert f"model.components: {has} (got {components})" in err


RBM = """
[study]
name = "rbm"
[data]
name = "{data}"
train_size = 50
[model]
kind = "rbm"
hidden = 4
gibbs_steps = 2
inpaint_rows = {rows}
{side}
[train]
engine = "classical"
"""


@pytest.mark.parametrize("data, rows, side, message", [
    ("digits", 100, "", "the images of digits have 8 rows, so at most 7 can be hidden (got 100)"),
    ("digits", 8, 'inpaint_side = "left"', "the images of digits have 8 columns, so at most 7 can be hidden (got 8)"),
    ("iris", 2, "", "iris has no images to inpaint (inputs of shape (4,)): leave inpaint_rows out"),
])
def test_rbm_inpainting_beyond_the_image_is_refused(tmp_path, capsys, data, rows, side, message):
    err = refused(tmp_path, capsys, ["run", write(tmp_path, RBM.format(data=data, rows=rows, side=side))])
    assert f"model.inpaint_rows: {message}" in err


SEARCH_GRID = """
[study]
name = "grid"
[data]
name = "moons"
n_samples = 100
[model]
hidden = [4]
[train]
epochs = 1
[search]
method = "grid"
trials = 2
[search.space]
{space}
"""


@pytest.mark.parametrize("space, points", [
    ('"train.lr" = { low = 0.01, high = 0.1, step = 1e-9 }', "90,000,001"),
    ('"train.epochs" = { low = 1, high = 1e15, int = true }', "1,000,000,000,000,000"),
    ('"model.hidden" = { width = { low = 1, high = 1e6, int = true }, depth = { low = 1, high = 1e6, int = true } }',
     "1,000,000,000,000"),
])
def test_a_huge_search_grid_is_refused_without_listing_it(tmp_path, capsys, space, points):
    err = refused(tmp_path, capsys, ["run", write(tmp_path, SEARCH_GRID.format(space=space))])
    assert f"search.space: the grid has {points} points (at most 100,000)" in err


def test_a_search_step_beyond_the_range_is_refused(tmp_path, capsys):
    space = '"train.lr" = { low = 0.01, high = 0.1, step = 5 }'
    text = SEARCH_GRID.format(space=space).replace('method = "grid"', 'method = "random"')
    err = refused(tmp_path, capsys, ["run", write(tmp_path, text)])
    assert "search.space.train.lr: step (5) is more than high - low (0.09), so the range holds low alone" in err


VAE = """
[study]
name = "vae"
[data]
name = "digits"
train_size = 64
normalize = "minmax"
[model]
kind = "vae"
hidden = [16]
latent_dim = 4
beta = 1e308
[train]
optimizer = "adam"
lr = 0.01
batch_size = 32
epochs = 1
"""


def test_a_vae_that_blows_up_ends_diverged_not_failed(tmp_path, capsys):
    main(["run", write(tmp_path, VAE), "--store", str(tmp_path / "store")])
    err = capsys.readouterr().err
    assert "1 diverged" in err and "failed" not in err and "LinAlgError" not in err, err


CNN = """
[study]
name = "cnn"
[data]
name = "digits"
train_size = 64
[model]
kind = "cnn"
blocks = [{block}]
hidden = [8]
[train]
epochs = 1
"""


@pytest.mark.parametrize("block, pool", [
    ("{ channels = 4, pool_size = 100 }", "'none'"),
    ('{ channels = 4, pool = "global_avg", pool_size = 3 }', "'global_avg'"),
])
def test_a_pool_size_without_a_pooling_window_is_refused(tmp_path, capsys, block, pool):
    err = refused(tmp_path, capsys, ["run", write(tmp_path, CNN.format(block=block))])
    assert f'model.blocks.0: pool_size: the window of pool = "max" or "avg"; with pool = {pool} it changes nothing' in err


def test_a_pool_window_larger_than_the_image_is_refused(tmp_path, capsys):
    err = refused(tmp_path, capsys, ["run", write(tmp_path, CNN.format(block='{ channels = 4, pool = "max", pool_size = 100 }'))])
    assert "model.blocks.0.pool_size = 100 is larger than the 6×6 image its convolution leaves; at most 6" in err


@pytest.mark.parametrize("base, key, value, line", [
    ("svr", "model.gamma", "0", "model.gamma: input should be greater than 0 (got 0)"),
    ("random_forest", "model.max_features", "0", "model.max_features: input should be greater than 0 (got 0)"),
    ("random_forest", "model.max_features", "2", "model.max_features: input should be less than or equal to 1 (got 2)"),
])
def test_a_number_outside_a_union_of_names_and_numbers_gets_the_numbers_rule(tmp_path, capsys, base, key, value, line):
    model = {"svr": 'kind = "svr"', "random_forest": 'kind = "random_forest"\nn_estimators = 2'}[base]
    data = {"svr": 'name = "sine"\nn_samples = 100', "random_forest": 'name = "iris"'}[base]
    text = f'[study]\nname = "u"\n[data]\n{data}\n[model]\n{model}\n[train]\nengine = "classical"\n'
    err = refused(tmp_path, capsys, ["run", write(tmp_path, text), "--set", f"{key}={value}"])
    assert err.endswith(line), err


@pytest.mark.parametrize("kind, key", [("ae", "encoding_dim"), ("stacked_ae", "encoding_dim"), ("vae", "latent_dim")])
def test_a_code_wider_than_the_inputs_is_refused(tmp_path, capsys, kind, key):
    text = VAE.replace('kind = "vae"', f'kind = "{kind}"').replace("latent_dim = 4", f"{key} = 1000")
    text = text.replace("beta = 1e308\n", "")
    err = refused(tmp_path, capsys, ["run", write(tmp_path, text)])
    assert f"model.{key}: 1000 is more than the 64 inputs of digits (after any data.features and pca)" in err


def test_a_padding_beyond_the_kernels_reach_is_refused_before_anything_is_built(tmp_path, capsys):
    err = refused(tmp_path, capsys, ["run", write(tmp_path, CNN.format(block="{ channels = 4, padding = 100000 }"))])
    assert "model.blocks.0: padding: 100000 is more than the kernel reaches (dilation x (kernel - 1) = 2)" in err
