"""Stacked training: a trial trained in a stack gives the per-epoch metrics it gives alone."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
import torch

from nnstudy.data import load
from nnstudy.engines._torch._stack import stack_key
from nnstudy.engines._torch._stack_train import train_group
from nnstudy.engines._torch._train import train_trial
from nnstudy.executor._stacked import plan
from nnstudy.spec import expand, read_study

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad", "adadelta")
PER_TRIAL_SWEEP = [{"train.lr": [0.05, 0.01], "model.dropout": [0.0, 0.3], "train.grad_noise": [0.0, 0.01]},
                   {"train.l2": [1e-3], "train.l1": [1e-4], "train.weight_decay": [1e-2]}]


pytestmark = pytest.mark.usefixtures("one_thread")


def trials_of(train: dict, model: dict | None = None, sweep: dict | None = None, data: dict | None = None,
              seeds: int = 2):
    raw = {"study": {"name": "stack"},
           "data": data or {"name": "moons", "n_samples": 200, "noise": 0.2},
           "model": model if model and model.get("kind", "mlp") != "mlp" else {"hidden": [8, 8], **(model or {})},
           "train": {"batch_size": 16, "epochs": 3, "dtype": "float64", **train},
           "sweep": sweep if sweep is not None else PER_TRIAL_SWEEP, "trials": {"seeds": seeds}}
    study, _, _ = read_study(raw)
    return load(study.data), expand(study)


def worst_difference(data, trials, mode: str = "eager", device: str = "cpu") -> float:
    """Largest relative difference of any per-epoch metric (and epochs run) between stack and alone."""
    alone = [train_trial(t, data, lambda e, m: None, device) for t in trials]
    seen: list[tuple[str, int]] = []
    stacked = train_group(trials, data, lambda tid, e, m: seen.append((tid, e)), device, mode=mode)
    assert sorted(seen) == sorted((t.trial_id, row["epoch"]) for t, r in zip(trials, stacked) for row in r.history)
    worst = 0.0
    for a, b in zip(alone, stacked, strict=True):
        assert (a.status, len(a.history)) == (b.status, len(b.history))
        for ra, rb in zip(a.history, b.history):
            assert set(ra) == set(rb)
            for key in ra.keys() - {"time_s"}:
                worst = max(worst, abs(ra[key] - rb[key]) / max(1e-6, abs(ra[key])))
        assert {k for k in a.final} == {k for k in b.final}
        assert set(a.artifacts) == set(b.artifacts)
    return worst


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_elementwise_optimizer_matches_alone(optimizer):
    data, trials = trials_of({"optimizer": optimizer})
    assert len({stack_key(t) for t in trials}) == 1 and len(trials) == 18
    assert worst_difference(data, trials) < 1e-9


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_normalization_layers_match_alone(norm):
    data, trials = trials_of({"optimizer": "adam", "lr": 0.01}, {"norm": norm},
                             {"model.dropout": [0.0, 0.3], "train.lr": [0.01, 0.001]})
    assert worst_difference(data, trials) < 1e-8


def test_own_epochs_schedules_and_early_stopping():
    """Trials stop at different epochs (own epochs, own patience); stopped trials keep their best weights."""
    data, trials = trials_of({"optimizer": "sgd", "lr": 0.5, "epochs": 6},
                             sweep=[{"train.epochs": [2, 6], "train.schedule.kind": ["cosine", "step"]},
                                    {"train.early_stopping.patience": [1], "train.lr": [0.5, 2.0]}],
                             seeds=2)
    assert len({stack_key(t) for t in trials}) == 1
    results = train_group(trials, data, lambda *a: None)
    assert len({len(r.history) for r in results}) > 1  # they really stopped at different epochs
    assert worst_difference(data, trials) < 1e-9


@pytest.mark.parametrize("kind,data", [
    ("perceptron", {"name": "iris"}),
    ("logistic", {"name": "moons", "n_samples": 200}),  # one logit, sigmoid + BCE
    ("mlp", {"name": "sine", "n_samples": 200}),  # regression: MSE
    ("mlp", {"name": "surface", "n_samples": 200, "normalize_target": "standard"}),  # MSE back in units
])
def test_linear_models_and_regression_match_alone(kind, data):
    model = {"kind": kind} if kind != "mlp" else {"hidden": [8]}
    data, trials = trials_of({"optimizer": "sgd", "lr": 0.05}, model, {"train.lr": [0.05, 0.01]}, data)
    assert worst_difference(data, trials) < 1e-9


@pytest.mark.parametrize("mode", ["eager", "indexed"])
def test_cnn_with_batch_norm_and_dropout_matches_alone(mode):
    """The CNN family stacks by torch.func.vmap over stacked parameters and buffers."""
    block = {"channels": 4, "kernel": 3, "pool": "max", "batch_norm": True, "dropout": 0.2}
    data, trials = trials_of({"optimizer": "adam", "lr": 0.01, "epochs": 2},
                             {"kind": "cnn", "blocks": [block], "hidden": [16], "dropout": 0.3},
                             {"train.lr": [0.01, 0.001], "model.dropout": [0.3, 0.1], "train.grad_noise": [0.0, 0.01]},
                             {"name": "digits", "train_size": 200}, seeds=1)
    assert len({stack_key(t) for t in trials}) == 1
    assert worst_difference(data, trials, mode) < 1e-9


@pytest.mark.parametrize("model", [{"kind": "resnet18", "width": 4},
                                   {"kind": "vit", "patch": 2, "dim": 8, "depth": 2, "heads": 2, "mlp_dim": 8,
                                    "dropout": 0.2}])
def test_resnet_and_vit_match_alone(model):
    data, trials = trials_of({"optimizer": "momentum", "lr": 0.01, "epochs": 2}, model, {"train.lr": [0.01, 0.001]},
                             {"name": "digits", "train_size": 64}, seeds=1)
    assert worst_difference(data, trials, "indexed") < 1e-9


def test_float32_and_device_indexed_step_match_alone():
    """float32 within float32 rounding; the CUDA-graph step's batch selection (indexed) run on the CPU."""
    data, trials = trials_of({"optimizer": "adam", "lr": 0.01, "dtype": "float32"},
                             sweep={"model.dropout": [0.0, 0.2], "train.grad_noise": [0.0, 0.01]})
    assert worst_difference(data, trials, mode="indexed") < 1e-4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_graph_step_matches_alone():
    """The captured steps (one with the gradient norms measured, one without) replayed as an epoch needs.
    (Not Adam: at batch 2 and lr 0.05 its normalised steps let the last bits of its differently ordered
    update grow, 1e-8 after one epoch on the CPU and 4e-7 on an H200, while its lr 0.01 trials agree to 1e-16.)"""
    data, trials = trials_of({"optimizer": "momentum", "lr": 0.01, "batch_size": 2, "epochs": 2},
                             sweep={"train.lr": [0.01, 0.05], "model.dropout": [0.3], "train.grad_noise": [0.01]},
                             data={"name": "digits", "train_size": 1100}, seeds=1)
    assert len(data.x_train) // 2 >= 512  # gradient norms measured on every other step: both graphs replayed
    assert worst_difference(data, trials, "graph", "cuda") < 1e-9


def test_diverging_trial_does_not_touch_the_others():
    data, trials = trials_of({"optimizer": "sgd", "epochs": 3}, sweep={"train.lr": [0.05, 1e6]}, seeds=1,
                             data={"name": "sine", "n_samples": 200})
    results = train_group(trials, data, lambda *a: None)
    by_lr = {t.config["train"]["lr"]: r for t, r in zip(trials, results)}
    assert by_lr[1e6].status == "diverged" and by_lr[0.05].status == "done"
    alone = train_trial(next(t for t in trials if t.config["train"]["lr"] == 0.05), data, lambda e, m: None)
    assert math.isclose(alone.final["test_mse"], by_lr[0.05].final["test_mse"], rel_tol=1e-12)


def test_plan_groups_by_program_and_leaves_the_rest_alone():
    _, trials = trials_of({"optimizer": "sgd"}, sweep=[{"train.batch_size": [16, 32], "train.lr": [0.1, 0.01]},
                                                       {"train.optimizer": ["lbfgs"]}], seeds=3)
    stacks, singles = plan(trials, "on", "cpu")
    assert sorted(len(s) for s in stacks) == [6, 6]
    assert all(len({t.config["train"]["batch_size"] for t in s}) == 1 for s in stacks)
    assert [t.config["train"]["optimizer"] for t in singles] == ["lbfgs"] * 3
    assert plan(trials, "auto", "cpu") == ([], trials)  # without the pool's size: auto stacks on CUDA only
    assert plan(trials, "off", "cuda") == ([], trials)
    stacks, _ = plan(trials * 20, "on", "cpu")  # (the same trial many times: only sizes matter here)
    assert [len(s) for s in stacks] == [60] * 4  # two groups of 120, in stacks of at most 64 and equal sizes


def test_the_cpu_pool_gets_a_stack_each_where_the_groups_are_fewer_than_its_processes():
    """fill: one group of 20 gives 2 stacks of 10 for 2 processes, 10 stacks of 2 for 16 (never a stack of 1);
    4 groups of 5 and 5 singles keep their stacks for 2 processes; Ray's parts split as before."""
    small = lambda trial: 1000  # noqa: E731
    _, mlps = trials_of({"optimizer": "sgd"}, sweep={"train.lr": [0.1, 0.01, 0.001, 0.3]}, seeds=5)
    sizes = lambda *a, **kw: [len(s) for s in plan(mlps, *a, **kw)[0]]  # noqa: E731
    assert sizes("auto", "cpu", workers=2, step_size=small, fill=2) == [10, 10]
    assert sizes("auto", "cpu", workers=16, step_size=small, fill=16) == [2] * 10
    assert sizes("auto", "cpu", workers=2, step_size=small) == [20]  # the driver's stack: not split
    assert sizes("on", "cpu", fill=3) == [7, 7, 6]
    assert sizes("on", "cuda", parts=4) == [5, 5, 5, 5]
    three = mlps[:3]
    assert [len(s) for s in plan(three, "on", "cpu", fill=2)[0]] == [3]  # 2 + 1 would be a stack of one
    _, mixed = trials_of({"optimizer": "sgd"}, sweep=[{"train.lr": [0.1, 0.01, 0.001, 0.3]},
                                                      {"train.optimizer": ["lbfgs"]}], seeds=5)
    stacks, singles = plan(mixed, "on", "cpu", fill=2)
    assert [len(s) for s in stacks] == [20] and len(singles) == 5  # 1 stack + 5 singles already fill two


def test_auto_on_the_cpu_stacks_small_mlp_groups_larger_than_the_pool():
    """A group of 3 MLP trials with small steps stacks beside 2 workers, not beside 3; 2 trials never; a CNN, a
    large step or an unknown one never; the driver's step_size is batch x weights."""
    from nnstudy.executor._driver import Driver

    small = lambda trial: 1000  # noqa: E731
    _, mlps = trials_of({"optimizer": "sgd"}, sweep={"train.lr": [0.1, 0.01]}, seeds=3)  # one group of 6
    assert [len(s) for s in plan(mlps, "auto", "cpu", workers=2, step_size=small)[0]] == [6]
    assert [len(s) for s in plan(mlps, "auto", "cpu", workers=5, step_size=small)[0]] == [6]
    assert plan(mlps, "auto", "cpu", workers=6, step_size=small) == ([], mlps)
    assert plan(mlps[:2], "auto", "cpu", workers=1, step_size=small) == ([], mlps[:2])
    assert [len(s) for s in plan(mlps[:3], "auto", "cpu", workers=1, step_size=small)[0]] == [3]
    for size in (lambda trial: 10 ** 7, lambda trial: None):  # a compute-bound step; data that do not load
        assert plan(mlps, "auto", "cpu", workers=1, step_size=size) == ([], mlps)
    cnn = {"kind": "cnn", "blocks": [{"channels": 2, "kernel": 3}], "hidden": []}
    _, cnns = trials_of({"optimizer": "sgd"}, model=cnn,
                        sweep={"train.lr": [0.1, 0.01]}, data={"name": "digits", "train_size": 64}, seeds=3)
    assert plan(cnns, "auto", "cpu", workers=1, step_size=small) == ([], cnns)
    assert [len(s) for s in plan(cnns, "on", "cpu", workers=1)[0]] == [6]

    driver = Driver.__new__(Driver)
    driver.data_facts = {}
    assert driver.step_size(mlps[0]) == 16 * ((2 * 8 + 8) + (8 * 8 + 8) + (8 * 2 + 2))  # moons, hidden [8, 8]
    _, full = trials_of({"optimizer": "sgd", "batch_size": "full"}, sweep={"train.lr": [0.1]}, seeds=1)
    n_train = driver.data_facts[json.dumps(full[0].config["data"], sort_keys=True)][0]
    assert driver.step_size(full[0]) == n_train * 114


def test_a_stack_that_runs_out_of_memory_is_halved_until_it_fits(monkeypatch):
    from nnstudy.engines import TorchEngine
    from nnstudy.executor._worker import run_stack

    data, trials = trials_of({"optimizer": "sgd"}, sweep={"train.lr": [0.1, 0.05, 0.02]}, seeds=2)
    sizes, splits = [], []
    real = TorchEngine.train_group

    def tight(self, group, *args, **kw):  # a device that holds at most 2 trials
        sizes.append(len(group))
        if len(group) > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return real(self, group, *args, **kw)

    monkeypatch.setattr(TorchEngine, "train_group", tight)
    got = run_stack(trials, "cpu", on_split=splits.append)
    assert sizes == [6, 3, 1, 2, 3, 1, 2] and splits == [6, 3, 3]
    alone = [train_trial(t, data, lambda e, m: None) for t in trials]
    assert [r.final["val_loss"] for r, _ in got] == pytest.approx([a.final["val_loss"] for a in alone], rel=1e-9)


def test_on_the_cpu_only_equal_budgets_stack():
    _, trials = trials_of({"optimizer": "sgd"}, sweep={"train.epochs": [2, 3], "train.lr": [0.1, 0.01]})
    cpu, _ = plan(trials, "on", "cpu")
    assert sorted(len(s) for s in cpu) == [4, 4]
    assert all(len({t.config["train"]["epochs"] for t in s}) == 1 for s in cpu)
    gpu, _ = plan(trials, "on", "cuda")  # a GPU stack costs its longest budget, whatever its size
    assert [len(s) for s in gpu] == [8]


SMALL_MOONS = """
[study]
name = "{name}"
[data]
name = "moons"
n_samples = 200
[model]
hidden = [8]
[train]"""  # a study's head; its [train] keys follow


def test_cli_stack_on_stores_what_stack_off_stores(tmp_path, monkeypatch):
    study = tmp_path / "s.toml"
    study.write_text(SMALL_MOONS.format(name="stacked") + """
optimizer = "momentum"
epochs = 3
early_stopping = { patience = 1 }
[sweep]
"train.lr" = [0.1, 0.01]
"model.dropout" = [0.0, 0.2]
[trials]
seeds = 2
""")
    on = stacked_equals_off(tmp_path, monkeypatch, study, "1", ("val_loss", "test_loss", "test_accuracy", "epochs_run"))
    assert len(on) == 8


def stacked_equals_off(tmp_path, monkeypatch, study, workers: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """The study run with --stack on and off: the same trials, their `columns` equal to float32 rounding; the
    stacked run's trials.csv."""
    from nnstudy.cli import main

    monkeypatch.chdir(tmp_path)
    name = study.read_text().split('name = "')[1].split('"')[0]
    tables = {}
    for mode in ("on", "off"):
        assert main(["run", str(study), "--store", f"store-{mode}", "--stack", mode, "--workers", workers]) == 0
        tables[mode] = pd.read_csv(tmp_path / f"store-{mode}" / name / "trials.csv").set_index("trial_id").sort_index()
    on, off = tables["on"], tables["off"]
    assert list(on.index) == list(off.index)
    for col in columns:
        assert (on[col] - off[col]).abs().max() < 1e-5, col
    return on


def test_cli_stacks_in_the_pool_beside_trials_alone_store_what_stack_off_stores(tmp_path, monkeypatch, capsys):
    """Two workers: the momentum seeds as one stack in a worker, the L-BFGS seeds alone beside it."""
    study = tmp_path / "s.toml"
    study.write_text(SMALL_MOONS.format(name="pooled") + """
epochs = 2
lr = 0.1
[sweep]
"train.optimizer" = ["momentum", "lbfgs"]
[trials]
seeds = 3
""")
    on = stacked_equals_off(tmp_path, monkeypatch, study, "2", ("val_loss", "test_loss", "test_accuracy"))
    assert "training 6 trial(s) on 1 stack(s) of up to 3 trials and 3 alone on 2 worker(s)" in capsys.readouterr().err
    assert len(on) == 6
    assert sorted(on["stacked"].fillna(0).astype(int)) == [0, 0, 0, 3, 3, 3] and set(on["threads"]) == {1}


def test_evaluation_chunks_grow_with_a_gpus_free_memory(monkeypatch):
    from nnstudy.engines._torch._stack_train import eval_scale

    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda dev: (130 << 30, 141 << 30))
    assert eval_scale(torch.device("cuda")) == 8
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda dev: (13 << 30, 16 << 30))
    assert eval_scale(torch.device("cuda")) == 3
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda dev: (3 << 30, 8 << 30))
    assert eval_scale(torch.device("cuda")) == 1
    assert eval_scale(torch.device("cpu")) == 1
