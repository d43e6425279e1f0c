"""A stack of ViTs, ResNet-18s or CNNs in each train.precision, and each layer's dtype (session 17, issue 21).

    python benchmarks/precision_stack.py [--device cuda] [--models vit resnet18 cnn-bn] [--k 16]
        [--precisions float32 tf32 bf16] [--train-size 2048] [--quick]

Trains K seeds of each model as one stack (``train_group``, as a run does: a CUDA graph on a GPU) on
Fashion-MNIST at batch 16 for one epoch, twice (the first warms up), and prints the second epoch's training seconds
per trial in each precision and bf16's time against float32's. Before session 17 a bf16 stack of these models ran
nearly every layer in float32 (vmap's batched ops escape autocast); ``_precision.VmapAutocast`` makes autocast's
casts per call. The last column lists the dtypes the training step's leaf layers answered in (bf16 must say
bfloat16 for the convolutions and linear layers). --quick: 256 images, K = 2, small models (a CPU smoke test).
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.nn.modules.module import register_module_forward_hook

from nnstudy.data import load
from nnstudy.engines._torch._stack_train import train_group
from nnstudy.spec import expand, read_study

MODELS = {
    "vit": {"kind": "vit", "patch": 4, "dim": 128, "depth": 6, "heads": 4, "mlp_dim": 256},
    "resnet18": {"kind": "resnet18"},
    "cnn-bn": {"kind": "cnn", "blocks": [{"channels": 32, "pool": "max", "batch_norm": True},
                                         {"channels": 64, "pool": "max", "batch_norm": True}], "hidden": [256]},
}
QUICK = {"vit": {"dim": 16, "depth": 1, "heads": 2, "mlp_dim": 16}, "resnet18": {"width": 4},
         "cnn-bn": {"blocks": [{"channels": 4, "pool": "max", "batch_norm": True}], "hidden": [8]}}


def one(model: dict, precision: str, k: int, train_size: int, device: str) -> tuple[float, str]:
    train = {"batch_size": 16, "epochs": 1, "lr": 0.01, "optimizer": "adam"}
    if precision != "float32":
        train["precision"] = precision
    raw = {"study": {"name": "precision-stack"}, "model": model, "train": train, "trials": {"seeds": k},
           "data": {"name": "fashion-mnist", "normalize": "minmax", "train_size": train_size, "validation": 0.0}}
    study, _, _ = read_study(raw)
    data, trials = load(study.data), expand(study)
    train_group(trials, data, lambda *a: None, device=device)  # warm-up: cuDNN's choices, the graph
    seen: set[str] = set()

    def layer(module, inputs, out):
        if torch.is_grad_enabled() and isinstance(out, torch.Tensor) and not list(module.children()):
            seen.add(f"{type(module).__name__} {str(out.dtype).removeprefix('torch.')}")

    hook = register_module_forward_hook(layer)
    try:
        t0 = time.perf_counter()
        results = train_group(trials, data, lambda *a: None, device=device)
        wall = time.perf_counter() - t0
    finally:
        hook.remove()
    per_trial = float(results[0].final.get("train_time_s", wall / k))
    return per_trial, ", ".join(sorted(seen))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--precisions", nargs="+", default=["float32", "tf32", "bf16"],
                    choices=["float32", "tf32", "bf16"])
    ap.add_argument("--train-size", type=int, default=2048)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    k, size = (2, 256) if args.quick else (args.k, args.train_size)
    print(f"K = {k}, batch 16, {size} images, one epoch, {args.device}; seconds of training per trial\n")
    print("| model | precision | s per trial | vs float32 | training step's layers |")
    print("|---|---|---:|---:|---|")
    for name in args.models:
        model = {**MODELS[name], **(QUICK[name] if args.quick else {})}
        base = None
        for precision in args.precisions:
            s, dtypes = one(model, precision, k, size, args.device)
            base = s if precision == "float32" else base
            ratio = f"{s / base:.2f}" if base else "—"
            print(f"| {name} | {precision} | {s:.3f} | {ratio} | {dtypes} |", flush=True)


if __name__ == "__main__":
    main()
