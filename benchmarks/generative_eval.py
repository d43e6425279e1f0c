"""A conv VAE's evaluation of every split on the CPU (session 15): seconds, CPU seconds in the kernel, page faults.

    python benchmarks/generative_eval.py [--study studies/vae-vs-gan.toml] [--repeat 2]

Builds the study's first model (studies/vae-vs-gan.toml: a conv VAE, channels 32, 64, on Fashion-MNIST's 70,000
images) untrained and runs `_generative_common.split_means` on it; prints the fastest run and the test loss,
which must not change between versions (the VAE's noise is drawn 8,192 rows at a time either way).
"""

from __future__ import annotations

import argparse
import resource
import time
import tomllib

import torch

from nnstudy.data import load
from nnstudy.engines._torch._autoencoders import Setup, build
from nnstudy.engines._torch._generative_common import split_means
from nnstudy.spec import expand, read_study


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", default="studies/vae-vs-gan.toml")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with open(args.study, "rb") as f:
        spec = {k: v for k, v in tomllib.load(f).items() if k != "sweep"}
    study = read_study(spec)[0]
    trial = expand(study)[0]
    s = Setup(trial, load(study.data), "cpu")
    torch.manual_seed(0)
    net = build(trial.config["model"], s).eval()
    rows = sum(x.shape[0] for x in s.inputs.x.values())
    runs = []
    for _ in range(args.repeat):
        before, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        try:
            values = split_means(net, s.inputs)
        except (NotImplementedError, AttributeError, TypeError):  # before session 15 it took model.losses
            values = split_means(net.losses, s.inputs)
        test_loss = float(values["test_loss"])
        after = resource.getrusage(resource.RUSAGE_SELF)
        runs.append((time.perf_counter() - t0, after.ru_stime - before.ru_stime, after.ru_minflt - before.ru_minflt))
    wall, kernel, faults = min(runs)
    print(f"{trial.config['model']['kind']}, {rows} rows: {wall:.2f} s, {kernel:.2f} s in the kernel, "
          f"{faults} page faults; test_loss {test_loss:.6f}")


if __name__ == "__main__":
    main()
