"""A study's own code (a module, a data loader, a training function) that misbehaves cannot break nnstudy: it
is refused before training with one line (exit 2, the store as it was), or its trial fails or diverges with
a one-line reason; never a traceback, a silent exit 0, or a trial left `running`."""

from __future__ import annotations

import textwrap

import pytest

import nnstudy
from nnstudy.cli import main

MODULE_STUDY = """
[study]
name = "own"
[data]
name = "digits"
train_size = 200
[model]
kind = "module"
module = "net.py:Net"
[train]
epochs = 1
batch_size = 32
[trials]
seeds = 2
"""

LOADER_STUDY = """
[study]
name = "own"
[data]
loader = "load.py:load"
[model]
hidden = [4]
[train]
epochs = 1
batch_size = 32
[trials]
seeds = 1
"""


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "cache"))


def write(tmp_path, study: str, files: dict[str, str]):
    for name, code in files.items():
        (tmp_path / name).write_text(textwrap.dedent(code))
    path = tmp_path / "study.toml"
    path.write_text(study)
    return path


def refused(capsys, argv: list[str]) -> str:
    """The one error line of a command that must exit 2 (the start line naming the study's code aside)."""
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.strip().splitlines() if "runs code from the study's files:" not in ln]
    assert len(lines) == 1 and lines[0].startswith("nnstudy: error: "), err
    assert "Traceback" not in err
    return lines[0]


def statuses(store) -> dict[str, str]:
    trials = nnstudy.load("own", store=store).trials()
    return dict(zip(trials["trial_id"], trials["status"]))


NET = """
    import sys
    from torch import nn


    class Net(nn.Module):
        def __init__(self, n_inputs, n_classes):
            super().__init__()
            self.fc = nn.Linear(n_inputs, n_classes)
            {init}

        def forward(self, x):
            {forward}
            return self.fc(x.flatten(1))
"""


def net(init: str = "pass", forward: str = "pass") -> str:
    return textwrap.dedent(NET.format(init=init, forward=forward))


@pytest.mark.parametrize("command", ["run", "summary"])
def test_a_constructor_calling_sys_exit_is_refused_in_one_line(tmp_path, capsys, command):
    path = write(tmp_path, MODULE_STUDY, {"net.py": net(init="sys.exit(0)")})
    store = tmp_path / "store"
    line = refused(capsys, [command, str(path)] + (["--store", str(store)] if command == "run" else []))
    assert line.endswith("model.module: Net(n_inputs=64, n_classes=10) raised SystemExit: 0")
    assert not store.exists()


def test_a_forward_raising_a_base_exception_at_the_check_is_refused_in_one_line(tmp_path, capsys):
    code = net(forward="raise Stop('no')") + "\n\nclass Stop(BaseException):\n    pass\n"
    path = write(tmp_path, MODULE_STUDY, {"net.py": code})
    line = refused(capsys, ["run", str(path), "--store", str(tmp_path / "store")])
    assert line.endswith("its forward pass on a batch of shape (2, 1, 8, 8) raised Stop: no")
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize("stack", ["on", "off"])
def test_a_forward_calling_sys_exit_in_training_fails_its_trials(tmp_path, capsys, stack):
    path = write(tmp_path, MODULE_STUDY, {"net.py": net(forward="if self.training: sys.exit(3)")})
    store = tmp_path / "store"
    assert main(["run", str(path), "--store", str(store), "--stack", stack, "--workers", "1"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("Exited: its forward raised SystemExit: 3 (net.py:13)") == 2, err
    assert set(statuses(store).values()) == {"failed"}


def test_a_keyboard_interrupt_in_forward_still_interrupts(tmp_path, capsys):
    path = write(tmp_path, MODULE_STUDY, {"net.py": net(forward="if self.training: raise KeyboardInterrupt")})
    assert main(["run", str(path), "--store", str(tmp_path / "store"), "--workers", "1"]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_a_loader_calling_sys_exit_is_refused_in_one_line(tmp_path, capsys):
    path = write(tmp_path, LOADER_STUDY, {"load.py": "import sys\n\ndef load():\n    sys.exit(0)\n"})
    store = tmp_path / "store"
    line = refused(capsys, ["run", str(path), "--store", str(store)])
    assert line.endswith("data: load.py:load raised SystemExit: 0")
    assert not store.exists()


FUNCTION_STUDY = """
[study]
name = "own"
[data]
name = "moons"
n_samples = 100
[train]
function = "train.py:train"
epochs = 1
[trials]
seeds = 1
[report]
metrics = ["train_loss"]
"""


@pytest.mark.parametrize("body, reason", [
    ("report(10**20, train_loss=1.0)",
     "report(epoch, ...): epoch must be a whole number from 0 to 2147483647 (got an integer of about 21 digits)"),
    ("report(1, train_loss=10**400)", "report(1, ...): train_loss=an integer of about 401 digits is beyond a float's "
                                      "range"),
    ("return {'train_loss': 10**400}", "train_loss=an integer of about 401 digits is beyond a float's range"),
])
def test_a_training_function_giving_a_huge_integer_fails_its_trial_in_one_line(tmp_path, capsys, body, reason):
    path = write(tmp_path, FUNCTION_STUDY, {"train.py": f"def train(config, seed, data, report):\n    {body}\n"})
    store = tmp_path / "store"
    assert main(["run", str(path), "--store", str(store)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and reason in err, err
    assert list(statuses(store).values()) == ["failed"]


@pytest.mark.parametrize("x, words", [
    ("np.array([None] * 100, dtype=object).reshape(100, 1)", "data: load.py:load: inputs must be numbers (got object)"),
    ("np.linspace(1, 2, 200).reshape(100, 2) * 1e300",
     "data: load.py:load: inputs have values beyond float32's range (max |x| = 2e+300)"),
])
def test_a_loader_giving_inputs_that_are_no_float32_numbers_is_refused_in_one_line(tmp_path, capsys, x, words):
    code = f"import numpy as np\n\ndef load():\n    return {x}, np.arange(100) % 2\n"
    path = write(tmp_path, LOADER_STUDY, {"load.py": code})
    store = tmp_path / "store"
    line = refused(capsys, ["run", str(path), "--store", str(store)])
    assert words in line, line
    assert not store.exists()


@pytest.mark.parametrize("out, words", [
    ("np.zeros((100, 0)), np.arange(100) % 2", "data: load.py:load: inputs of shape (100, 0) have no features"),
    ("np.zeros((100, 3, 0)), np.arange(100) % 2", "data: load.py:load: inputs of shape (100, 3, 0) have no features"),
    ("dict(x_train=np.ones((80, 2)), y_train=np.arange(80) % 2, x_test=np.ones((20, 0)), y_test=np.arange(20) % 2)",
     "data: load.py:load: test inputs of shape (20, 0) have no features"),
])
def test_a_loader_giving_inputs_without_features_is_refused_in_one_line(tmp_path, capsys, out, words):
    code = f"import numpy as np\n\ndef load():\n    return {out}\n"
    path = write(tmp_path, LOADER_STUDY, {"load.py": code})
    store = tmp_path / "store"
    line = refused(capsys, ["run", str(path), "--store", str(store)])
    assert words in line, line
    assert not store.exists()


def test_a_module_with_integer_output_is_refused_at_the_module_check(tmp_path, capsys):
    code = net().replace("return self.fc(x.flatten(1))", "return self.fc(x.flatten(1)).long()")
    path = write(tmp_path, MODULE_STUDY, {"net.py": code})
    store = tmp_path / "store"
    line = refused(capsys, ["run", str(path), "--store", str(store)])
    assert line.endswith("model.module: net.py:Net: its output has dtype int64; it must be floating point (the "
                         "loss's gradient flows back through it): return the floats, before any .long() or argmax")
    assert not store.exists()


def test_lbfgs_at_an_overflowing_learning_rate_diverges_like_the_other_optimizers(tmp_path, capsys):
    study = FUNCTION_STUDY.replace('function = "train.py:train"', 'optimizer = "lbfgs"\nlr = 1e30').replace(
        '[report]\nmetrics = ["train_loss"]\n', '[model]\nhidden = [8]\n')
    path = write(tmp_path, study, {})
    store = tmp_path / "store"
    assert main(["run", str(path), "--store", str(store), "--workers", "1"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "RuntimeError" not in err, err
    assert list(statuses(store).values()) == ["diverged"]
    assert nnstudy.load("own", store=store).trials()["error"].tolist() == ["loss became nan at epoch 1"]


ATTENTION = """
    from torch import nn


    class Net(nn.Module):
        def __init__(self, n_classes):
            super().__init__()
            self.embed = nn.Linear(8, 16)
            self.attention = nn.MultiheadAttention(16, 2, batch_first=True)
            self.out = nn.Linear(16, n_classes)

        def forward(self, x):
            h = self.embed(x.reshape(x.shape[0], 8, 8))
            h, _ = self.attention(h, h, h)
            return self.out(h.mean(1))
"""


def test_vmaps_missing_batching_rule_is_said_once_in_the_stack_note_not_in_torchs_warning(tmp_path, capsys):
    path = write(tmp_path, MODULE_STUDY, {"net.py": ATTENTION})
    store = tmp_path / "store"
    assert main(["run", str(path), "--store", str(store), "--stack", "on", "--workers", "1"]) == 0
    err = capsys.readouterr().err
    assert "performance drop" not in err and "Warning" not in err, err
    assert err.count("net.py:Net stacks, but torch.func.vmap has no batching rule for "
                     "aten::_native_multi_head_attention, which runs one trial at a time inside the stack") == 1, err
    assert "1 stack(s) of up to 2 trials" in err
    assert set(statuses(store).values()) == {"done"}


def test_a_training_function_raising_its_own_base_exception_fails_its_trial(tmp_path, capsys):
    code = "class Stop(BaseException):\n    pass\n\n\ndef train(config, seed, data, report):\n    raise Stop('x')\n"
    path = write(tmp_path, FUNCTION_STUDY, {"train.py": code})
    store = tmp_path / "store"
    assert main(["run", str(path), "--store", str(store)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Exited: train.py:train raised Stop: x (train.py:6)" in err, err
    assert list(statuses(store).values()) == ["failed"]


UNSHOWABLE = """

class Unshowable(Exception):
    def __str__(self):
        raise RuntimeError("no message either")
"""


def test_a_forward_raising_an_exception_whose_str_raises_is_refused_in_one_line(tmp_path, capsys):
    path = write(tmp_path, MODULE_STUDY, {"net.py": net(forward="raise Unshowable()") + UNSHOWABLE})
    line = refused(capsys, ["run", str(path), "--store", str(tmp_path / "store")])
    assert line.endswith("raised Unshowable: (its message cannot be shown: str() raised RuntimeError)")
    assert not (tmp_path / "store").exists()


def test_a_loader_raising_an_exception_whose_str_raises_is_refused_in_one_line(tmp_path, capsys):
    path = write(tmp_path, LOADER_STUDY, {"load.py": "def load():\n    raise Unshowable()\n" + UNSHOWABLE})
    line = refused(capsys, ["run", str(path), "--store", str(tmp_path / "store")])
    assert line.endswith("data: load.py:load raised Unshowable: (its message cannot be shown: str() raised "
                         "RuntimeError)")
    assert not (tmp_path / "store").exists()


def test_a_training_function_raising_an_exception_whose_str_raises_fails_its_trial(tmp_path, capsys):
    code = "def train(config, seed, data, report):\n    report(1, train_loss=1.0)\n    raise Unshowable()\n"
    path = write(tmp_path, FUNCTION_STUDY, {"train.py": code + UNSHOWABLE})
    store = tmp_path / "store"
    assert main(["run", str(path), "--store", str(store), "--workers", "1"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert list(statuses(store).values()) == ["failed"]
    error = nnstudy.load("own", store=store).trials()["error"][0]
    assert error.splitlines()[0] == "Unshowable: (its message cannot be shown: str() raised RuntimeError) (train.py:3)"


def test_a_module_that_skips_super_init_is_refused_in_one_line(tmp_path, capsys):
    code = ("from torch import nn\n\n\nclass Net(nn.Module):\n    def __init__(self, n_inputs, n_classes):\n"
            "        self.width = 8\n")
    path = write(tmp_path, MODULE_STUDY, {"net.py": code})
    store = tmp_path / "store"
    line = refused(capsys, ["run", str(path), "--store", str(store)])
    assert line.endswith("model.module: Net(n_inputs=64, n_classes=10) built a Net whose __init__ did not call "
                         "super().__init__() first (nn.Module needs it before any layer is assigned)")
    assert not store.exists()


@pytest.mark.parametrize("study, name, key", [(MODULE_STUDY, "net.py", "model.module"),
                                              (LOADER_STUDY, "load.py", "data.loader"),
                                              (FUNCTION_STUDY, "train.py", "train.function")])
def test_a_file_with_a_syntax_error_is_named_as_the_study_names_it(tmp_path, capsys, study, name, key):
    path = write(tmp_path, study, {name: "import numpy\n\ndef f(:\n    pass\n"})
    store = tmp_path / "store"
    line = refused(capsys, ["run", str(path), "--store", str(store)])
    assert line.endswith(f": {key}: {name} line 3: invalid syntax"), line  # not its cached copy's sha256
    assert not store.exists()


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("body, raised", [
    ("import sys; sys.exit(0)", "SystemExit: 0"),
    ("raise SystemExit(0)", "SystemExit: 0"),
    ("raise KeyboardInterrupt", "KeyboardInterrupt"),
])
def test_a_training_function_ending_the_process_by_exception_fails_its_trials(tmp_path, capsys, body, raised,
                                                                                 workers):
    path = write(tmp_path, FUNCTION_STUDY.replace("seeds = 1", "seeds = 2"),
                 {"train.py": f"def train(config, seed, data, report):\n    {body}\n"})
    store = tmp_path / "store"
    assert main(["run", str(path), "--store", str(store), "--workers", workers]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "interrupted" not in err, err
    assert err.count(f"Exited: train.py:train raised {raised} (train.py:2)") == 2, err
    assert list(statuses(store).values()) == ["failed", "failed"]


def test_ctrl_c_while_a_training_function_runs_in_process_still_interrupts_the_run(tmp_path, capsys):
    code = ("import os, signal, time\n\n\ndef train(config, seed, data, report):\n    report(1, train_loss=1.0)\n"
            "    os.kill(os.getpid(), signal.SIGINT)\n    time.sleep(5)\n")
    path = write(tmp_path, FUNCTION_STUDY, {"train.py": code})
    store = tmp_path / "store"
    assert main(["run", str(path), "--store", str(store), "--workers", "1"]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "Exited" not in err, err
    assert list(statuses(store).values()) == ["pending"]


@pytest.mark.parametrize("classes, y, words", [
    ("5", "np.arange(100) % 7", "data: load.py:load() returned classes=5, not a list of names: give one name per "
                                "label 0, 1, ... (e.g. classes=[\"cat\", \"dog\"])"),
    ("'abc'", "np.arange(100) % 3", "data: load.py:load() returned classes='abc', not a list of names"),
    ("10**5000", "np.arange(100) % 3", "data: load.py:load() returned classes of type int, not a list of names"),
    ("['a', 'b']", "np.arange(100) % 3", "data: load.py:load: the labels run from 0 to 2, but classes names 2 (a, b) "
                                         "for labels 0..1: give one name per label, or labels 0..1"),
])
def test_a_loaders_classes_that_do_not_name_its_labels_are_refused_naming_both(tmp_path, capsys, classes, y, words):
    code = ("import numpy as np\n\ndef load():\n"
            f"    return dict(x_train=np.ones((100, 2)), y_train={y}, classes={classes})\n")
    path = write(tmp_path, LOADER_STUDY, {"load.py": code})
    store = tmp_path / "store"
    line = refused(capsys, ["run", str(path), "--store", str(store)])
    assert words in line and "raised" not in line, line  # nnstudy's own check, not the loader's exception
    assert not store.exists()


@pytest.mark.parametrize("workers", ["1", "2", "2-stacks", "1-stack"])
def test_a_module_raising_keyboard_interrupt_while_it_trains_fails_its_trials(tmp_path, capsys, workers):
    """One trial at a time in the driver or in 2 workers, a stack of two in each of 2 workers, or a stack of four
    in the driver (where it was Ctrl-C: exit 130)."""
    forward = "calls.append(1)\n            if len(calls) > 5:  # past the module check, while training\n" \
              "                raise KeyboardInterrupt"
    code = net(forward=forward) + f"\ncalls = []  # {workers} worker(s): a file of its own, its module imported anew\n"
    path = write(tmp_path, MODULE_STUDY, {"net.py": code})
    store = tmp_path / "store"
    stacks = "stack" in workers
    how = ["--stack", "on", "--set", "trials.seeds=4", "--as", "own"] if stacks else ["--stack", "off"]
    assert main(["run", str(path), "--store", str(store), "--workers", workers[0], *how]) == 1
    err = capsys.readouterr().err  # it was exit 130 in-process, "worker died: " and no more in a pool
    assert err.count(f"Exited: the study's code raised KeyboardInterrupt while the {'stack' if stacks else 'trial'} "
                     f"trained (not Ctrl-C) (net.py:15)") == (4 if stacks else 2), err
    assert "interrupted" not in err and "worker died" not in err, err
    assert ("2 stack(s) of up to 2 trials on 2 worker(s)" in err) == (workers == "2-stacks"), err
    assert ("1 stack(s) of up to 4 trials" in err) == (workers == "1-stack"), err
    assert list(statuses(store).values()) == ["failed"] * (4 if stacks else 2)


@pytest.mark.parametrize("study, files, words", [
    (LOADER_STUDY, {"load.py": "def load():\n    raise KeyboardInterrupt\n"},
     "data: load.py:load raised KeyboardInterrupt"),
    (MODULE_STUDY, {"net.py": net(init="raise KeyboardInterrupt")},
     "model.module: Net(n_inputs=64, n_classes=10) raised KeyboardInterrupt"),
    (MODULE_STUDY, {"net.py": net(forward="raise KeyboardInterrupt")},
     "model.module: net.py:Net: its forward pass on a batch of shape (2, 1, 8, 8) raised KeyboardInterrupt"),
])
def test_a_keyboard_interrupt_of_the_studys_own_code_at_its_check_is_refused_in_one_line(tmp_path, capsys, study,
                                                                                         files, words):
    path = write(tmp_path, study, files)
    store = tmp_path / "store"
    line = refused(capsys, ["run", str(path), "--store", str(store)])  # it was exit 130, "interrupted"
    assert line.endswith(words), line
    assert not store.exists()


def test_ctrl_c_while_a_loader_runs_still_interrupts(tmp_path, capsys):
    code = "import os, signal, time\n\n\ndef load():\n    os.kill(os.getpid(), signal.SIGINT)\n    time.sleep(5)\n"
    path = write(tmp_path, LOADER_STUDY, {"load.py": code})
    assert main(["run", str(path), "--store", str(tmp_path / "store")]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert not (tmp_path / "store").exists()
