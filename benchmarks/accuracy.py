"""Test accuracy and training time of the shipped image-classifier recipes (studies/recipe-*.toml).

    python benchmarks/accuracy.py [--device cuda] [--store /tmp/accuracy-runs] [--only cnn vit]
    python benchmarks/accuracy.py --quick      # 1 epoch, small subsets and small widths: a CPU smoke test

Each recipe runs through ``nnstudy.run`` into a throwaway store (trials already there are reused),
then one row per configuration: test accuracy, the target, training time and wall time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import nnstudy

STUDIES = Path(__file__).resolve().parent.parent / "studies"
# recipe -> (study file, {model.kind: target test accuracy})
RECIPES = {
    "cnn": ("recipe-cnn.toml", {"cnn": 0.93}),
    "resnet18": ("recipe-resnet18.toml", {"resnet18": 0.95}),
    "vit": ("recipe-vit.toml", {"vit": 0.90}),
    "mnist1d": ("recipe-mnist1d.toml", {"cnn": 0.94, "mlp": 0.68}),
}
QUICK = {"train.epochs": 1, "data.train_size": 256, "data.classes": [0, 1]}  # a 2-class test split of 2000
QUICK_MODEL = {"resnet18": {"model.width": 8}, "vit": {"model.depth": 1, "model.dim": 32, "model.mlp_dim": 64}}


def run_recipe(name: str, store: str, device: str, quick: bool) -> list[dict]:
    file, targets = RECIPES[name]
    overrides = {**QUICK, **QUICK_MODEL.get(name, {})} if quick else {}
    t0 = time.perf_counter()
    study = nnstudy.run(STUDIES / file, store=store, set=overrides, workers=1, device=device)
    wall = time.perf_counter() - t0
    rows = []
    trials = study.trials()
    for _, t in trials.iterrows():
        kind = t.get("model.kind") or next(iter(targets))
        rows.append({"recipe": name, "model": kind, "status": t["status"],
                     "test_accuracy": t.get("test_accuracy"), "target": targets.get(kind),
                     "epochs": t.get("epochs_run"), "train_s": t.get("train_time_s"), "wall_s": wall})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--store", help="store folder (default: a new temporary folder)")
    ap.add_argument("--only", nargs="+", choices=list(RECIPES), default=list(RECIPES))
    ap.add_argument("--quick", action="store_true", help="1 epoch on small subsets: checks that every recipe runs")
    args = ap.parse_args()
    store = args.store or tempfile.mkdtemp(prefix="nnstudy-accuracy-")
    rows = [row for name in args.only for row in run_recipe(name, store, args.device, args.quick)]
    device = "cpu" if args.device == "cpu" else _device_name(args.device)
    note = "  (--quick: 1 epoch, small subsets; accuracies are not the targets)" if args.quick else ""
    print(f"\ndevice: {device}{note}")
    print(f"{'recipe':<10} {'model':<9} {'test acc':>9} {'target':>7} {'ok':>4} {'epochs':>7} {'train s':>9} "
          f"{'wall s':>8}")
    for r in rows:
        acc, target = r["test_accuracy"], r["target"]
        ok = "-" if acc is None or target is None or args.quick else ("yes" if acc >= target else "NO")
        print(f"{r['recipe']:<10} {r['model']:<9} {_num(acc, 4):>9} {_num(target, 2):>7} {ok:>4} "
              f"{_num(r['epochs'], 0):>7} {_num(r['train_s'], 1):>9} {_num(r['wall_s'], 1):>8}")


def _num(v, digits: int) -> str:
    return "-" if v is None or v != v else f"{float(v):.{digits}f}"


def _device_name(choice: str) -> str:
    import torch

    if torch.cuda.is_available() and choice in ("auto", "cuda"):
        return f"cuda ({torch.cuda.get_device_name()})"
    return "cpu"


if __name__ == "__main__":
    main()
