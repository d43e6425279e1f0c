"""Seconds per epoch of the default MLP on Fashion-MNIST: nnstudy's engine vs a plain PyTorch loop.

The plain loop is what people write by hand: a DataLoader over a TensorDataset, `.item()` on the loss
at every step. Both train 784-200-200-10 ReLU with SGD lr 0.1 on the same 54,000 samples with the same
thread count; the ratio plain / nnstudy > 1 means nnstudy is faster.

    python benchmarks/epoch_speed.py [--epochs 2] [--batch 16 1024] [--threads N]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from nnstudy.data import load
from nnstudy.engines._torch._train import train_trial
from nnstudy.spec import expand, read_study


def nnstudy_epoch(data, batch: int, epochs: int) -> float:
    study, _, _ = read_study({"study": {"name": "bench"}, "data": {"name": "fashion-mnist"},
                              "train": {"batch_size": batch, "epochs": epochs}})
    result = train_trial(expand(study)[0], data, lambda e, m: None)
    return result.final["train_time_s"] / epochs


def plain_epoch(data, batch: int, epochs: int) -> float:
    torch.manual_seed(0)
    x, y = torch.as_tensor(data.x_train), torch.as_tensor(data.y_train).long()
    loader = DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True)
    model = nn.Sequential(nn.Linear(784, 200), nn.ReLU(), nn.Linear(200, 200), nn.ReLU(), nn.Linear(200, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    seconds = 0.0
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.train()
        running = 0.0
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            running += loss.item()
        seconds += time.perf_counter() - t0
    return seconds / epochs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, nargs="+", default=[16, 1024])
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    study, _, _ = read_study({"study": {"name": "bench"}, "data": {"name": "fashion-mnist"}})
    data = load(study.data)
    print(f"default MLP on Fashion-MNIST ({len(data.x_train)} train samples), {args.threads} thread(s), "
          f"torch {torch.__version__}, {args.epochs} epochs each")
    print(f"{'batch':>6} {'nnstudy s/epoch':>16} {'plain s/epoch':>14} {'ratio plain/nnstudy':>20}")
    for batch in args.batch:
        ours = nnstudy_epoch(data, batch, args.epochs)
        plain = plain_epoch(data, batch, args.epochs)
        print(f"{batch:>6} {ours:>16.3f} {plain:>14.3f} {plain / ours:>20.2f}")


if __name__ == "__main__":
    main()
