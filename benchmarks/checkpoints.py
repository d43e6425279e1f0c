"""What checkpoints cost: one checkpoint of the default MLP, and a study trained with and without them.

1. One checkpoint of the default MLP (784-200-200-10, float32; its optimizer: sgd as in the study file, and
   adam, whose two moment buffers triple the tensors) after 20 epochs of history: the time to gather and
   encode its state (engines/_checkpoint.pack: safetensors + JSON) and to store it (Store.save_checkpoint:
   one SQLite transaction replacing the pair), median of --repeats x 10.
2. A study (default: studies/batch-size.toml on digits, 2 seeds: the default MLP, 4 trials) trained in-process
   through the local executor into a fresh SQLite store, per-epoch records on, alternately with
   train.checkpoint_every = 0 (none) and 1 (every epoch: the worst case; the default, after any epoch ending
   more than 60 s after the last checkpoint, takes none in a study this short); prints the seconds spent
   taking checkpoints (gathering, encoding and storing them) as a share of the wall time, which a loaded
   machine disturbs far less than the difference of two wall times (also printed), median over --repeats.

    python benchmarks/checkpoints.py [--study studies/batch-size.toml] [--epochs 20] [--repeats 3]
                                     [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time

from rich.console import Console

from nnstudy.api import prepare
from nnstudy.engines import _checkpoint
from nnstudy.executor import connect
from nnstudy.store import Store

EVERY = {"none (0)": 0, "every epoch (1)": 1}


def one_checkpoint(optimizer: str, repeats: int) -> tuple[float, float, int]:
    """(median seconds to gather + pack, median seconds to store, bytes) of the default MLP's checkpoint."""
    import torch

    from nnstudy.engines._common import EpochLog
    from nnstudy.engines._torch._mlp import build_trainable
    from nnstudy.engines._torch._optim import make_optimizer, make_schedule
    from nnstudy.engines._torch._trial_state import trial_state

    spec, trials, text, task, metrics, _ = prepare({
        "study": {"name": "one-checkpoint"}, "data": {"name": "digits"},
        "model": {"kind": "mlp", "hidden": [200, 200]}, "train": {"optimizer": optimizer, "epochs": 20}})
    trial = trials[0]
    tc = trial.config["train"]
    torch.manual_seed(0)
    model = build_trainable(trial.config["model"], 784, 10, (1, 28, 28))
    opt = make_optimizer(list(model.parameters()), tc)
    loss = model(torch.randn(16, 784)).logsumexp(1).mean()
    loss.backward()
    opt.step()  # the optimizer's state exists
    log = EpochLog(tc, lambda *_: None)
    for epoch in range(1, 21):
        log.record(epoch, {"train_loss": 1.0 / epoch, "val_loss": 1.0, "val_accuracy": 0.5, "test_loss": 1.0,
                           "test_accuracy": 0.5, "grad_norm/hidden1": 0.1, "grad_norm/hidden2": 0.1,
                           "grad_norm/output": 0.1, "lr": 0.1}, 0.1 * epoch, model)
    gen, counter = torch.Generator().manual_seed(0), torch.zeros((), dtype=torch.int64)
    schedule = make_schedule(opt, tc["schedule"], 20)
    packs, writes, size = [], [], 0
    with tempfile.TemporaryDirectory() as folder:
        db = Store(folder)
        db.register(spec.study.name, "", spec.model_dump(mode="json"), text, task, metrics, [], trials, {})
        db.claim(spec.study.name, trial.trial_id)
        for _ in range(repeats * 10):
            start = time.perf_counter()
            blobs = _checkpoint.pack([trial.trial_id], 20, trial_state(model, opt, schedule, None, gen, counter,
                                                                       log, 2.0))
            mid = time.perf_counter()
            assert db.save_checkpoint(spec.study.name, trial.trial_id, blobs)
            packs.append(mid - start)
            writes.append(time.perf_counter() - mid)
            size = sum(map(len, blobs.values()))
        db.engine.dispose()
    return statistics.median(packs), statistics.median(writes), size


def study_time(source: str, epochs: int, every: int | None, overrides: dict) -> tuple[float, int, float]:
    """(seconds to train every trial, checkpoints stored, seconds spent taking them: gathering and encoding
    the state, storing it)."""
    settings = {**overrides, "train.epochs": epochs}
    if every is not None:
        settings["train.checkpoint_every"] = every
    spec, trials, text, task, metrics, _ = prepare(source, settings)
    spent: list[float] = []
    stored: list[int] = []
    real_after, real_save = _checkpoint.Checkpoints.after_epoch, Store.save_checkpoint

    def after_epoch(*args):  # gathers, encodes and (in-process: the driver) stores a checkpoint when due
        start = time.perf_counter()
        real_after(*args)
        spent.append(time.perf_counter() - start)

    def save(*args):
        stored.append(1)
        return real_save(*args)

    _checkpoint.Checkpoints.after_epoch, Store.save_checkpoint = after_epoch, save
    try:
        with connect("local", None, 1) as Executor, tempfile.TemporaryDirectory() as folder:
            db = Store(folder)
            db.register(spec.study.name, "", spec.model_dump(mode="json"), text, task, metrics, [], trials, {})
            start = time.perf_counter()
            summary = Executor(db, spec.study.name, 1, "cpu", False, Console(file=io.StringIO()), "off").run(trials)
            wall = time.perf_counter() - start
            assert summary.ok, summary
            db.engine.dispose()
    finally:
        _checkpoint.Checkpoints.after_epoch, Store.save_checkpoint = real_after, real_save
    return wall, len(stored), sum(spent)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--study", default="studies/batch-size.toml")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--set", action="append", default=None, metavar="KEY=VALUE",
                   help="override a key of the study (default: data.name=digits trials.seeds=2)")
    args = p.parse_args()
    from nnstudy.spec import parse_overrides

    for optimizer in ("sgd", "adam"):
        pack_s, write_s, size = one_checkpoint(optimizer, args.repeats)
        print(f"one checkpoint of the default MLP ({optimizer}): {1000 * (pack_s + write_s):.1f} ms "
              f"({1000 * pack_s:.1f} ms to gather and encode, {1000 * write_s:.1f} ms to store; "
              f"{size / 1e6:.2f} MB)", flush=True)
    sets = args.set if args.set is not None else ["data.name=digits", "trials.seeds=2"]
    overrides = parse_overrides(sets, args.study)
    walls: dict[str, list[float]] = {k: [] for k in EVERY}
    shares, counts = [], 0
    for _ in range(args.repeats):
        for label, every in EVERY.items():
            wall, n, spent = study_time(args.study, args.epochs, every, overrides)
            walls[label].append(wall)
            if n:
                shares.append(100 * spent / wall)
                counts = n
            print(f"  checkpoints {label}: {wall:.2f} s, {n} checkpoints, {spent:.3f} s taking them", flush=True)
    base, every = (statistics.median(walls[k]) for k in EVERY)
    print(f"{args.study} {' '.join(sets)} epochs={args.epochs}: a checkpoint every epoch ({counts}) takes "
          f"{statistics.median(shares):.2f} % of the wall time (median); wall time without {base:.2f} s, with "
          f"{every:.2f} s ({100 * (every - base) / base:+.1f} %, load noise included)")


if __name__ == "__main__":
    main()
