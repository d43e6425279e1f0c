"""Issue 19, recording: per-step records (train.log_every_steps), a budget in steps (train.steps), divergence
that is not NaN, early stopping on the training loss (monitor), the plateau schedule, rho and eps settable;
on the torch engine alone, stacked (equal to alone) and the numpy engine."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch

from nnstudy.data import load
from nnstudy.engines._common import EarlyStopper, EpochLog, Plateau, optimizer_eps
from nnstudy.engines._numpy._train import train_trial as numpy_trial
from nnstudy.engines._torch._optim import make_optimizer
from nnstudy.engines._torch._stack import stack_key
from nnstudy.engines._torch._stack_train import train_group
from nnstudy.engines._torch._train import train_trial
from nnstudy.errors import StudyError
from nnstudy.spec import expand, read_study

MOONS = {"name": "moons", "n_samples": 200, "noise": 0.2}


pytestmark = pytest.mark.usefixtures("one_thread")


def trials_of(train: dict, sweep: dict | list | None = None, data: dict | None = None, model: dict | None = None,
              seeds: int = 1, engine: str = "torch"):
    raw = {"study": {"name": "recording"}, "data": data or MOONS, "model": model or {"hidden": [8]},
           "train": {"engine": engine, "batch_size": 16, "dtype": "float64",
                     **({} if "steps" in train else {"epochs": 3}), **train},  # steps replace epochs
           "sweep": sweep or {}, "trials": {"seeds": seeds}}
    study, _, _ = read_study(raw)
    return load(study.data), expand(study)


def steps_of(result) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(result.artifacts["step_losses.npz"])) as z:
        return {k: z[k] for k in z.files}


def test_per_step_losses_average_to_the_epoch_loss_when_the_model_stands_still():
    """lr 1e-12: the weights do not move, so each epoch's per-step batch losses (144 training samples, 9
    batches of 16) average to that epoch's training loss; one record per step, step numbers 1..27."""
    for engine, run in (("torch", train_trial), ("numpy", numpy_trial)):
        data, (trial,) = trials_of({"lr": 1e-12, "log_every_steps": 1}, engine=engine)
        assert len(data.x_train) == 144
        r = run(trial, data, lambda e, m: None)
        s = steps_of(r)
        assert list(s["step"]) == list(range(1, 28)) and list(s["epoch"]) == [1] * 9 + [2] * 9 + [3] * 9
        for epoch, row in enumerate(r.history, 1):
            assert s["loss"][s["epoch"] == epoch].mean() == pytest.approx(row["train_loss"], rel=1e-9)
        assert np.all(s["lr"] == 1e-12) and int(s["every"]) == 1
        assert np.ptp(s["loss"]) > 0  # batches differ: a real per-batch series, not the epoch's value copied


def test_every_n_steps_is_the_mean_of_n_steps_and_carries_the_learning_rate():
    data, (one,) = trials_of({"lr": 0.5, "log_every_steps": 1, "schedule": {"kind": "step", "step_size": 1,
                                                                           "gamma": 0.5}})
    data, (four,) = trials_of({"lr": 0.5, "log_every_steps": 4, "schedule": {"kind": "step", "step_size": 1,
                                                                            "gamma": 0.5}})
    a, b = steps_of(train_trial(one, data, lambda e, m: None)), steps_of(train_trial(four, data, lambda e, m: None))
    assert list(b["step"]) == [4, 8, 12, 16, 20, 24, 27]  # windows span epochs; the last: steps 25 to 27
    assert b["loss"] == pytest.approx([a["loss"][i:i + 4].mean() for i in range(0, 27, 4)], rel=1e-12)
    assert list(a["lr"][[0, 8, 9, 17, 18]]) == [0.5, 0.5, 0.25, 0.25, 0.125]  # the rate each step ran at
    assert a["loss"][:5].mean() > a["loss"][-5:].mean()  # it learns


def test_a_budget_in_steps():
    """train.steps = 25 at 9 steps an epoch: 3 epochs, the last one of 7 steps; train.epochs is not used."""
    for engine, run in (("torch", train_trial), ("numpy", numpy_trial)):
        data, (trial,) = trials_of({"steps": 25, "log_every_steps": 5}, engine=engine)
        r = run(trial, data, lambda e, m: None)
        assert r.final["epochs_run"] == 3 and list(steps_of(r)["step"]) == [5, 10, 15, 20, 25]
    # its first 18 steps are a 2-epoch trial's: the same training loss after epoch 2
    data, (budget,) = trials_of({"steps": 25})
    data, (two,) = trials_of({"epochs": 2})
    assert train_trial(two, data, lambda e, m: None).history[1]["train_loss"] == pytest.approx(
        train_trial(budget, data, lambda e, m: None).history[1]["train_loss"], rel=1e-12)


def test_budget_in_steps_sweeps_batch_sizes():
    data, trials = trials_of({"steps": 40}, sweep={"train.batch_size": [16, 48, 144]})
    runs = [train_trial(t, data, lambda e, m: None).final["epochs_run"] for t in trials]
    assert runs == [5, 14, 40]  # 9, 3 and 1 steps an epoch


def _worst(alone, stacked) -> float:
    worst = 0.0
    for a, b in zip(alone, stacked, strict=True):
        assert (a.status, len(a.history), set(a.artifacts)) == (b.status, len(b.history), set(b.artifacts))
        for ra, rb in zip(a.history, b.history):
            assert set(ra) == set(rb)
            for key in ra.keys() - {"time_s"}:
                worst = max(worst, abs(ra[key] - rb[key]) / max(1e-6, abs(ra[key])))
        if "step_losses.npz" in a.artifacts:
            sa, sb = steps_of(a), steps_of(b)
            assert set(sa) == set(sb) and all(np.array_equal(sa[k], sb[k]) for k in ("step", "epoch", "every"))
            worst = max(worst, float(np.max(np.abs(sa["loss"] - sb["loss"]) / np.abs(sa["loss"]))))
            assert sa["lr"] == pytest.approx(sb["lr"], rel=1e-12)
    return worst


@pytest.mark.parametrize("mode", ["eager", "indexed"])
def test_stacked_equals_alone_with_the_new_keys(mode):
    """Per-step records, a budget in steps with a partial last epoch, the plateau schedule, rho and eps,
    early stopping on the training loss: each trial of the stack as alone."""
    data, trials = trials_of({"optimizer": "adadelta", "lr": 1.0, "steps": 53, "log_every_steps": 3},
                             sweep=[{"train.rho": [0.5, 0.95], "train.eps": [1e-4, 1e-8]},
                                    {"train.schedule.kind": ["plateau"], "train.schedule.patience": [0], "train.lr": [100.0],
                                     "train.schedule.gamma": [0.5], "train.schedule.monitor": ["train_loss"]},
                                    {"train.early_stopping.patience": [1], "train.early_stopping.monitor":
                                     ["train_loss"], "train.lr": [5.0]}],
                             model={"hidden": [8], "dropout": 0.2}, seeds=2)
    assert len(trials) == 12 and len({stack_key(t) for t in trials}) == 1
    alone = [train_trial(t, data, lambda e, m: None) for t in trials]
    stacked = train_group(trials, data, lambda *a: None, mode=mode)
    assert _worst(alone, stacked) < 1e-9
    assert {len(steps_of(r)["step"]) for r in alone} >= {18}  # 53 steps, every 3: 18 records (the last of 2)
    plateau = [r for t, r in zip(trials, alone) if t.config["train"]["schedule"]["kind"] == "plateau"]
    assert all(len({h["lr"] for h in r.history}) > 1 for r in plateau)  # the schedule really lowered it


@pytest.mark.parametrize("optimizer", ["rmsprop", "adadelta"])
def test_rmsprop_stacked_with_own_rho(optimizer):
    data, trials = trials_of({"optimizer": optimizer, "lr": 0.01 if optimizer == "rmsprop" else 1.0},
                             sweep={"train.rho": [0.5, 0.9]}, seeds=2)
    assert _worst([train_trial(t, data, lambda e, m: None) for t in trials],
                  train_group(trials, data, lambda *a: None)) < 1e-9


def test_rho_and_eps_reach_every_optimizer_that_has_them():
    p = [torch.nn.Parameter(torch.zeros(2))]
    base = {"lr": 1.0, "weight_decay": 0.0, "momentum": 0.9, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    dd = make_optimizer(p, {**base, "optimizer": "adadelta", "rho": 0.5, "eps": 1e-3}).defaults
    assert (dd["rho"], dd["eps"]) == (0.5, 1e-3)
    dd = make_optimizer(p, {**base, "optimizer": "adadelta"}).defaults
    assert (dd["rho"], dd["eps"]) == (0.9, 1e-6)  # left out: torch's own defaults, as before (ids kept)
    dd = make_optimizer(p, {**base, "optimizer": "rmsprop", "rho": 0.8, "eps": 1e-5}).defaults
    assert (dd["alpha"], dd["eps"]) == (0.8, 1e-5)
    assert optimizer_eps({"optimizer": "adam", "eps": 1e-8}) == 1e-8
    # and they change the numbers, on both engines
    for engine, run in (("torch", train_trial), ("numpy", numpy_trial)):
        finals = set()
        for extra in ({}, {"rho": 0.5}, {"eps": 1e-3}):
            data, (t,) = trials_of({"optimizer": "adadelta", "lr": 1.0, **extra}, engine=engine)
            finals.add(run(t, data, lambda e, m: None).final["train_loss"])
        assert len(finals) == 3


def test_numpy_adadelta_and_rmsprop_follow_torch_with_rho_and_eps():
    from nnstudy.engines._numpy._optim import make_optimizer as numpy_optimizer

    rng = np.random.default_rng(0)
    grads = rng.standard_normal((20, 5))
    for name, extra in (("adadelta", {"rho": 0.6, "eps": 1e-4}), ("rmsprop", {"rho": 0.7, "eps": 1e-5})):
        tc = {"optimizer": name, "lr": 0.1, "weight_decay": 0.0, "momentum": 0.9, "beta1": 0.9, "beta2": 0.999,
              **extra}
        w_np = [np.zeros(5)]
        opt = numpy_optimizer(tc, lambda c: 0.1)
        state = opt.init(w_np)
        w_t = torch.nn.Parameter(torch.zeros(5, dtype=torch.float64))
        topt = make_optimizer([w_t], tc)
        for g in grads:
            updates, state = opt.update([g.copy()], state, w_np)
            w_np[0] += updates[0]
            w_t.grad = torch.as_tensor(g)
            topt.step()
        assert w_np[0] == pytest.approx(w_t.detach().numpy(), rel=1e-10)


def test_divergence_that_is_not_nan():
    def run(losses):
        log = EpochLog({"early_stopping": {"patience": 0, "min_delta": 0.0, "restore_best": True}},
                       lambda e, m: None)
        for epoch, loss in enumerate(losses, 1):
            if log.record(epoch, {"train_loss": loss}, 0.0, None):
                break
        return log
    over = run([2.0, 1.0, 1e31, 5.0])
    assert over.status == "diverged" and len(over.history) == 3 and "1e+31" in over.reason
    ratio = run([0.5, 2e3, 6e5])  # over 1e6 times 0.5
    assert ratio.status == "diverged" and "6e+05" in ratio.reason and "at epoch 3" in ratio.reason
    assert run([0.5, 4e5, 1.0]).status == "done"  # 8e5 times: not yet
    assert run([1.0, float("nan")]).status == "diverged"


def test_a_huge_finite_loss_is_diverged_end_to_end():
    data, (trial,) = trials_of({"optimizer": "sgd", "lr": 3.0, "epochs": 30}, data={"name": "sine", "n_samples": 200},
                               model={"hidden": [32, 32], "activation": "relu"})
    r = train_trial(trial, data, lambda e, m: None)
    assert r.status == "diverged" and "loss became" in r.error


def test_early_stopping_on_the_training_loss():
    model = type("M", (), {"state_dict": lambda self: {}})()
    val_falls_train_rises = [{"train_loss": 1.0 + e, "val_loss": 1.0 - 0.1 * e} for e in range(6)]
    auto = EarlyStopper({"patience": 2, "min_delta": 0.0, "restore_best": False})
    train = EarlyStopper({"patience": 2, "min_delta": 0.0, "restore_best": False, "monitor": "train_loss"})
    stops = {name: next((e for e, m in enumerate(val_falls_train_rises, 1) if s.update(e, m, model)), None)
             for name, s in (("auto", auto), ("train", train))}
    assert stops == {"auto": None, "train": 3}
    with pytest.raises(ValueError, match="no val_loss"):
        EarlyStopper({"patience": 1, "min_delta": 0.0, "restore_best": False, "monitor": "val_loss"}).update(
            1, {"train_loss": 1.0}, model)


def test_plateau_follows_torch_reduce_on_plateau():
    values = [1.0, 0.9, 0.9, 0.95, 0.91, 0.5, 0.5, 0.5, 0.49999, 0.5, 0.4, 0.4, 0.4, 0.4]
    ours = Plateau(0.1, {"gamma": 0.5, "patience": 1, "monitor": "train_loss"})
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1)
    mine, theirs = [], []
    for v in values:
        mine.append(ours.step({"train_loss": v}))
        ref.step(v)
        theirs.append(opt.param_groups[0]["lr"])
    assert mine == pytest.approx(theirs, rel=1e-15) and len(set(mine)) >= 3


def test_plateau_on_the_numpy_engine_lowers_the_rate():
    data, (t,) = trials_of({"lr": 5.0, "epochs": 8, "schedule": {"kind": "plateau", "patience": 0, "gamma": 0.5}},
                           engine="numpy")
    lrs = [h["lr"] for h in numpy_trial(t, data, lambda e, m: None).history]
    assert lrs[-1] < 5.0 and all(b in (a, a * 0.5) for a, b in zip([5.0] + lrs, lrs))


def test_new_keys_stay_out_of_the_config_and_sweep():
    _, (plain,) = trials_of({})
    tc = plain.config["train"]
    assert not {"steps", "log_every_steps", "rho"} & set(tc)
    assert "monitor" not in tc["early_stopping"] and set(tc["schedule"]) == {"kind", "step_size", "gamma"}
    _, trials = trials_of({"optimizer": "adadelta"}, sweep={"train.rho": [0.5, 0.9], "train.log_every_steps": [1]})
    assert [t.config["train"]["rho"] for t in trials] == [0.5, 0.9]


@pytest.mark.parametrize("train,model,message", [
    ({"steps": 10}, {"kind": "ae", "hidden": [8]}, "train.steps: only the torch and numpy engines' shared"),
    ({"log_every_steps": 1, "engine": "classical"}, {"kind": "random_forest"}, "train.log_every_steps: only"),
    ({"schedule": {"kind": "plateau"}}, {"kind": "gan"}, 'train.schedule.kind = "plateau": only'),
    ({"schedule": {"kind": "step", "patience": 3}}, None, "patience and monitor belong to kind"),
])
def test_paths_without_a_feature_refuse_it(train, model, message):
    data = {"name": "digits", "normalize": "minmax"} if model and model["kind"] in ("ae", "gan") else MOONS
    with pytest.raises(StudyError, match=message.replace("(", r"\(").replace(".", r"\.")):
        read_study({"study": {"name": "refuse"}, "data": data, "model": model or {"hidden": [8]},
                    "train": train})


def test_per_step_records_are_stored_and_drawn(tmp_path):
    """Through the store: 30 steps at two batch sizes as one sweep, stacked; the report draws
    loss_per_step.png from the stored records."""
    import nnstudy
    from nnstudy.store import Store

    study = nnstudy.run({"study": {"name": "steps"}, "data": MOONS, "model": {"hidden": [8]},
                         "train": {"steps": 30, "log_every_steps": 5, "lr": 0.2},
                         "sweep": {"train.batch_size": [16, 48]}, "trials": {"seeds": 2}},
                        store=tmp_path / "runs", workers=1, stack="on")
    trials = study.trials()
    assert set(trials["status"]) == {"done"} and sorted(trials["epochs_run"]) == [4, 4, 10, 10]
    assert (study.report_dir / "figures" / "loss_per_step.png").stat().st_size > 5000
    snap = Store(tmp_path / "runs", create=False).snapshot("steps")
    arts = [a for a in snap.artifacts if a.name == "step_losses.npz"]
    assert len(arts) == 4
    for art in arts:
        with np.load(io.BytesIO(art.data)) as z:
            assert list(z["step"]) == [5, 10, 15, 20, 25, 30] and np.isfinite(z["loss"]).all()


def test_vmapped_cnn_stack_keeps_per_step_records_as_alone():
    block = {"channels": 4, "kernel": 3, "pool": "max", "batch_norm": True, "dropout": 0.2}
    data, trials = trials_of({"optimizer": "adam", "lr": 0.01, "log_every_steps": 2, "steps": 17},
                             {"train.lr": [0.01, 0.001]}, {"name": "digits", "train_size": 200},
                             {"kind": "cnn", "blocks": [block], "hidden": [16], "dropout": 0.3})
    assert len({stack_key(t) for t in trials}) == 1
    alone = [train_trial(t, data, lambda e, m: None) for t in trials]
    assert _worst(alone, train_group(trials, data, lambda *a: None, mode="indexed")) < 1e-9
    assert [list(steps_of(r)["step"]) for r in alone] == [[2, 4, 6, 8, 10, 12, 14, 16, 17]] * 2
