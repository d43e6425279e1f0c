"""The results of shipped studies for their docs pages, taken from a real run's report folder.

    python docs/gen_results.py --store /tmp/docs-store moons-depth pca-iris ...

For each study it reads ``<store>/<study>/report.md`` (the report nnstudy wrote; its "Results" section is
copied as it is, numbers untouched) and copies one figure, then writes ``docs/results/<study>.md`` (when
and where it ran, the command, the results) and ``docs/results/<study>.png`` (its main figure). The docs
hook (docs/hooks.py) puts them on the study's page; a study without them says that it has not been run.
Run it on the machine that ran the studies, right after: the page names this machine.

A study too long for that machine may run as a smaller variant instead (``nnstudy run ... --set
train.epochs=2 --as NAME``); ``--shrunk "--set train.epochs=2 --as NAME"`` then reads ``<store>/NAME`` and
its page says, above the numbers, that it is a shrunk run, with that exact command. A study the machine cannot
run at all goes into ``NOT_RUN`` with the reason, which its page gives instead of results.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
RESULTS = DOCS / "results"
# The figure that answers a study's question where the first figure of its kind does not.
MAIN_FIGURE = {
    "vanishing-gradients": "grad_heatmap.png",
    "batch-size-steps": "loss_per_step.png",
    "elnino-svr": "metric_vs_data.lags.png",
    "elnino-forest": "metric_vs_data.lags.png",
    "optimizers": "learning_curves.png",
    "batch-norm": "learning_curves.png",
    "epochs": "learning_curves.png",
    "regularization": "learning_curves.png",
    "moons-lr": "learning_curves.png",
    "surface-mlp": "learning_curves.png",
    "logistic-lr": "learning_curves.png",
    "ard-vs-ols": "linear_weights.png",
    "vit-capacity": "metric_vs_model.dim.png",
    "recipe-cnn": "learning_curves.png",
    "recipe-vit": "learning_curves.png",
    "search-mlp": "search_history.png",
    "vae-vs-gan": "samples.png",
    "cnn-optimizers": "learning_curves.png",
    "cnn-variants": "metric_vs_model.blocks.png",
    "xgboost-vs-resnet18": "metric_by_label.png",
    "sine-linear": "regression_fit.png",
    "sklearn-mlp-grid-ionosphere": "metric_vs_model.solver.png",
    "sklearn-mlp-grid-diabetes": "metric_vs_model.solver.png",
    "gan-d-lr": "gan_losses.png",
    "ae-dim-epochs": "reconstructions_by_config.png",
    "regularizers-seeds": "seed_spread.png",
    "perceptron-logistic": "metric_vs_model.kind.png",
    "ae-bottleneck": "reconstructions_by_config.png",
    "stacked-ae": "reconstructions_by_config.png",
    "seed-variance": "seed_spread.png",
    "resnet18-torchvision": "learning_curves.png",
    "rbm-inpainting": "rbm_inpainting.png",
    "xgboost-vs-cnn": "metric_by_label.png",
    "interval-start": "learning_curves.png",
    "own-module": "metric_vs_model.args.width.png",
    "vae-tanh": "reconstructions_by_config.png",
    "cnn-inception": "metric_vs_model.blocks.png",
}
SKIP = ("grad_norms.png",)  # a kind's figure that is never the answer to the study's question
_CIFAR = ("it trains on CIFAR-10, which the documentation's machine does not hold and cannot download "
          "(it reaches only package registries)")
_RESNET = ("ResNet-18 is too slow for the documentation's machine (2 CPU cores shared with other work): measured "
           "there, one forward pass over a batch of 128 Fashion-MNIST images took 12 s and a training step 45 s, so "
           "a single evaluation of the 10,000 test images takes about 16 min and even a shrunk run of a few epochs "
           "takes hours")
# Shipped studies the documentation's machine cannot run: their page gives this one-line reason instead of results.
NOT_RUN = {
    "cifar10-numpy": _CIFAR,
    "cifar10-numpy-steps": _CIFAR,
    "resnet18-cifar10": _CIFAR,
    "vae-cifar10-class": _CIFAR,
    "resnet18-vs-cnn": _RESNET,
    "recipe-resnet18": _RESNET,
}


def machine() -> str:
    """'2 cores, AMD EPYC' from /proc/cpuinfo (or the platform's processor name)."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}, {platform.system()} {platform.machine()}"


def section(report: str, title: str) -> str:
    """The text of `## title` up to the next `## ` heading."""
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", report, flags=re.S | re.M)
    if m is None:
        raise SystemExit(f"gen_results: the report has no '## {title}' section")
    return m.group(1).strip()


def figures(report: str) -> dict[str, str]:
    """{figure file: caption} in the report's order."""
    return {Path(path).name: caption
            for caption, path in re.findall(r"^!\[(.*?)\]\((figures/[^)]+)\)$", report, flags=re.M)}


def main_figure(study: str, kind: str, found: dict[str, str]) -> str | None:
    from nnstudy import kinds

    wanted = [MAIN_FIGURE.get(study)] if study in MAIN_FIGURE else []
    try:
        wanted += [f for f in kinds.get(kind).figures if f not in SKIP]
    except Exception:  # a kind this checkout does not know: the generic figures
        pass
    wanted += [f for f in found if f.startswith("metric_vs_")] + ["metric_by_label.png", "learning_curves.png"]
    return next((name for name in wanted if name in found), next(iter(found), None))


def study_kind(path: Path) -> str:
    import tomllib

    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    return raw.get("model", {}).get("kind", "mlp")


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def file_sha(path: Path) -> str:
    """The first 12 hex digits of a study file's sha256 (the study page warns when the file has changed since)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def page(study: str, report: str, figure: str | None, caption: str, command: str, where: str, code: str,
         sha: str = "", shrunk: bool = False) -> str:
    header = report.split("## ", 1)[0]
    trials = re.search(r"^\*\*(\d+ trials?:[^*]+)\*\*$", header, flags=re.M)
    dates = re.search(r"updated (\S+)\.", header)
    wall = re.search(r"^(.*wall clock.*)$", header, flags=re.M)
    when = dates.group(1).replace("T", " ")[:16] + " UTC" if dates else "unknown date"
    facts = [("Run", f"{when} on {where}, at low priority on a machine shared with other work "
                     "(times are not benchmarks)"),
             ("Code", f"nnstudy {code}"), ("Command", f"`{command}`"),
             ("Study file", f"sha256 {sha}" if sha else ""),
             ("Trials", "; ".join(m.group(1).strip().rstrip(".") for m in (trials, wall) if m))]
    out = [f"- **{name}**: {text}" for name, text in facts if text] + ["", section(report, "Results"), ""]
    if shrunk:
        out = ['!!! note "A shrunk run, not the study itself"',
               "    The full study is too long for this machine's 2 shared cores, so these are the results of the "
               "smaller variant in the command below (its `--set`/`--sweep` flags: less data, fewer epochs or "
               "seeds). They show what the study reports, not its answer at full size: run the study's own "
               "command for that.", ""] + out
    if figure:
        out += [f"![{caption}](../results/{study}.png)", "", f"*{caption}*", ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", required=True, help="the store folder the studies ran in")
    ap.add_argument("--code", default=None, help="the nnstudy commit that ran them (default: this checkout's)")
    ap.add_argument("--flags", default="", help="extra flags of the run command, as given (e.g. --workers 2)")
    ap.add_argument("--shrunk", default="", metavar="FLAGS",
                    help="the --set/--sweep/--as flags of a shrunk variant that ran instead of the study (with "
                         "--as NAME: the report is read from <store>/NAME); the page says it is not the study")
    ap.add_argument("--studies-dir", default=str(ROOT / "studies"), help="the folder of the study files")
    ap.add_argument("--out", default=str(RESULTS), help="where the pages go (default docs/results)")
    ap.add_argument("studies", nargs="+")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    where = machine()
    named = re.search(r"--as[ =](\S+)", args.shrunk)
    if args.shrunk and not named:
        ap.error("--shrunk needs the variant's --as NAME (the folder its report is in)")
    for study in args.studies:
        folder = Path(args.store) / (named.group(1) if named else study)
        report = (folder / "report.md").read_text(encoding="utf-8")
        found = figures(report)
        figure = main_figure(study, study_kind(Path(args.studies_dir) / f"{study}.toml"), found)
        if figure:
            shutil.copyfile(folder / "figures" / figure, out / f"{study}.png")
        command = " ".join(["nnstudy run", f"studies/{study}.toml", args.shrunk, args.flags]).replace("  ", " ").strip()
        text = page(study, report, figure, found.get(figure, ""), command, where, args.code or commit(),
                    file_sha(Path(args.studies_dir) / f"{study}.toml"), shrunk=bool(args.shrunk))
        (out / f"{study}.md").write_text(text, encoding="utf-8")
        print(f"{study}: {out / study}.md" + (f" + {figure}" if figure else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
