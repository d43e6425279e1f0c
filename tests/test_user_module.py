"""``[model] kind = "module"``: a user's own nn.Module, trained by the torch engine like a built-in kind."""

import io
import textwrap

import pytest
from rich.console import Console

import nnstudy
from nnstudy.cli import main

CNN = textwrap.dedent('''
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self, width=4, n_classes=10, fail=False):
            super().__init__()
            self.conv1 = nn.Conv2d(1, width, 3, padding=1)
            self.fc = nn.Linear(width * 4 * 4, n_classes)
            self.fail, self.calls = fail, 0

        def forward(self, x):
            if self.training and self.fail:
                self.calls += 1
                if self.calls > 3:
                    raise RuntimeError("the user's forward fails on purpose")
            h = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
            return self.fc(h.flatten(1))


    def mlp(n_inputs, n_outputs, width=16):
        """What kind = "mlp" builds with hidden = [width]: Linear, ReLU, Linear, in that order."""
        return nn.Sequential(nn.Linear(n_inputs, width), nn.ReLU(), nn.Linear(width, n_outputs))


    class Dropped(nn.Module):
        def __init__(self, n_inputs, n_outputs):
            super().__init__()
            self.body = nn.Sequential(nn.Flatten(), nn.Linear(n_inputs, 8), nn.Dropout(0.2), nn.Linear(8, n_outputs))

        def forward(self, x):
            return self.body(x)
''')

DIGITS = """
[study]
name = "{name}"
[data]
name = "digits"
train_size = 240
[model]
kind = "module"
module = "net.py:{obj}"
args = {args}
[train]
optimizer = "{optimizer}"
lr = 0.05
batch_size = 32
epochs = {epochs}
dtype = "float64"
l2 = 0.001
grad_noise = 0.01
[trials]
seeds = {seeds}
"""


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "cache"))


def study(tmp_path, sweep: str = "", name: str = "own", obj: str = "Net", args: str = "{ width = 4 }",
          optimizer: str = "adam", epochs: int = 3, seeds: int = 2, code: str = CNN):
    (tmp_path / "net.py").write_text(code)
    path = tmp_path / f"{name}.toml"
    path.write_text(DIGITS.format(name=name, obj=obj, args=args, optimizer=optimizer, epochs=epochs, seeds=seeds)
                    + sweep)
    return path


def quiet() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200), out


def history(result) -> dict[tuple[str, int, str], float]:
    h = result.history()
    h = h[h["metric"] != "time_s"]
    return {(r.trial_id, int(r.epoch), r.metric): float(r.value) for r in h.itertuples()}


def test_stacked_equals_alone_to_float64_rounding(tmp_path):
    path = study(tmp_path, '[sweep]\n"train.lr" = [0.02, 0.1]\n', seeds=3)
    alone = nnstudy.run(path, store=tmp_path / "alone", stack="off", console=quiet()[0], workers=1)
    console, out = quiet()
    stacked = nnstudy.run(path, store=tmp_path / "stacked", stack="on", console=console, workers=1)
    assert "1 stack(s) of up to 6 trials" in out.getvalue()  # the six trials trained as one program
    a, s = history(alone), history(stacked)
    assert a.keys() == s.keys() and len({k[0] for k in a}) == 6
    assert {k[1] for k in a} == {1, 2, 3}
    worst = max(abs(a[k] - s[k]) for k in a)
    assert worst < 1e-12, worst
    # grad-norm metrics are named by the module's own parameter names (weights with 2+ dimensions)
    assert {k[2] for k in a if k[2].startswith("grad_norm/")} == {"grad_norm/conv1.weight", "grad_norm/fc.weight"}
    trials = stacked.trials()
    assert set(trials["status"]) == {"done"}
    assert trials["test_accuracy"].min() > 0.5  # it learned (10 classes: chance is 0.1)


def test_same_network_as_the_builtin_mlp_gives_the_same_metrics(tmp_path, monkeypatch):
    (tmp_path / "net.py").write_text(CNN)
    common = {"data": {"name": "moons", "n_samples": 300}, "trials": {"seeds": [0, 3]},
              "train": {"optimizer": "momentum", "lr": 0.1, "batch_size": 16, "epochs": 3, "dtype": "float64",
                        "l1": 0.001}}
    builtin = nnstudy.run({**common, "study": {"name": "builtin"}, "model": {"kind": "mlp", "hidden": [16]}},
                          store=tmp_path / "runs", console=quiet()[0], workers=1)
    monkeypatch.chdir(tmp_path)  # a dict study finds its files relative to the working directory
    own = nnstudy.run({**common, "study": {"name": "own"},
                       "model": {"kind": "module", "module": "net.py:mlp", "args": {"width": 16}}},
                      store=tmp_path / "runs", console=quiet()[0], workers=1)
    names = {"grad_norm/hidden1": "grad_norm/0.weight", "grad_norm/output": "grad_norm/2.weight"}
    b, o = builtin.history(), own.history()
    b = b[b["metric"] != "time_s"].assign(metric=lambda d: d["metric"].replace(names))
    o = o[o["metric"] != "time_s"]
    seeds_b = dict(zip(builtin.trials()["trial_id"], builtin.trials()["seed"]))
    seeds_o = dict(zip(own.trials()["trial_id"], own.trials()["seed"]))
    vb = {(seeds_b[r.trial_id], r.epoch, r.metric): r.value for r in b.itertuples()}
    vo = {(seeds_o[r.trial_id], r.epoch, r.metric): r.value for r in o.itertuples()}
    assert vb.keys() == vo.keys() and len(vb) > 30
    assert max(abs(vb[k] - vo[k]) for k in vb) < 1e-12
    assert own.trials()["test_accuracy"].tolist() == builtin.trials()["test_accuracy"].tolist()
    assert (own.report_dir / "figures" / "decision_boundary.png").stat().st_size > 2000  # 2-D inputs


def test_a_regression_module_gets_n_outputs_and_learns(tmp_path, monkeypatch):
    (tmp_path / "net.py").write_text(CNN)
    monkeypatch.chdir(tmp_path)
    result = nnstudy.run({"study": {"name": "sine"}, "data": {"name": "sine"},
                          "model": {"kind": "module", "module": "net.py:mlp", "args": {"width": 32}},
                          "train": {"optimizer": "adam", "lr": 0.01, "batch_size": 32, "epochs": 30}},
                         store=tmp_path / "runs", console=quiet()[0], workers=1)
    trials = result.trials()
    assert list(trials["status"]) == ["done"]
    h = result.history()
    mse = h[h["metric"] == "test_mse"].sort_values("epoch")["value"]
    assert mse.iloc[-1] < 0.5 * mse.iloc[0]  # it fits the curve: the MSE at least halves


def test_summary_shows_the_modules_own_layers(tmp_path, capsys):
    from nnstudy.summary import summarize_study

    path = study(tmp_path, args="{ width = 6 }")
    s = summarize_study(str(path), [])
    assert [(r.name, r.kind) for r in s.layers] == [("conv1", "Conv2d"), ("fc", "Linear")]
    assert s.total == (6 * 9 + 6) + (6 * 16 * 10 + 10)
    assert [r.output_shape for r in s.layers] == [(6, 8, 8), (10,)]
    assert main(["summary", str(path)]) == 0
    assert "conv1" in capsys.readouterr().out


def test_sweeping_a_constructor_argument_gives_distinct_trials(tmp_path):
    path = study(tmp_path, '[sweep]\n"model.args.width" = [2, 6]\n', epochs=1)
    result = nnstudy.run(path, store=tmp_path / "runs", console=quiet()[0], workers=1)
    trials = result.trials()
    assert len(trials) == 4 and trials["trial_id"].nunique() == 4
    assert sorted(trials["model.args.width"].unique()) == [2, 6]
    results = result.results()
    assert len(results) == 2 and list(results["n"]) == [2, 2]


def test_one_changed_line_retrains_the_modules_trials_and_nothing_else(tmp_path):
    path = study(tmp_path, epochs=1)
    mlp = tmp_path / "mlp.toml"
    mlp.write_text('[study]\nname = "mlp"\n[data]\nname = "digits"\ntrain_size = 240\n[model]\nhidden = [8]\n'
                   '[train]\nepochs = 1\n[trials]\nseeds = 2\n')
    store = tmp_path / "runs"
    old_ids = set(nnstudy.run(path, store=store, console=quiet()[0], workers=1).trials()["trial_id"])
    nnstudy.run(mlp, store=store, console=quiet()[0], workers=1)
    again = nnstudy.run(path, store=store, console=quiet()[0], workers=1)
    assert again.summary.ran == 0 and again.summary.skipped == 2  # unchanged code: nothing retrains
    (tmp_path / "net.py").write_text(CNN.replace("torch.relu(self.conv1(x))", "torch.tanh(self.conv1(x))"))
    edited = nnstudy.run(path, store=store, console=quiet()[0], workers=1)
    assert edited.summary.ran == 2
    new = edited.trials()
    new_ids = set(new.loc[new["status"] == "done", "trial_id"]) - old_ids
    assert len(new_ids) == 2
    assert nnstudy.run(mlp, store=store, console=quiet()[0], workers=1).summary.ran == 0  # the other study is untouched


def test_an_exception_in_forward_is_a_failed_trial_and_the_study_goes_on(tmp_path, capsys):
    path = study(tmp_path, '[sweep]\n"model.args.fail" = [false, true]\n', args="{ width = 4, fail = false }",
                 epochs=1, seeds=1)
    code = main(["run", str(path), "--store", str(tmp_path / "runs"), "--workers", "1"])
    assert code == 1
    trials = nnstudy.load("own", store=tmp_path / "runs").trials()
    status = dict(zip(trials["model.args.fail"], trials["status"]))
    assert status == {False: "done", True: "failed"}


def test_a_module_with_torch_dropout_trains_alone_and_says_so_once(tmp_path):
    from nnstudy.kinds.module import stack_note
    from nnstudy.spec import expand, read_study

    path = study(tmp_path, obj="Dropped", args="{}", epochs=1)
    trials = expand(read_study(path)[0], str(path))
    note = stack_note(trials)
    assert note == ("net.py:Dropped trains one trial at a time: its Dropout (body.2) draws from torch's global "
                    "random generator, so its masks would not be the same alone and stacked")
    console, out = quiet()
    result = nnstudy.run(path, store=tmp_path / "runs", stack="on", console=console, workers=1)
    assert set(result.trials()["status"]) == {"done"}
    assert "stack(s)" not in out.getvalue()  # its two trials trained one after the other
    assert out.getvalue().count(note) == 1  # the start line says why, once
    cnn = study(tmp_path, name="cnn")
    assert stack_note(expand(read_study(cnn)[0], str(cnn))) is None


def test_a_resolved_config_is_accepted_without_the_study_folder(tmp_path):
    from nnstudy.kinds.module import ModuleConfig
    from nnstudy.spec import expand, read_study

    path = study(tmp_path)
    mc = expand(read_study(path)[0], str(path))[0].config["model"]
    assert len(mc["module_sha256"]) == 64
    (tmp_path / "net.py").unlink()  # a worker elsewhere: the config and the cached copy are enough
    assert ModuleConfig.model_validate(mc).module_sha256 == mc["module_sha256"]


def test_sweeping_the_module_itself_compares_two_networks(tmp_path):
    from nnstudy.spec import expand, read_study

    (tmp_path / "other.py").write_text(CNN.replace("torch.relu", "torch.tanh"))
    path = study(tmp_path, '[sweep]\n"model.module" = ["net.py:Net", "other.py:Net"]\n', epochs=1, seeds=1)
    trials = expand(read_study(path)[0], str(path))
    shas = {t.config["model"]["module"]: t.config["model"]["module_sha256"] for t in trials}
    assert len(shas) == 2 and len(set(shas.values())) == 2  # each file's own sha256
    import hashlib

    assert shas["other.py:Net"] == hashlib.sha256((tmp_path / "other.py").read_bytes()).hexdigest()
    result = nnstudy.run(path, store=tmp_path / "runs", console=quiet()[0], workers=1)
    assert set(result.trials()["status"]) == {"done"} and len(result.results()) == 2


def test_weight_tensors_are_the_2d_weights_once_each_by_their_names():
    from torch import nn

    from nnstudy.engines._torch._user_module import UserNet

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Linear(4, 4)
            self.norm = nn.LayerNorm(4)  # a 1-D weight: not a weight tensor for L1/L2 and grad norms
            self.out = nn.Linear(4, 4)
            self.out.weight = self.embed.weight  # tied: one tensor
            self.scale = nn.Parameter(nn.init.eye_(nn.Linear(4, 4).weight.detach().clone()))

        def forward(self, x):
            return self.out(self.norm(self.embed(x)))

    net = UserNet(Tied(), (4,))
    assert net.linear_names == ["embed.weight"]
    assert len(net.linears()) == 1 and net.linears()[0].weight is net.net.embed.weight


def test_weights_by_other_names_are_its_2d_parameters(tmp_path):
    code = CNN + textwrap.dedent('''

        class Raw(nn.Module):
            """A course's logistic regression: its own parameters, no nn.Linear."""

            def __init__(self, n_inputs, n_classes):
                super().__init__()
                self.W = nn.Parameter(torch.randn(n_inputs, n_classes) * 0.01)
                self.b = nn.Parameter(torch.zeros(n_classes))

            def forward(self, x):
                return x.flatten(1) @ self.W + self.b
    ''')
    path = study(tmp_path, obj="Raw", args="{}", epochs=2, code=code)
    result = nnstudy.run(path, store=tmp_path / "runs", stack="on", console=quiet()[0], workers=1)
    assert set(result.trials()["status"]) == {"done"} and result.trials()["test_accuracy"].min() > 0.5
    assert {m for m in result.history()["metric"] if m.startswith("grad_norm/")} == {"grad_norm/W"}


def test_a_constructor_argument_is_sweepable_without_a_default_in_args(tmp_path):
    from nnstudy.spec import expand, read_study

    sweep = '[sweep]\n"model.args.width" = [2, 6]\n'
    def trials(args):
        spec, _, label = read_study(study(tmp_path, sweep, name="bare", args=args))
        return expand(spec, label)

    without, given = trials("{}"), trials("{ width = 4 }")
    assert [t.config["model"]["args"] for t in without] == [{"width": 2}, {"width": 2}, {"width": 6}, {"width": 6}]
    assert [t.trial_id for t in without] == [t.trial_id for t in given]


F64_NET = '''
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, n_inputs, n_classes, width=4):
        super().__init__()
        self.fc = nn.Linear(n_inputs, n_classes, dtype=torch.float64)

    def forward(self, x):
        return self.fc(x.flatten(1))
'''


def test_a_module_built_in_float64_trains_in_the_studys_dtype(tmp_path):
    path = study(tmp_path, epochs=1, seeds=1, code=F64_NET)
    path.write_text(path.read_text().replace('dtype = "float64"', 'dtype = "float32"'))
    assert main(["run", str(path), "--store", str(tmp_path / "runs"), "--workers", "1"]) == 0
    trials = nnstudy.load("own", store=tmp_path / "runs").trials()
    assert list(trials["status"]) == ["done"] and trials["test_accuracy"].iloc[0] > 0.3


LAZY_NET = '''
from torch import nn


class Net(nn.Module):
    def __init__(self, n_classes, width=4):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.LazyLinear(width), nn.Tanh(), nn.LazyLinear(n_classes))

    def forward(self, x):
        return self.body(x)
'''


def test_a_module_with_lazy_layers_trains_and_stacks_like_alone(tmp_path):
    path = study(tmp_path, epochs=2, code=LAZY_NET)
    alone = nnstudy.run(path, store=tmp_path / "alone", stack="off", console=quiet()[0], workers=1)
    stacked = nnstudy.run(path, store=tmp_path / "stacked", stack="on", console=quiet()[0], workers=1)
    assert set(alone.trials()["status"]) == {"done"} and len(alone.trials()) == 2
    a, s = history(alone), history(stacked)
    assert a.keys() == s.keys() and ("grad_norm/body.1.weight" in {k[2] for k in a})
    assert all(abs(a[k] - s[k]) <= 1e-9 * max(1.0, abs(a[k])) for k in a)


def test_summary_of_a_module_that_does_not_fit_the_data_is_the_same_line_as_run(tmp_path, capsys):
    path = study(tmp_path, code=CNN.replace("nn.Linear(width * 4 * 4, n_classes)", "nn.Linear(width * 4 * 4, 3)"))
    assert main(["summary", str(path)]) == 2
    summary_err = capsys.readouterr().err
    assert main(["run", str(path), "--store", str(tmp_path / "runs")]) == 2
    assert summary_err == capsys.readouterr().err.splitlines(keepends=True)[-1]
    assert summary_err.endswith("model.module: net.py:Net: its output for a batch of shape (2, 1, 8, 8) has shape "
                                "(2, 3); it must be (B, 10) (digits has 10 classes)\n")


def test_a_regression_module_returning_one_value_per_sample_flat_is_told_the_shape(tmp_path, capsys):
    (tmp_path / "net.py").write_text("from torch import nn\n\n\nclass Net(nn.Module):\n"
                                     "    def __init__(self, n_inputs):\n        super().__init__()\n"
                                     "        self.fc = nn.Linear(n_inputs, 1)\n\n"
                                     "    def forward(self, x):\n        return self.fc(x).squeeze(-1)\n")
    path = tmp_path / "reg.toml"
    path.write_text('[study]\nname = "reg"\n[data]\nname = "surface"\nn_samples = 100\n'
                    '[model]\nkind = "module"\nmodule = "net.py:Net"\n[train]\nepochs = 1\n')
    assert main(["run", str(path), "--store", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err.endswith("model.module: net.py:Net: its output for a batch of shape (2, 2) has "
                                            "shape (2,); it must be (B, 1) (surface has 1 target)\n")
    assert not (tmp_path / "runs").exists()


def test_a_forward_that_changes_its_input_in_place_leaves_the_data_as_it_was(tmp_path):
    def curves(scale: str, name: str, stack: str) -> dict:
        (tmp_path / name).mkdir()
        (tmp_path / name / "net.py").write_text(
            "from torch import nn\n\n\nclass Net(nn.Module):\n    def __init__(self, n_inputs, n_classes):\n"
            "        super().__init__()\n        self.fc = nn.Linear(n_inputs, n_classes)\n\n"
            f"    def forward(self, x):\n        {scale}\n        return self.fc(x)\n")
        path = tmp_path / name / "iris.toml"
        path.write_text('[study]\nname = "iris"\n[data]\nname = "iris"\n[model]\nkind = "module"\n'
                        'module = "net.py:Net"\n[train]\nlr = 0.01\nbatch_size = 16\nepochs = 4\n[trials]\nseeds = 2\n')
        result = nnstudy.run(path, store=tmp_path / name / "runs", stack=stack, console=quiet()[0], workers=1)
        seeds = dict(zip(result.trials()["trial_id"], result.trials()["seed"]))
        return {(seeds[t], e, m): v for (t, e, m), v in history(result).items() if not m.startswith("grad_norm")}

    for stack in ("off", "on"):
        expected = curves("x = x * 1.5", f"copied-{stack}", stack)
        assert len(expected) == 2 * 4 * 7  # seeds x epochs x (lr, train/val/test loss and accuracy)
        assert curves("x.mul_(1.5)", f"in-place-{stack}", stack) == expected
