"""A user's nn.Module on the two-node Ray test cluster: net.py lies in the driver's folder and cache only
(each test node has a cache of its own, the workers another working directory); every task is sent it."""

import shutil
from pathlib import Path

import pandas as pd

import nnstudy

NET = Path(__file__).resolve().parents[1] / "examples" / "own-code" / "net.py"
STUDY = """
[study]
name = "own-net"
[data]
name = "digits"
train_size = 300
[model]
kind = "module"
module = "net.py:SmallCNN"
args = { channels = 2 }
[train]
optimizer = "adam"
lr = 0.003
batch_size = 32
epochs = 2
[sweep]
"model.args.channels" = [2, 4]
[trials]
seeds = 2
"""


def test_a_module_study_on_ray_from_a_directory_the_workers_do_not_share(ray_address, tmp_path, monkeypatch):
    from test_ray import driver

    monkeypatch.setenv("NNSTUDY_DATA", str(tmp_path / "driver-cache"))
    shutil.copy(NET, tmp_path / "net.py")
    study = tmp_path / "own-net.toml"
    study.write_text(STUDY)
    code, out = driver("run", study, "--executor", "ray", "--address", ray_address, "--store", tmp_path / "ray",
                       cwd=tmp_path)
    assert code == 0 and out.count("done ") == 4, out
    assert "runs code from the study's files: net.py:SmallCNN (sha256 " in out
    ray_rows = pd.read_csv(tmp_path / "ray" / "own-net" / "trials.csv").set_index("trial_id").sort_index()
    local = nnstudy.run(study, store=tmp_path / "local", workers=1).trials().set_index("trial_id").sort_index()
    assert set(ray_rows.status) == {"done"} and list(ray_rows.index) == list(local.index)
    for metric in ("test_accuracy", "val_loss", "train_loss"):
        pd.testing.assert_series_equal(ray_rows[metric], local[metric], rtol=1e-6)
