"""A search keeps its worker pool (issue 16 item 5): a 12-trial iris search against the same 12 trials as a grid.

The search (Optuna, grid method: 4 learning rates x 3 seeds, one configuration per batch) hands the local executor
4 batches of 3 trials; the grid hands it the 12 trials at once. Both run on --workers worker processes into a
fresh store each, without the report (the trials are what is timed). The search once more with a pool started
per batch (the executor outside a with block: how it ran before the pool was kept) shows what keeping it saves.
Target: search <= 2x grid.

    python benchmarks/search_pool.py [--workers 2] [--epochs 5]
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

from rich.console import Console

import nnstudy
import nnstudy.api
from nnstudy.executor._driver import Driver

LRS = [0.3, 0.1, 0.03, 0.01]


def spec(epochs: int, search: bool) -> dict:
    base = {"study": {"name": "pool"}, "data": {"name": "iris"}, "model": {"hidden": [16]},
            "train": {"epochs": epochs, "batch_size": 16}, "trials": {"seeds": 3}}
    if search:
        return {**base, "search": {"method": "grid", "trials": len(LRS), "space": {"train.lr": {"choices": LRS}}}}
    return {**base, "sweep": {"train.lr": LRS}}


def timed(study: dict, workers: int) -> float:
    with tempfile.TemporaryDirectory() as store:
        start = time.perf_counter()
        s = nnstudy.run(study, store=Path(store), workers=workers, console=Console(file=io.StringIO()))
        took = time.perf_counter() - start
        assert s.summary.ran == 12 and s.summary.ok, s.summary
    return took


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--epochs", type=int, default=5)
    args = p.parse_args()
    nnstudy.api.Study.report = lambda self, out=None: []  # the trials, not the figures
    grid = timed(spec(args.epochs, False), args.workers)
    search = timed(spec(args.epochs, True), args.workers)
    Driver.__enter__ = lambda self: self  # the pool ends with each run(): one start per batch, as before
    per_batch = timed(spec(args.epochs, True), args.workers)
    print(f"12 iris trials ({len(LRS)} learning rates x 3 seeds, {args.epochs} epochs), --workers {args.workers}")
    print(f"grid                      {grid:7.1f} s")
    print(f"search, one pool          {search:7.1f} s   {search / grid:.2f}x grid (target <= 2x)")
    print(f"search, a pool per batch  {per_batch:7.1f} s   {per_batch / grid:.2f}x grid")


if __name__ == "__main__":
    main()
