"""Model kinds at their limits: the progress of kinds that pre-train, conv kernels and pooling windows larger
than what they get, a ViT on flat data, a SOM's neighbourhood wider than its map, a repeated class label."""

from __future__ import annotations

import math
import re
import warnings

import pytest
from minisom import MiniSom
from pydantic import ValidationError

import nnstudy
from conftest import run_cli
from nnstudy.cli import main
from nnstudy.executor._progress import StudyProgress
from nnstudy.kinds.classical import SOMConfig
from refusals import refused, write

PRETRAINING = """
[study]
name = "pre"
[data]
name = "digits"
train_size = 64
normalize = "minmax"
[model]
{model}
[train]
{train}
lr = 0.01
batch_size = 32
epochs = 2
"""
STACKED_AE = 'kind = "stacked_ae"\nhidden = [8]\nencoding_dim = 4\npretrain_epochs = 3'
DBM = 'kind = "dbm"\nhidden = [8, 4]\nchains = 10\npretrain_epochs = 3'


@pytest.mark.parametrize("model, train, total", [
    (STACKED_AE, "", 2 * 3 + 2),  # two encoder/decoder pairs pre-trained for 3 epochs each, then 2 epochs
    (DBM, 'engine = "classical"', 2),  # its RBMs' pre-training is not reported as epochs
], ids=["stacked_ae", "dbm"])
def test_the_progress_total_counts_the_pretraining_epochs_a_kind_reports(tmp_path, capsys, monkeypatch, model,
                                                                         train, total):
    counted = StudyProgress.epoch

    def epoch_then_heartbeat(self, trial_id: str, epoch: int) -> None:
        counted(self, trial_id, epoch)
        self.heartbeat()

    monkeypatch.setattr(StudyProgress, "epoch", epoch_then_heartbeat)
    assert run_cli(write(tmp_path, PRETRAINING.format(model=model, train=train)), "--store", tmp_path / "runs",
                   "--workers", "1") == 0
    beats = [re.search(r"(\d+)/(\d+) epochs, .* ETA (\S+)", line)
             for line in capsys.readouterr().err.splitlines() if line.startswith("pre: 0/1 trials")]
    assert [(int(b[1]), int(b[2])) for b in beats] == [(done, total) for done in range(1, total + 1)]
    assert not any(b[3].startswith("-") for b in beats)


CNN = """
[study]
name = "cnn"
[data]
name = "{data}"
train_size = 64
[model]
kind = "cnn"
blocks = {blocks}
[train]
epochs = 1
"""


@pytest.mark.parametrize("data, blocks, line", [
    ("digits", "[{channels = 2, kernel = 9}]", "model.blocks.0.kernel = 9 is larger than the 8×8 image; at most 8"),
    ("digits", '[{channels = 2, pool = "max"}, {channels = 2, kernel = 5}]',
     "model.blocks.1.kernel = 5 is larger than the 3×3 image it gets (the 8×8 image shrunk by the blocks before "
     "it); at most 3"),
    ("digits", "[{channels = 2, kernel = 6, padding = 1, dilation = 2}]",
     "model.blocks.0.kernel = 6 with padding = 1 and dilation = 2 is larger than the 8×8 image; at most 5"),
    ("mnist1d", "[{channels = 2, stride = 4}, {channels = 2, kernel = 11}]",
     "model.blocks.1.kernel = 11 is larger than the signal of length 10 it gets (the signal of length 40 shrunk "
     "by the blocks before it); at most 10"),
    ("digits", '[{channels = 2, pool = "max"}, {channels = 2, pool = "max"}]',
     "model.blocks.1.pool_size = 2 is larger than the 1×1 image its convolution leaves; at most 1"),
], ids=["kernel", "after-pooling", "dilated", "signal", "pool"])
def test_a_kernel_or_pool_window_larger_than_what_it_gets_is_one_line(tmp_path, capsys, data, blocks, line):
    err = refused(tmp_path, capsys, ["run", write(tmp_path, CNN.format(data=data, blocks=blocks))])
    assert err == f"nnstudy: error: {tmp_path / 's.toml'}: {line}"


def test_a_kernel_that_fits_its_padded_image_trains(tmp_path, capsys):
    blocks = '[{channels = 2, kernel = 8}, {channels = 2, kernel = 1}, {channels = 2, kernel = 9, padding = "same"}]'
    assert run_cli(write(tmp_path, CNN.format(data="digits", blocks=blocks)), "--store", tmp_path / "runs") == 0


VIT = """
[study]
name = "vit"
[data]
name = "{data}"
[model]
kind = "vit"
patch = 2
dim = 8
depth = 1
heads = 2
mlp_dim = 8
[train]
epochs = 1
"""


def test_a_vit_on_flat_inputs_is_one_line(tmp_path, capsys):
    err = refused(tmp_path, capsys, ["run", write(tmp_path, VIT.format(data="iris"))])
    assert err == (f'nnstudy: error: {tmp_path / "s.toml"}: model.kind = "vit" cuts images and signals into patches; '
                   f"iris has flat inputs (4 features)")


def test_a_vit_on_a_series_windows_trains(tmp_path):
    """elnino's 12 lags are one series' window: 6 patches of 2 months (Adam: its raw temperatures diverge at SGD's
    lr 0.1, as an MLP's do)."""
    study = VIT.format(data="elnino").replace("epochs = 1", 'epochs = 1\noptimizer = "adam"\nlr = 0.001')
    store = tmp_path / "runs"
    assert run_cli(write(tmp_path, study), "--store", store) == 0
    assert nnstudy.load("vit", store=store).trials()["status"].tolist() == ["done"]


def test_a_vit_on_a_signal_trains(tmp_path):
    study = VIT.format(data="mnist1d").replace("[model]", "train_size = 64\n[model]")
    assert run_cli(write(tmp_path, study), "--store", tmp_path / "runs") == 0


SOM = """
[study]
name = "som"
[data]
name = "iris"
[model]
kind = "som"
grid = [2, 3]
sigma = {sigma}
iterations = 100
[train]
engine = "classical"
"""


def test_a_som_neighbourhood_wider_than_the_map_is_one_line(tmp_path, capsys):
    err = refused(tmp_path, capsys, ["run", write(tmp_path, SOM.format(sigma="1e308"))])
    assert err == (f"nnstudy: error: {tmp_path / 's.toml'}: model: sigma: 1e+308 is wider than the diagonal of the "
                   "2×3 map, so every unit would learn the same thing: at most 3.605 (√(rows² + columns²))")


@pytest.mark.parametrize("grid", [(2, 3), (10, 10), (1, 7)])
def test_the_som_sigma_bound_is_minisoms_own(grid):
    """Accepted exactly where MiniSom does not warn that sigma might be too high for the map."""
    diagonal = math.sqrt(grid[0] ** 2 + grid[1] ** 2)
    for sigma, accepted in [(diagonal, True), (math.nextafter(diagonal, math.inf), False)]:
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            MiniSom(*grid, 4, sigma=sigma)
        assert (not any("sigma might be too high" in str(w.message) for w in warned)) is accepted
        if accepted:
            SOMConfig.model_validate({"grid": list(grid), "sigma": sigma})
        else:
            with pytest.raises(ValidationError, match="wider than the diagonal"):
                SOMConfig.model_validate({"grid": list(grid), "sigma": sigma})


CLASSES = """
[study]
name = "classes"
[data]
name = "digits"
train_size = 64
classes = {classes}
[model]
hidden = [4]
[train]
epochs = 1
"""


@pytest.mark.parametrize("classes, line", [
    ("[1, 1]", "data.classes: label 1 is listed twice in [1, 1]: list each class once"),
    ("[0, 2, 2, 2]", "data.classes: label 2 is listed 3 times in [0, 2, 2, 2]: list each class once"),
    ("[1]", "data.classes: [1] keeps one class, so every accuracy is 1.0 by construction: keep two or more (one "
            "class suits generative models)"),
])
def test_a_repeated_class_label_is_named_as_repeated(tmp_path, capsys, classes, line):
    err = refused(tmp_path, capsys, ["run", write(tmp_path, CLASSES.format(classes=classes))])
    assert err == f"nnstudy: error: {tmp_path / 's.toml'}: {line}"


WIDE = """
[study]
name = "wide"
[data]
name = "digits"
train_size = 64
[model]
hidden = [{width}]
[train]
epochs = 1
{train}
"""
WIDE_LINE = ("model.hidden: [1000000] needs {gb} GB for its weights{grads} (75,000,010 {dtype} parameters on 64 "
             "inputs), more than this machine's 0.2 GB of memory")
GRADS = " and their gradients"  # what training holds at least: counted where the command trains or differentiates


@pytest.fixture
def small_machine(monkeypatch):
    """This machine's memory, as the check reads it, at 0.2 GB: 64 x 1,000,000 + ... weights do not fit."""
    monkeypatch.setattr(nnstudy.kinds, "machine_memory", lambda: 200_000_000)


@pytest.mark.parametrize("command, train, line", [
    ("run", "", WIDE_LINE.format(gb="0.6", grads=GRADS, dtype="float32")),
    ("run", 'dtype = "float64"', WIDE_LINE.format(gb="1.2", grads=GRADS, dtype="float64")),
    ("summary", "", WIDE_LINE.format(gb="0.3", grads="", dtype="float32")),
    ("summary", 'engine = "numpy"', WIDE_LINE.format(gb="0.6", grads="", dtype="float64")),  # built in float64
    ("gradcheck", "", WIDE_LINE.format(gb="1.2", grads=GRADS, dtype="float64")),
], ids=["run", "run-float64", "summary", "summary-numpy", "gradcheck"])
def test_a_network_whose_weights_exceed_the_machines_memory_is_one_line(tmp_path, capsys, small_machine, command,
                                                                        train, line):
    path = write(tmp_path, WIDE.format(width=1_000_000, train=train))
    args = [command, path] if command != "run" else [command, path, "--store", str(tmp_path / "store")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"nnstudy: error: {path}: {line}" and len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]  # no store


def test_a_search_that_may_propose_a_network_too_large_for_the_machine_is_refused_first(tmp_path, capsys,
                                                                                        small_machine):
    search = '[search]\ntrials = 1\n[search.space]\n"model.hidden" = { choices = [[4], [1000000]] }\n'
    err = refused(tmp_path, capsys, ["run", write(tmp_path, WIDE.format(width=4, train="") + search)])
    assert err == (f"nnstudy: error: {tmp_path / 's.toml'}: search.space.model.hidden: the value [1000000]: "
                   + WIDE_LINE.format(gb="0.6", grads=GRADS, dtype="float32").removeprefix("model.hidden: "))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]  # no store, no Optuna history


def test_a_network_that_fits_the_machine_trains(tmp_path, small_machine):
    assert nnstudy.kinds.machine_memory() == 200_000_000
    assert run_cli(write(tmp_path, WIDE.format(width=1000, train="")), "--store", tmp_path / "runs") == 0


def test_a_network_whose_weights_fit_but_not_with_their_gradients_is_refused_by_run_not_summary(tmp_path, capsys,
                                                                                                 small_machine):
    path = write(tmp_path, WIDE.format(width=500_000, train=""))  # 37.5 million float32 weights: 0.15 GB, 0.3 GB
    assert main(["summary", path]) == 0
    capsys.readouterr()
    assert main(["run", path, "--store", str(tmp_path / "store")]) == 2
    assert "needs 0.3 GB for its weights and their gradients (37,500,010 float32" in capsys.readouterr().err
    assert not (tmp_path / "store").exists()


def test_the_machines_memory_is_read():
    from nnstudy.kinds import machine_memory

    assert machine_memory() > 10**8  # a POSIX machine: its pages, or its container's limit
