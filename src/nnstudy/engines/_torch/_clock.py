"""An epoch's training time, without a host wait between the steps and the evaluation.

On CUDA two events bracket the epoch's steps on the stream and are read after the epoch's one host sync (its
metrics' ``tolist``): the evaluation is queued behind the steps while they run, where a ``synchronize`` before
it left the GPU idle while the host launched it. Elsewhere the host's clock, which waits for nothing.
"""

from __future__ import annotations

import time

import torch


class EpochClock:
    def __init__(self, dev: torch.device):
        self.events = (torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) \
            if dev.type == "cuda" else None
        self.t0 = self.t1 = 0.0

    def start(self) -> None:
        if self.events is not None:
            self.events[0].record()
        self.t0 = time.perf_counter()

    def stop(self) -> None:
        if self.events is not None:
            self.events[1].record()
        self.t1 = time.perf_counter()

    def seconds(self) -> float:
        """The steps' time, from the start to the stop (CUDA: on the stream, once they have run)."""
        if self.events is None:
            return self.t1 - self.t0
        self.events[1].synchronize()
        return self.events[0].elapsed_time(self.events[1]) / 1e3
