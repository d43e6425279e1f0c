"""The K figure of issue 21: seconds per epoch per trial of the stacked default MLP against K, and peak memory.

    python benchmarks/plot_k_figure.py [benchmarks/results/k_figure_h200.csv] [benchmarks/k_figure.png]

The CSV holds stack_profile.py's --k table (written with its --csv option): one row per K.
"""

from __future__ import annotations

import csv
import sys

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402


def main() -> None:
    src = sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results/k_figure_h200.csv"
    out = sys.argv[2] if len(sys.argv) > 2 else "benchmarks/k_figure.png"
    with open(src) as f:
        rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]
    k = [r["k"] for r in rows]
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.add_subplot()
    ax.loglog(k, [r["s_per_epoch_per_trial"] for r in rows], "o-", label="epoch (steps + evaluation)")
    ax.loglog(k, [r["of_which_steps"] for r in rows], "s--", label="of which the training steps")
    ax.set_xlabel("K (trials in the stack)")
    ax.set_ylabel("s per epoch per trial")
    ax.set_xticks(k, [str(int(v)) for v in k])
    ax.grid(True, which="both", alpha=0.3)
    mem = ax.twinx()
    mem.plot(k, [r["peak_gib"] for r in rows], "^:", color="grey", label="peak GPU memory (GiB)")
    mem.set_ylabel("peak GPU memory (GiB)")
    lines = ax.get_legend_handles_labels()
    more = mem.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="upper center", fontsize=8)
    ax.set_title("Default MLP stacked, batch 16, Fashion-MNIST (NVIDIA H200)", fontsize=9)
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
