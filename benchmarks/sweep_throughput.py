"""Sweep throughput: seconds per epoch per trial for many small trials of the default MLP on Fashion-MNIST.

    python benchmarks/sweep_throughput.py [--device cuda] [--batch 16 1024] [--k 1 16 64 256] [--epochs 2]
        [--precision float32 tf32 bf16] [--skip-alone] [--typical-repeat 1]

(a) a typical PyTorch loop: DataLoader over CPU tensors, ``.to(device)`` per batch, ``.item()`` per step;
(b) nnstudy, one trial at a time (engines/_torch/_train.py, data resident on the device);
(c) nnstudy stacked: K trials (K seeds) as one program (engines/_torch/_stack_train.py; a CUDA graph on GPU).
Per epoch: (a) the mean of its epochs (training loop only); (b) and (c) the steady state, from the end of
epoch 1 to the end of the last epoch (training steps and the per-epoch evaluation of every split),
divided by the trials trained; "wall" adds the start (data to the device, models, graph capture) and
the artifacts. The ratios (a)/(c) are printed last. On the CPU the default K is {1, 4, 16}.
``--typical-repeat N`` times (a) N times, one epoch each, and takes the median (every repetition printed).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from nnstudy.data import load
from nnstudy.engines._torch._stack_train import train_group
from nnstudy.engines._torch._train import train_trial
from nnstudy.spec import expand, read_study


CNN = {"kind": "cnn", "hidden": [], "blocks": [{"channels": 32, "kernel": 3, "pool": "max"},
                                               {"channels": 64, "kernel": 3, "pool": "max"}]}


def study(batch: int, epochs: int, k: int, model: str = "mlp", precision: str = "float32",
          train_size: int | None = None):
    train = {"optimizer": "sgd", "lr": 0.1, "batch_size": batch, "epochs": epochs}
    if precision != "float32":
        train["precision"] = precision
    data = {"name": "fashion-mnist", "normalize": "minmax", **({"train_size": train_size} if train_size else {})}
    raw = {"study": {"name": "throughput"}, "data": data,
           "model": {"hidden": [200, 200]} if model == "mlp" else CNN, "train": train,
           "trials": {"seeds": k}}
    s, _, _ = read_study(raw)
    return s, expand(s)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def typical_loop(data, batch: int, epochs: int, device: str, kind: str = "mlp") -> float:
    """What people write by hand: seconds per epoch."""
    torch.manual_seed(0)
    x, y = torch.as_tensor(data.x_train), torch.as_tensor(data.y_train)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True)
    if kind == "mlp":
        model = nn.Sequential(nn.Linear(784, 200), nn.ReLU(), nn.Linear(200, 200), nn.ReLU(), nn.Linear(200, 10))
    else:  # the same CNN as CNN above: conv 32 -> pool -> conv 64 -> pool -> dense 10
        model = nn.Sequential(nn.Unflatten(1, (1, 28, 28)), nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 10))
    model = model.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(epochs):
        total = 0.0
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item()
    sync(device)
    return (time.perf_counter() - t0) / epochs


def typical_repeated(data, batch: int, device: str, kind: str = "mlp", repeat: int = 1,
                     scale: float = 1.0) -> tuple[float, list[float]]:
    """typical_loop's one epoch timed ``repeat`` times (each x ``scale``): (the median, every repetition)."""
    times = [typical_loop(data, batch, 1, device, kind) * scale for _ in range(repeat)]
    return statistics.median(times), times


def repeats(times: list[float], digits: int) -> str:
    """'' for one repetition (the line as it was), else ' (median of N: t1 t2 ...)'."""
    return "" if len(times) == 1 else f" (median of {len(times)}: {' '.join(f'{t:.{digits}f}' for t in times)})"


class EpochClock:
    """Wall-clock time of each epoch's end (the first trial to report it)."""

    def __init__(self):
        self.ends: dict[int, float] = {}

    def __call__(self, *args) -> None:
        self.ends.setdefault(args[-2], time.perf_counter())

    def steady(self) -> float:
        last = max(self.ends)
        return (self.ends[last] - self.ends[1]) / (last - 1)


def one_at_a_time(data, trial, epochs: int, device: str) -> tuple[float, float]:
    """(steady seconds per epoch, wall seconds per epoch)."""
    clock = EpochClock()
    sync(device)
    t0 = time.perf_counter()
    train_trial(trial, data, clock, device)
    sync(device)
    return clock.steady(), (time.perf_counter() - t0) / epochs


def stacked(data, trials, epochs: int, device: str) -> tuple[float, float, float]:
    """(steady and wall seconds per epoch per trial, mean test accuracy)."""
    clock = EpochClock()
    sync(device)
    t0 = time.perf_counter()
    results = train_group(trials, data, clock, device)
    sync(device)
    acc = sum(r.final["test_accuracy"] for r in results) / len(results)
    k = len(trials)
    return clock.steady() / k, (time.perf_counter() - t0) / (epochs * k), acc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, nargs="+", default=[16, 1024])
    ap.add_argument("--k", type=int, nargs="+")
    ap.add_argument("--epochs", type=int, default=3, help="at least 2: the first epoch is the warm-up")
    ap.add_argument("--model", choices=["mlp", "cnn"], default="mlp",
                    help="cnn: conv 32 -> pool -> conv 64 -> pool -> dense 10, stacked by torch.func.vmap")
    ap.add_argument("--precision", nargs="+", default=["float32"], choices=["float32", "tf32", "bf16"],
                    help="train.precision of (b) and (c); the typical loop (a) keeps torch's defaults (float32 "
                         "matmuls; on CUDA its convolutions TF32, which nnstudy's float32 turns off)")
    ap.add_argument("--skip-alone", action="store_true", help="leave out (b), one trial at a time")
    ap.add_argument("--typical-repeat", type=int, default=1,
                    help="time (a)'s epoch this many times and take the median (every one printed): it moves "
                         "by tens of percent between runs on one GPU")
    args = ap.parse_args()
    if args.typical_repeat < 1:
        ap.error("--typical-repeat must be at least 1")
    ks = args.k or ([1, 16, 64, 256] if args.device.startswith("cuda") else [1, 4, 16])
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; torch {torch.__version__}; model {args.model}; {args.epochs} epochs per measurement")
    ratios = []
    for batch in args.batch:
        s, _ = study(batch, args.epochs, max(ks), args.model)
        data = load(s.data)
        a, a_all = typical_repeated(data, batch, args.device, args.model, args.typical_repeat)
        print(f"batch {batch}: (a) typical loop {a:.4f} s/epoch{repeats(a_all, 4)}", flush=True)
        for precision in args.precision:
            _, trials = study(batch, args.epochs, max(ks), args.model, precision)
            b = b_wall = float("nan")
            if not args.skip_alone:
                b, b_wall = one_at_a_time(data, trials[0], args.epochs, args.device)
                print(f"batch {batch} {precision}: (b) nnstudy one at a time {b:.4f} s/epoch (wall {b_wall:.4f})",
                      flush=True)
            for k in ks:
                c, c_wall, acc = stacked(data, trials[:k], args.epochs, args.device)
                print(f"batch {batch} {precision}: (c) nnstudy stacked K={k}: {c:.5f} s/epoch/trial (wall "
                      f"{c_wall:.5f}; mean test accuracy {acc:.4f})", flush=True)
                ratios.append((batch, precision, k, a, b, c, c_wall))
    print("\n| batch | precision | K | (a) typical s/epoch | (b) one at a time | (c) stacked s/epoch/trial | (c) wall | "
          "(a)/(b) | (a)/(c) | (a)/(c wall) |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for batch, precision, k, a, b, c, c_wall in ratios:
        print(f"| {batch} | {precision} | {k} | {a:.4f} | {b:.4f} | {c:.5f} | {c_wall:.5f} | {a / b:.2f} | "
              f"{a / c:.1f} | {a / c_wall:.1f} |")


if __name__ == "__main__":
    main()
