"""A user's module whose forward computes in another dtype than the study trains in (train.dtype,
train.precision): one line and exit 2 before anything is stored, not a failed trial; what does train, trains."""

import pytest

import nnstudy
from nnstudy.cli import main

MODULE = '''
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, n_inputs, n_classes):
        super().__init__()
        self.fc = nn.Linear(n_inputs, n_classes{built})
        self.temperature = torch.full((n_classes,), 2.0, dtype=torch.float64)

    def forward(self, x):
        h = self.fc(x.flatten(1){cast})
        return {out}
'''

STUDY = """
[study]
name = "dtype"
[data]
name = "digits"
train_size = 200
[model]
kind = "module"
module = "net.py:Net"
[train]
optimizer = "adam"
lr = 0.01
epochs = 1
{train}
[trials]
seeds = 1
"""

FIX = "compute in the input's dtype (x.dtype) in forward, not {0}, or set train.dtype = \"{0}\""


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "cache"))


def write(tmp_path, train: str, built: str = "", cast: str = "", out: str = "h"):
    (tmp_path / "net.py").write_text(MODULE.format(built=built, cast=cast, out=out))
    path = tmp_path / "s.toml"
    path.write_text(STUDY.format(train=train))
    return path


@pytest.mark.parametrize("train, built, cast, out, line", [
    # built in float64 and casting its input to it: the check passed in the parameters' dtype, the trials failed
    ('dtype = "float32"', ", dtype=torch.float64", ".double()", "h",
     "its forward raises RuntimeError in float32 and runs in float64 but the study trains in float32: "
     + FIX.format("float64")),
    # float32 math in a float64 study: the loss's cast to float64 hid it
    ('dtype = "float64"', "", "", "h.float()",
     "its forward returns float32 but the study trains in float64: " + FIX.format("float32")),
    ('precision = "bf16"', "", "", "torch.zeros(h.shape, dtype=x.dtype).index_add(0, torch.arange(len(h)), h)",
     'its forward raises RuntimeError under train.precision = "bf16" (autocast to bfloat16) and runs without it: '
     "cast mixed operands to one dtype in forward, or leave train.precision out"),
])
def test_a_forward_in_another_dtype_is_one_line_and_nothing_stored(tmp_path, capsys, train, built, cast, out, line):
    path = write(tmp_path, train, built, cast, out)
    assert main(["run", str(path), "--store", str(tmp_path / "runs"), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.endswith(f"{path}: model.module: net.py:Net: {line}\n") and "Traceback" not in err
    assert not (tmp_path / "runs").exists()
    assert main(["summary", str(path)]) == 2 and capsys.readouterr().err == err.splitlines(keepends=True)[-1]


@pytest.mark.parametrize("train, built, cast, out", [
    ('dtype = "float64"', ", dtype=torch.float64", ".double()", "h"),  # the refused module, trained in float64
    ('dtype = "float64"', "", "", "h / self.temperature"),
    ('dtype = "float32"', "", "", "h / self.temperature"),  # float64 out of float32 math: cast back, nothing lost
    ('dtype = "float32"', ", dtype=torch.float64", "", "h"),  # parameters built float64, no dtype of its own
    ('precision = "bf16"', "", "", "h"),  # autocast's bfloat16 output
])
def test_a_forward_in_the_training_dtype_trains(tmp_path, train, built, cast, out):
    path = write(tmp_path, train, built, cast, out)
    assert main(["run", str(path), "--store", str(tmp_path / "runs"), "--workers", "1"]) == 0
    trials = nnstudy.load("dtype", store=tmp_path / "runs").trials()
    assert list(trials["status"]) == ["done"] and trials["test_accuracy"].iloc[0] > 0.5


def test_a_float64_copy_of_float32_math_trains_as_the_float32_output_would(tmp_path):
    def curves(out: str) -> dict:
        (tmp_path / out).mkdir()
        result = nnstudy.run(write(tmp_path / out, 'dtype = "float32"', out=out), store=tmp_path / out / "runs",
                             workers=1)
        h = result.history()
        return {(int(r.epoch), r.metric): float(r.value) for r in h[h["metric"] != "time_s"].itertuples()}

    plain = curves("h")
    assert plain[(1, "test_accuracy")] > 0.5
    assert curves("h.double()") == plain
