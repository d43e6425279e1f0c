"""Model kinds at their limits: the progress of kinds that pre-train, conv kernels and pooling windows larger
than what they get, a ViT on flat data, a SOM's neighbourhood wider than its map, a repeated class label."""

from __future__ import annotations

import re

import pytest

from conftest import run_cli
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
    from nnstudy.executor._progress import StudyProgress

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
