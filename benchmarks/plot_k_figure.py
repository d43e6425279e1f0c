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

GB80 = 80e9 / 2**30  # 80 GB in GiB


def main() -> None:
    src = sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results/k_figure_h200.csv"
    out = sys.argv[2] if len(sys.argv) > 2 else "benchmarks/k_figure.png"
    with open(src) as f:
        rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]
    k = [r["k"] for r in rows]
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.add_subplot()
    evaluated = [r for r in rows if r["evaluation_s"] == r["evaluation_s"]]  # the largest K: steps only (nan)
    ax.loglog([r["k"] for r in evaluated], [r["s_per_epoch_per_trial"] for r in evaluated], "o-",
              label="epoch (steps + evaluation)")
    ax.loglog(k, [r["of_which_steps"] for r in rows], "s--", label="of which the training steps")
    ax.set_xlabel("K (trials in the stack)")
    ax.set_ylabel("s per epoch per trial")
    ax.set_xticks(k, [str(int(v)) for v in k], rotation=45, fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    mem = ax.twinx()
    mem.plot(k, [r["peak_gib"] for r in rows], "^:", color="grey", label="peak GPU memory (GiB)")
    mem.axhline(GB80, color="grey", lw=0.8, ls="--")
    mem.annotate("80 GB", (k[len(k) // 2], GB80), xytext=(2, 3), textcoords="offset points", fontsize=7, color="grey")
    mem.set_ylabel("peak GPU memory (GiB)")
    lines = ax.get_legend_handles_labels()
    more = mem.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="lower left", bbox_to_anchor=(0.0, 0.08), fontsize=8)
    ax.set_title("Default MLP stacked, batch 16, Fashion-MNIST (NVIDIA H200)", fontsize=9)
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
