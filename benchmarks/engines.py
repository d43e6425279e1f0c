"""Seconds per epoch of the default MLP on Fashion-MNIST: the NumPy engine, the PyTorch engine (CPU) and
scikit-learn's MLPClassifier, with the same settings.

784-200-200-10 ReLU, plain SGD lr 0.1 (no momentum, no L2), the same 54,000 training samples, shuffled
each epoch, the same thread count. The engines' time is their training loop (train_time_s: no
evaluation); MLPClassifier's is its fit (which also sums the training loss, as its loop always does).
A ratio numpy / torch below 1 means the NumPy engine is faster. The engines run in turn ``--repeat`` times
and each keeps its fastest time, so that a busy machine slows both sides alike rather than one; the ratio of
each repeat's pair (run back to back) follows in brackets, the spread a noisy host gives it.

    python benchmarks/engines.py [--epochs 2] [--batch 16 1024] [--threads N] [--repeat 3] [--skip-sklearn]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

from nnstudy.data import load
from nnstudy.engines import get_engine
from nnstudy.spec import expand, read_study

STUDY = {"study": {"name": "bench"}, "data": {"name": "fashion-mnist", "normalize": "minmax"},
         "model": {"hidden": [200, 200], "activation": "relu"}, "train": {"optimizer": "sgd", "lr": 0.1}}


def engine_epoch(engine: str, data, batch: int, epochs: int) -> float:
    study, _, _ = read_study(STUDY, {"train.engine": engine, "train.batch_size": batch, "train.epochs": epochs})
    result = get_engine(engine).train(expand(study)[0], data, lambda e, m: None)
    return result.final["train_time_s"] / epochs


def sklearn_epoch(data, batch: int, epochs: int) -> float:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=(200, 200), activation="relu", solver="sgd", learning_rate_init=0.1,
                        momentum=0.0, nesterovs_momentum=False, alpha=0.0, batch_size=batch, max_iter=epochs,
                        shuffle=True, tol=0.0, n_iter_no_change=epochs + 1, random_state=0)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(data.x_train, data.y_train)
    return (time.perf_counter() - t0) / epochs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, nargs="+", default=[16, 1024])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-sklearn", action="store_true")
    args = ap.parse_args()
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    study, _, _ = read_study(STUDY)
    data = load(study.data)
    print(f"default MLP on Fashion-MNIST ({len(data.x_train)} train samples), {args.threads} thread(s), "
          f"{args.epochs} epochs each, fastest of {args.repeat}; seconds per epoch")
    print(f"{'batch':>6} {'numpy':>8} {'torch':>8} {'sklearn':>8} {'numpy/torch':>12}")
    with threadpool_limits(args.threads):
        for batch in args.batch:
            pairs = [(engine_epoch("numpy", data, batch, args.epochs), engine_epoch("torch", data, batch, args.epochs))
                     for _ in range(args.repeat)]
            ours, ref = min(p[0] for p in pairs), min(p[1] for p in pairs)
            sk = float("nan") if args.skip_sklearn else sklearn_epoch(data, batch, args.epochs)
            each = ", ".join(f"{a / b:.2f}" for a, b in pairs)  # a noisy host moves both sides of one pair alike
            print(f"{batch:>6} {ours:>8.3f} {ref:>8.3f} {sk:>8.3f} {ours / ref:>12.2f}   (each repeat: {each})",
                  flush=True)


if __name__ == "__main__":
    main()
