"""Report figures (PNG). Each function draws one figure or returns None when there is no data.

Figures are drawn on `matplotlib.figure.Figure` objects with the Agg canvas, never through
pyplot: no global backend switch (a notebook keeps its own), no figure registry to leak, safe
in threads. `write_figures` returns {file name: caption} for the figures it wrote.
"""

from __future__ import annotations

import importlib
import io
import itertools
import re
import textwrap
import warnings
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ._atomic import write_atomic
from ._draw_all import start as start_drawing
from ._mosaic import Tile, mosaic_figure
from ._format import figure_text, format_mean_se, format_number, legend_keys, value_text
from ._stats import Analysis, epoch_curve, grad_layers, higher_is_better, history_of
from ..spec._unused import unused

DPI = 110
OUR_PATTERNS = ("learning_curves.png", "metric_vs_*.png", "metric_by_label.png", "seed_spread.png",
                "performance_profile.png", "grad_norms.png", "decision_boundary.png", "first_layer_weights.png",
                "regression_fit.png")

SEARCH_FIGURES = "nnstudy.report._figures_search"
STEP_FIGURES = "nnstudy.report._figures_steps"  # loss per step (train.log_every_steps)


def figure_sets() -> list[str]:
    """Modules that draw the figures of model kinds (each kind names its own), then those of per-step
    records and of searches."""
    from ..kinds import registry

    return [*dict.fromkeys(k.figure_module for k in registry().values() if k.figure_module), STEP_FIGURES,
            SEARCH_FIGURES]


class ReportWarning(UserWarning):
    """A figure could not be drawn; the rest of the report is still written."""


# ---------------------------------------------------------------- helpers


MAX_CURVES, MAX_ROWS = 12, 20  # configurations drawn in the learning curves / the seed spread


def plain_text():
    """Figures drawn within: every text as written (a label "cost $5 and $6" is no formula), as everywhere else a
    user's string goes."""
    from matplotlib import rc_context

    return rc_context({"text.parse_math": False})


def _figure(w: float, h: float) -> Figure:
    fig = Figure(figsize=(w, h), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


class FigureSink:
    """Pass instead of a path to keep the drawn Figure (``.figure``) rather than write a PNG."""

    figure: Figure | None = None


def _save(fig: Figure, path: "Path | FigureSink") -> None:
    if isinstance(path, FigureSink):
        path.figure = fig
        return
    layout = fig.get_layout_engine()
    if layout is not None and fig.axes and fig.dpi == DPI:  # laid out here: savefig would draw the figure to do it
        try:
            layout.execute(fig)
            fig.set_layout_engine(None)  # no engine (with matplotlib's default rcParams): one draw, into the PNG
        except ValueError:  # as savefig: it lays out again, and draws what it can
            pass
    buf = io.BytesIO()
    if fig.dpi == DPI:
        _write_png(fig, buf)
    else:
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None}, facecolor="white")
    write_atomic(Path(path), buf.getvalue())  # not fig.clear(): it set every axes up anew (5% of the drawing)


def _write_png(fig: Figure, buf: io.BytesIO) -> None:
    """The figure as savefig draws it on white, written as RGB (its alpha is opaque everywhere) with zlib's level 3:
    the same pixels as savefig's RGBA at level 6, 1 % smaller and a third less encoding (0.14 s against 0.22 s for
    a report's 9 figures)."""
    from PIL import Image

    fig.set_facecolor("white")
    canvas = fig.canvas
    canvas.draw()
    w, h = canvas.get_width_height(physical=True)
    rgb = Image.frombuffer("RGBA", (w, h), canvas.buffer_rgba(), "raw", "RGBA", 0, 1).convert("RGB")
    rgb.save(buf, format="png", compress_level=3, dpi=(DPI, DPI))


def _colors(n: int) -> list:
    if n <= 10:
        return [colormaps["tab10"](i) for i in range(n)]
    cmap = colormaps["viridis"]
    return [cmap(x) for x in np.linspace(0.0, 0.92, n)]


def _wrap(s: str, width: int = 38) -> str:
    return "\n".join(textwrap.wrap(s, width)) or s


def _label(a: Analysis, i: int, width: int = 38) -> str:
    """A configuration's name in legends and panels: its [[sweep]] label, else the keys whose value differs between
    the configurations, by short name ('lr=0.01, hidden=[64]'), less those whose cell its row of the results table
    leaves empty (another [[sweep]] grid's key; a key it does not read: 'optimizer=sgd', no momentum), wrapped
    between 'key=value' items, and inside a value only between a long list's items."""
    given = getattr(a, "given", None)
    if given and given[i]:
        return _wrap(given[i], width)
    items = []
    for short in (legend_keys(a.configs, a.keys), legend_keys([a.configs[i]], a.keys)):  # none differs: all
        items = items or [f"{name}={figure_text(a.configs[i][k])}" for k, name in short.items()
                          if value_text(a.configs[i][k]) != "" and not _unread(a, i, k)]  # as the table: left out
    items = items or [a.labels[i]]
    pieces = [p for it in items for p in (it.split(", ") if len(it) > width else [it])]  # a long list: by item
    lines, cur = [], ""
    for it in pieces:
        if cur and len(cur) + 2 + len(it) > width:
            lines.append(cur + ",")
            cur = it
        else:
            cur = f"{cur}, {it}" if cur else it
    return "\n".join(lines + [cur])


def _unread(a: Analysis, i: int, key: str) -> bool:
    """Whether configuration i does not read swept ``key`` (Analysis.unread), so that its label leaves the key out
    as the results table leaves its cell empty; a bare stand-in for an Analysis: the optimizer keys by its row."""
    if isinstance(a, Analysis):
        return a.unread(i, key)
    return unused(a.configs[i], key, getattr(getattr(a, "snap", None), "spec", None) or {})


def _which(a: Analysis) -> str:
    """'best configuration', or 'configuration' in a drawing of a chosen one (report.configurations)."""
    return "best configuration" if getattr(a, "focus", None) is None else "configuration"


def _shown(a: Analysis, cfgs: list[int], limit: int) -> tuple[list[int], str]:
    """At most `limit` configurations, the best first by rank (the metric the report chooses on), in their own
    order; and a caption note."""
    if len(cfgs) <= limit:
        return cfgs, ""
    ranked = [i for i in a.ranked() if i in cfgs]
    keep = set((ranked + [i for i in cfgs if i not in ranked])[:limit])  # the unranked ones last
    return [i for i in cfgs if i in keep], (f" Only the {limit} best configurations by {a.rank_metric} of "
                                           f"{len(cfgs)} are drawn (all are in the tables).")


def _lines(label: str) -> int:
    return label.count("\n") + 1


def safe_filename(key: str) -> str:
    """A file-name-safe form of a swept key ('train.lr' stays 'train.lr')."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("._") or "key"


def image_colorbar(fig, ax, im, **kw) -> None:
    """A colour bar the size of the image (a SOM of 1x3 neurons had one three times its height): an inset of
    the axes, whose box ``imshow``'s equal aspect fits to the image; below a map at least twice as wide as
    tall (its label would not fit beside it), else on its right."""
    rows, cols = im.get_array().shape[:2]
    if cols >= 2 * rows:
        bar = fig.colorbar(im, cax=ax.inset_axes((0.0, -0.16, 1.0, 0.08)), orientation="horizontal", **kw)
    else:
        bar = fig.colorbar(im, cax=ax.inset_axes((1.04, 0.0, 0.05, 1.0)), **kw)
    bar.ax.tick_params(labelsize=8)


LOG_DECADES = 8  # a log axis reaches this far below its largest value: a loss of 1e-30 is rounding, not a scale


def _maybe_log_y(ax, values) -> None:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) and (v > 0).all() and v.max() / v.min() >= 30:
        ax.set_yscale("log")
        if v.min() < v.max() * 10.0 ** -LOG_DECADES:  # what lies below is drawn as leaving the axis at its foot
            ax.set_ylim(v.max() * 10.0 ** -LOG_DECADES, v.max() * 10.0 ** (0.05 * LOG_DECADES))


def _metric_name(m: str) -> str:
    d = "higher is better" if higher_is_better(m) else "lower is better"
    return f"{m} ({d})"


# ---------------------------------------------------------------- learning curves


def _second_panel_metric(hist: pd.DataFrame) -> str | None:
    names = set(hist["metric"].astype(str))
    for base in ("accuracy", "mse", "rmse"):
        if f"train_{base}" in names or f"val_{base}" in names:
            return None if base == "mse" and _same_as_loss(hist, base) else base
    return None


def _same_as_loss(hist: pd.DataFrame, base: str) -> bool:
    """True when the metric is the loss itself (the MSE of a regression): a second panel would repeat it."""
    for split in ("train", "val"):
        a = hist[hist["metric"] == f"{split}_loss"].set_index(["trial_id", "epoch"])["value"]
        b = hist[hist["metric"] == f"{split}_{base}"].set_index(["trial_id", "epoch"])["value"]
        if len(b) and not (len(a) == len(b) and np.allclose(a.sort_index(), b.sort_index(), equal_nan=True)):
            return False
    return True


def learning_curves(a: Analysis, path: Path) -> str | None:
    done = a.done
    hist = history_of(a.snap, done["trial_id"])
    if hist.empty or not hist["metric"].isin(["train_loss", "val_loss"]).any():
        return None
    second = _second_panel_metric(hist)
    panels = ["loss"] + ([second] if second else [])
    hist = hist[hist["metric"].isin([f"{sp}_{b}" for sp in ("train", "val", "test") for b in panels])]
    has_test = hist["metric"].astype(str).str.startswith("test_").any()  # the torch engines record it per epoch
    cfgs, note = _shown(a, [i for i in range(len(a.configs)) if (done["config"] == i).any()], MAX_CURVES)
    colors = dict(zip(cfgs, _colors(len(cfgs))))
    below = len(cfgs) > 8  # a long legend goes under the panels, in columns
    ncol = 3 if below else 1
    lines = sum(_lines(_label(a, i)) + 0.4 for i in cfgs) + 2
    fig = _figure(6.0 * len(panels) + (0.4 if below else 2.6), 4.3 + (0.16 * lines / ncol + 0.3 if below else 0))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    styles = {"train": "-", "val": "--", **({"test": ":"} if has_test else {})}
    marks = {"train": "o", "val": "s", "test": "^"}
    single = hist["epoch"].nunique() == 1  # a model fitted at once: one point per split, the splits side by side
    if single:  # no empty slot for a split no trial recorded (a GAN has no validation loss)
        styles = {sp: ls for sp, ls in styles.items() if hist["metric"].astype(str).str.startswith(f"{sp}_").any()}
    for ax, base in zip(axes, panels):
        allv = []
        for n, i in enumerate(cfgs):
            ids = done.loc[done["config"] == i, "trial_id"]
            h = hist[hist["trial_id"].isin(ids)]
            for k, (split, ls) in enumerate(styles.items()):
                c = epoch_curve(h, f"{split}_{base}")
                if c.empty:
                    continue
                x, y, se = c["epoch"].to_numpy(float), c["mean"].to_numpy(float), c["sem"].to_numpy(float)
                ok = np.isfinite(se) & (split != "test")  # the test line without a band: fewer bands to read
                if single:
                    x = np.array([k + 0.6 * ((n + 0.5) / len(cfgs) - 0.5)])
                    ax.errorbar(x, y, yerr=np.where(ok, se, 0), fmt=marks[split], color=colors[i], ms=5, capsize=2)
                    allv.extend(y)
                    continue
                ax.plot(x, y, ls, color=colors[i], lw=1.6, marker="o" if len(x) == 1 else None)
                if ok.any():
                    ax.fill_between(x[ok], (y - se)[ok], (y + se)[ok], color=colors[i], alpha=0.18, lw=0)
                allv.extend(y)
        ax.set_xlabel("split (every trial recorded one epoch)" if single else "epoch")
        ax.set_ylabel(base)
        ax.set_title(f"{' / '.join(styles)} {base}")
        ax.grid(alpha=0.3)
        if base in ("loss", "mse", "rmse"):
            _maybe_log_y(ax, allv)
        if single:
            ax.set_xticks(range(len(styles)), list(styles))
            ax.set_xlim(-0.5, len(styles) - 0.5)
        else:
            ax.xaxis.get_major_locator().set_params(integer=True)
    handles = [Line2D([], [], color=colors[i], lw=2, label=_label(a, i)) for i in cfgs]
    if not single:
        handles += [Line2D([], [], color="0.3", ls=ls, label=split) for split, ls in styles.items()]
    fig.legend(handles=handles, loc="outside lower center" if below else "outside right upper",
               ncol=ncol, fontsize=8, frameon=False)
    _save(fig, path)
    if single:
        named = [{"val": "validation"}.get(sp, sp) for sp in styles]
        splits = " and ".join([", ".join(named[:-1]), named[-1]] if len(named) > 1 else named)
        return (f"Final {splits} values: every trial recorded one epoch; mean over "
                "seeds per configuration (done trials), bar = ± 1 standard error"
                + (" (none for test)" if has_test else "") + "." + note)
    return ("Learning curves: mean over seeds per configuration (done trials), band = ± 1 standard "
            f"error; solid = train, dashed = validation{', dotted = test (no band)' if has_test else ''}. Trials "
            "that stopped early leave the average at their last epoch." + note)


# ---------------------------------------------------------------- metric vs swept key


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def list_axes(a: Analysis) -> dict[str, tuple[str, list]]:
    """Numeric axes of list-valued swept keys (issue 19 item 5): for ``model.hidden`` (or any key whose values
    are lists of numbers) its ``depth`` (the list's length) and ``width`` (its largest entry), each per
    configuration, where it takes at least two values. {axis name: (the key, values per configuration)}."""
    out: dict[str, tuple[str, list]] = {}
    for key in a.keys:
        lists = [_number_list(v) for v in a.summary[key]]
        if not any(x is not None for x in lists) or any(x is None and v is not None
                                                       for x, v in zip(lists, a.summary[key])):
            continue
        prefix = "" if key == "model.hidden" else f"{key}."
        for name, f in (("depth", len), ("width", lambda x: max(x) if x else 0)):
            vals = [None if x is None else f(x) for x in lists]
            if len({v for v in vals if v is not None}) >= 2:
                out[prefix + name] = (key, vals)
    return out


def _number_list(v) -> list | None:
    """'[64, 64]' (a swept list as the tables keep it) as [64, 64]; None for anything but a list of numbers."""
    import json

    try:
        x = json.loads(v) if isinstance(v, str) and v.startswith("[") else None
    except ValueError:
        return None
    return x if isinstance(x, list) and all(_is_number(e) for e in x) else None


def metric_vs_key(a: Analysis, key: str, path: Path) -> str | None:
    """Each report metric's final mean ± SE against a swept key, or against a list key's depth or width
    (list_axes), one panel per metric, one line per combination of the other swept keys (of the other axis, for
    depth and width)."""
    s = a.summary.copy()
    others = [k for k in a.keys if k != key]
    axes = list_axes(a)
    if key in axes:  # depth or width of a list: the other axis of the same list tells the lines apart
        source = axes[key][0]
        twin = [n for n, (k, _) in axes.items() if k == source and n != key]
        others = [k for k in a.keys if k != source] + twin
        for n in [key, *twin]:
            s[n] = pd.Series(axes[n][1], index=s.index, dtype=object)
    metrics = [m for m in a.snap.metrics if np.isfinite(s[f"{m}_mean"].to_numpy(float)).any()]
    if not metrics:
        return None
    fig = _figure((6.0 if others else 5.4) * len(metrics) + (1.8 if others else 0), 4.4)
    panels = fig.subplots(1, len(metrics), squeeze=False)[0]
    many, names = False, _value_labels(a, s, key)
    for j, (ax, m) in enumerate(zip(panels, metrics)):
        many = _metric_panel(ax, s, key, m, others, key in axes, legend=j == 0, names=names,
                             unread=lambda i, k: k in a.keys and _unread(a, i, k))
    handles, labels = panels[0].get_legend_handles_labels()
    if handles:
        if len(metrics) == 1 and not (others and not many and len(handles) > 3):
            panels[0].legend(loc="best", fontsize=8)
        else:
            fig.legend(handles, labels, loc="outside right upper", fontsize=8, frameon=False)
    _save(fig, path)
    extra = " One line per combination of the other swept keys." if others and not many else (
        " Grey: each combination of the other swept keys; black: their mean." if many else "")
    if not many and key in a.keys and any(_unread(a, i, key) for i in range(len(s))):
        extra += (f" Dashed: configurations that do not read {key}, at their level (± 1 SE shaded); each trained"
                  f" the same at every value of it.")
    what = f" ({'the number of entries' if key.endswith('depth') else 'the largest entry'} of {axes[key][0]})" \
        if key in axes else ""
    values = list(dict.fromkeys(v for v in s[key] if v is not None))
    ticks = [names.get(v) or figure_text(v) for v in values]  # as _category_ticks gets them
    numbered = "" if any(_is_number(v) for v in s[key]) or max(map(len, ticks), default=0) <= LONG_TICK else (
        " Values of {}: {}.".format(key, "; ".join(f"{n} = {value_text(v)}" for n, v in enumerate(values, 1))))
    return f"Final {', '.join(metrics)} (mean ± 1 standard error over seeds) against {key}{what}.{extra}{numbered}"


def _value_labels(a: Analysis, s: pd.DataFrame, key: str) -> dict:
    """{value of key: the [[sweep]] label of the one configuration with it}, where every value has such a one."""
    given = getattr(a, "given", None) or [None] * len(s)
    by_value: dict = {}
    for v, g in zip(s[key], given):
        if v is not None:
            by_value.setdefault(v, []).append(g)
    named = {v: gs[0] for v, gs in by_value.items() if len(gs) == 1 and gs[0]}
    return named if len(named) == len(by_value) else {}


def _metric_panel(ax, s: pd.DataFrame, key: str, m: str, others: list[str], count: bool, legend: bool,
                  names: dict | None = None, unread: Callable[[int, str], bool] = lambda i, k: False) -> bool:
    """One metric against ``key`` on ``ax``; returns whether the lines were too many to tell apart. A line's label
    leaves out a key none of its configurations (rows of ``s``) reads: ``unread(row, key)``."""
    mean, sem = s[f"{m}_mean"].to_numpy(float), s[f"{m}_sem"].to_numpy(float)
    have = np.isfinite(mean)
    values = list(dict.fromkeys(v for v in s[key] if v is not None))
    numeric = all(_is_number(v) for v in values)
    if numeric:
        values = sorted(values)
        pos = {v: float(v) for v in values}
        logx = min(values) > 0 and max(values) / min(values) >= 100
    else:
        pos = {v: float(j) for j, v in enumerate(values)}
        logx = False
    at, other_at = s[key].tolist(), [s[k].tolist() for k in others]  # values by row (not .iloc per cell)
    groups: dict[tuple, list[int]] = {}
    for i in range(len(s)):
        if have[i] and at[i] is not None:
            groups.setdefault(tuple(col[i] for col in other_at), []).append(i)
    many = len(groups) > 8
    last = [k.rsplit(".", 1)[-1] for k in others]
    short = {k: n if last.count(n) == 1 else k for k, n in zip(others, last)}  # 'lr', not 'train.lr'
    colors = _colors(len(groups))
    drawn: set = set()  # labels drawn: a combination differing from one drawn only in keys it does not read repeats it
    for g, (gk, rows) in enumerate(groups.items()):
        rows = sorted(rows, key=lambda i: pos[at[i]])
        x = np.array([pos[at[i]] for i in rows])
        if not numeric and len(groups) > 1 and not many:  # dodge error bars apart
            x = x + (g - (len(groups) - 1) / 2) * min(0.3 / len(groups), 0.08)
        label = ", ".join(f"{short.get(k, k)}={value_text(v)}" for k, v in zip(others, gk)
                          if value_text(v) != "" and not all(unread(i, k) for i in rows)) or None  # as the table
        flat = all(unread(i, key) for i in rows)  # trained alike at every value of key: one level, not a curve
        name = key.rsplit(".", 1)[-1]
        if not many and (flat, label) in drawn:
            continue
        drawn.add((flat, label))
        if flat and not many:
            i = rows[0]
            ax.axhline(mean[i], ls="--", lw=1.2, color=colors[g],
                       label=None if not legend else _wrap(f"{label} (reads no {name})" if label else f"reads no {name}"))
            if np.isfinite(sem[i]) and sem[i] > 0:
                ax.axhspan(mean[i] - sem[i], mean[i] + sem[i], color=colors[g], alpha=0.12, lw=0)
            continue
        ax.errorbar(x, mean[rows], yerr=np.nan_to_num(sem[rows]), marker="o", ms=4, capsize=3,
                    lw=0.8 if many else 1.5, color="0.6" if many else colors[g], alpha=0.6 if many else 1.0,
                    label=None if many or not legend else (_wrap(label) if label else None))
    if many:  # too many lines to tell apart: show the mean over the other keys on top
        xs, ys = [], []
        for v in values:
            rows = [i for i in range(len(s)) if have[i] and at[i] == v]
            if rows:
                xs.append(pos[v])
                ys.append(float(np.mean(mean[rows])))
        ax.plot(xs, ys, "o-", color="black", lw=2.2, label="mean over the other keys" if legend else None)
    if logx:
        ax.set_xscale("log")
    xlabel = key
    if not numeric:
        if _category_ticks(ax, [pos[v] for v in values], [(names or {}).get(v) or figure_text(v) for v in values]):
            xlabel = f"{key} (numbered: see the caption)"
        ax.set_xlim(-0.5, len(values) - 0.5)
    elif len(values) <= 12:
        ax.set_xticks([pos[v] for v in values], [value_text(v) for v in values])
        ax.minorticks_off()
    elif count:  # depth and width are counts
        ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(m)
    ax.set_title(f"{_metric_name(m)} vs {key}")
    ax.grid(alpha=0.3)
    return many


LONG_TICK = 64  # characters: a longer value (a nested list of blocks) is ticked by its number, named in the caption


def _category_ticks(ax, at: list[float], texts: list[str]) -> bool:
    """Tick labels that fit their slot of the axes: wrapped to its width (about 5.5 points a character at
    fontsize 10), or, where even a short line would not fit, one line each turned upright; values longer than
    4 lines of 16 characters (nested lists of blocks) as their numbers 1, 2, ... Returns whether numbered."""
    if max(len(t) for t in texts) > LONG_TICK:
        ax.set_xticks(at, [str(n) for n in range(1, len(texts) + 1)])
        return True
    slot_pt = ax.figure.get_figwidth() * ax.get_position().width * 72 / max(len(texts), 1)
    chars = min(16, int(slot_pt / 5.5))
    if chars >= 6:
        ax.set_xticks(at, [_wrap(t, chars) for t in texts])
    else:
        ax.set_xticks(at, texts, rotation=90)
    return False


# ---------------------------------------------------------------- seed spread


def seed_spread(a: Analysis, path: Path) -> str | None:
    m = a.metric
    done = a.done
    if m is None or m not in done.columns:
        return None
    vals = pd.to_numeric(done[m], errors="coerce")
    ok = np.isfinite(vals.to_numpy(float))
    if not ok.any():
        return None
    cfgs, note = _shown(a, [i for i in range(len(a.configs)) if (done["config"][ok] == i).any()], MAX_ROWS)
    fig = _figure(7.8, max(2.4, sum(0.15 * _lines(_label(a, i, 44)) + 0.12 for i in cfgs) + 1.3))
    ax = fig.subplots()
    rng = np.random.default_rng(0)
    best = set(a.ranked()[:1])
    for y, i in enumerate(cfgs):
        v = vals[ok & (done["config"] == i).to_numpy()].to_numpy(float)
        jit = rng.uniform(-0.18, 0.18, len(v))
        ax.scatter(v, y + jit, s=18, alpha=0.65, color="tab:blue", edgecolors="none", zorder=2)
        r = a.summary.iloc[i]
        mu, se = r[f"{m}_mean"], r[f"{m}_sem"]
        ax.errorbar([mu], [y], xerr=[0 if pd.isna(se) else se], fmt="D", ms=6, capsize=4,
                    color="tab:red" if i in best else "black", zorder=3)
    ax.set_yticks(range(len(cfgs)), [_label(a, i, 44) for i in cfgs], fontsize=8)
    ax.set_ylim(len(cfgs) - 0.5, -0.5)
    ax.set_xlabel(_metric_name(m))
    ax.set_title(f"{m}: each done trial (dots), mean ± 1 SE (diamonds)", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    _save(fig, path)
    return (f"Spread over seeds: {m} of every done trial (dots, jittered vertically) and the "
            f"configuration mean ± 1 standard error (diamonds; red = best)." + note)


# ---------------------------------------------------------------- gradient norms


def grad_norms(a: Analysis, path: Path) -> str | None:
    ranked = a.ranked()
    if not ranked:
        return None
    i = ranked[0]
    done = a.done
    ids = done.loc[done["config"] == i, "trial_id"]
    hist = history_of(a.snap, ids)
    layers = grad_layers(hist)
    if not layers:
        return None
    fig = _figure(8.6, 4.6)
    ax = fig.subplots()
    many = len(layers) > 12
    cmap = colormaps["viridis"]
    colors = [cmap(x) for x in np.linspace(0, 0.92, len(layers))] if many else _colors(len(layers))
    drawn = 0
    for j, layer in enumerate(layers):
        c = epoch_curve(hist, layer)
        c = c[c["mean"] > 0]
        if c.empty:
            continue
        drawn += 1
        ax.plot(c["epoch"], c["mean"], color=colors[j], lw=1.2 if many else 1.6,
                marker="o" if len(c) == 1 else None,
                label=layer.removeprefix("grad_norm/") if (not many or j in (0, len(layers) - 1)) else None)
    if not drawn:
        return None
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("gradient norm")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title(f"per-layer gradient norm (mean over seeds), {_which(a)}:\n{_label(a, i, 90)}",
                 fontsize=10)
    ax.grid(alpha=0.3)
    if many:
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize
        sm = ScalarMappable(norm=Normalize(0, len(layers) - 1), cmap=ListedColormap(colors))
        fig.colorbar(sm, ax=ax, label="layer (input → output)")
    # outside the axes: a deep net's lines fill them, and loc="best" then puts the legend on the data
    fig.legend(loc="outside lower center" if many else "outside right upper", ncols=2 if many else 1,
               fontsize=8, title="layer", frameon=False)
    _save(fig, path)
    return (f"Per-layer gradient norm over epochs (mean over seeds, log scale) for the best "
            f"configuration ({a.labels[i]}).")


# ---------------------------------------------------------------- decision boundary


def _npz_artifacts(a: Analysis, name: str) -> dict[str, dict]:
    """trial id -> arrays of its artifact ``name`` (an .npz); unreadable ones are skipped with a warning."""
    out = {}
    for tid, data in _blobs(a, name).items():
        arrays = _read_npz(name, tid, data)
        if arrays is not None:
            out[tid] = arrays
    return out


def _blobs(a: Analysis, name: str) -> dict[str, bytes]:
    """trial id -> the bytes of its artifact ``name`` (the first stored)."""
    out: dict[str, bytes] = {}
    for art in a.snap.artifacts or []:
        if art.name == name:
            out.setdefault(art.trial_id, art.data)
    return out


def _read_npz(name: str, tid: str, data: bytes) -> dict | None:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as e:  # a broken artifact should not break the report
        warnings.warn(f"{name} of trial {tid} unreadable: {e}", ReportWarning)
        return None


def iter_picks(a: Analysis, artifact: str, order: list[int] | None = None) -> Iterator[tuple[int, pd.Series, dict]]:
    """(configuration, its lowest-seed done trial with a readable ``artifact``, that trial's arrays of it) for
    each configuration of `order` (default: best first) that has one, read as they are asked for: a figure of the
    best few reads their files only, whatever the number of configurations and seeds."""
    blobs = _blobs(a, artifact)
    if not blobs:  # most figures of other model kinds: no table filtered for nothing
        return
    done = a.done[a.done["trial_id"].isin(blobs)].sort_values("seed", kind="stable")
    by_config = {i: rows for i, rows in done.groupby("config", sort=False)}
    for i in a.ranked() if order is None else order:
        for _, row in by_config[i].iterrows() if i in by_config else ():
            arrays = _read_npz(artifact, row["trial_id"], blobs[row["trial_id"]])
            if arrays is not None:
                yield i, row, arrays
                break


def picked_arrays(a: Analysis, artifact: str, limit: int | None = None) -> list[tuple[int, pd.Series, dict]]:
    """The first `limit` (default all) of `iter_picks`, best configuration first."""
    return list(itertools.islice(iter_picks(a, artifact), limit))


def best_arrays(a: Analysis, artifact: str) -> tuple[int, pd.Series, dict] | None:
    """(configuration, trial row, arrays) of the best configuration that stored ``artifact``, or None."""
    return next(iter_picks(a, artifact), None)


def best_and_worst(a: Analysis, artifact: str) -> list[tuple[int, pd.Series, dict]]:
    """The best configuration's pick, then the worst's when it is another configuration (the last of `iter_picks`)."""
    best = best_arrays(a, artifact)
    if best is None:
        return []
    worst = next(iter_picks(a, artifact, a.ranked()[::-1]), None)
    return [best] + ([worst] if worst is not None and worst[0] != best[0] else [])


def _boundary_panel(ax, d: dict, title: str) -> list:
    xx, yy, zz = d["xx"], d["yy"], np.asarray(d["zz"])
    classes = [str(c) for c in d.get("classes", np.arange(int(zz.max()) + 1))]
    k = max(len(classes), int(np.nanmax(zz)) + 1 if zz.size else 1)
    base = colormaps["tab10" if k <= 10 else "tab20"]
    cols = [base(j % base.N) for j in range(k)]
    cmap = ListedColormap(cols)
    ax.contourf(xx, yy, zz, levels=np.arange(k + 1) - 0.5, cmap=cmap, alpha=0.35, vmin=-0.5, vmax=k - 0.5)
    x, y = np.asarray(d.get("x", np.empty((0, 2)))), np.asarray(d.get("y", np.empty(0)))
    if y.dtype.kind in "USO":
        lookup = {c: j for j, c in enumerate(classes)}
        y = np.array([lookup.get(str(v), -1) for v in y])
    handles = []
    for j in range(k):
        sel = y == j
        if x.ndim == 2 and x.shape[1] >= 2 and sel.any():
            ax.scatter(x[sel, 0], x[sel, 1], s=14, color=cols[j], edgecolors="black", linewidths=0.4)
        handles.append(Line2D([], [], marker="o", ls="", color=cols[j], markeredgecolor="black",
                              label=classes[j] if j < len(classes) else str(j)))
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    return handles


def decision_boundary(a: Analysis, path: Path) -> str | None:
    m = a.metric
    shown = best_and_worst(a, "decision_boundary.npz")
    if not shown:
        return None
    chosen = [("best" if getattr(a, "focus", None) is None else "configuration", *shown[0])] + (
        [("worst", *shown[1])] if len(shown) > 1 else [])
    fig = _figure(5.4 * len(chosen) + 1.6, 4.8)
    axes = fig.subplots(1, len(chosen), squeeze=False)[0]
    handles = []
    for ax, (tag, i, row, d) in zip(axes, chosen):
        r = a.summary.iloc[i]
        trial_v = row.get(m) if m else None
        title = f"{tag}: {_label(a, i, 48)}\n{m} = {format_mean_se(r[f'{m}_mean'], r[f'{m}_sem'], m)}"
        title += f" (seed {row['seed']}: {format_number(trial_v, m)})"
        handles = _boundary_panel(ax, d, title)
    fig.legend(handles=handles, loc="outside right upper", fontsize=8, title="class", frameon=False)
    _save(fig, path)
    what = "best and worst configuration" if len(chosen) > 1 else "the configuration"
    return (f"Decision boundary of {what} by {m} (trial with the lowest seed): predicted class "
            f"per grid point, test points coloured by their true class.")


# ---------------------------------------------------------------- first-layer weights


def first_layer_weights(a: Analysis, path: Path) -> str | None:
    got = best_arrays(a, "first_layer_weights.npz")
    if got is None:
        return None
    i, row, d = got
    w, labels = np.asarray(d["w"], dtype=float), [str(x) for x in d["labels"]]
    rgb = w.ndim == 4 and w.shape[1] == 3
    if rgb:  # (units, 3, h, w): each unit as a colour image, its weights scaled to [0, 1]
        lo = w.min(axis=(1, 2, 3), keepdims=True)
        w = np.moveaxis((w - lo) / np.maximum(w.max(axis=(1, 2, 3), keepdims=True) - lo, 1e-12), 1, -1)
    elif w.ndim == 4:  # (units, channels, h, w): show channels side by side
        w = np.concatenate(list(np.moveaxis(w, 1, 0)), axis=2)
    cols = int(np.ceil(np.sqrt(len(w))))
    lims = [float(np.abs(tile).max()) or 1.0 for tile in w]
    tiles = [Tile(tile, label) if rgb else Tile(tile, label, "RdBu_r", -lim, lim)
             for tile, label, lim in zip(w, labels, lims)]
    title = f"first-layer weights, {_which(a)}: {_label(a, i, 90)} (seed {row['seed']})"
    _save(mosaic_figure(tiles, cols, title, DPI, cell=min(1.3, 12.0 / cols)), path)
    total = int(d["total_units"]) if "total_units" in d else len(w)
    shown = f"the first {len(w)} of {total} units" if total > len(w) else f"all {total} units"
    how = ("colour images (each tile's weights scaled to [0, 1]: bright where a unit weighs that colour up)"
           if rgb else "images: red weighs a pixel up, blue down (each tile scaled to its own largest weight)")
    return (f"Weights of the first layer of the best configuration ({a.labels[i]}, seed {row['seed']}), "
            f"{shown}, as {how}. For a perceptron or logistic regression each tile is a class's template.")


def _regression_fit(a: Analysis, path: Path) -> str | None:
    from ._figures_fit import regression_fit  # it imports this module's helpers

    return regression_fit(a, path)


def _performance_profile(a: Analysis, path: Path) -> str | None:
    from ._figures_robust import performance_profile  # it imports this module's helpers

    return performance_profile(a, path)


# ---------------------------------------------------------------- all figures


def write_figures(a: Analysis, fig_dir: Path) -> dict[str, str]:
    """Draw every figure there is data for; return {file name: caption}, in report order."""
    return start_figures(a, fig_dir)()


def start_figures(a: Analysis, fig_dir: Path) -> Callable[[], dict[str, str]]:
    """Start drawing every figure there is data for (forked workers begin at once: _draw_all.start); the
    function returned draws the rest and returns {file name: caption}, in report order."""
    fig_dir.mkdir(parents=True, exist_ok=True)
    jobs, patterns = figure_jobs(a)
    if a.chosen():  # report.configurations: one trial's pictures for each chosen configuration, side by side
        from ._side_by_side import PER_CONFIGURATION, side_by_side

        def jobs_of(view: Analysis) -> dict[str, Callable]:
            return dict(figure_jobs(view)[0])

        jobs = [(name, (lambda p, name=name: side_by_side(a, name, jobs_of, p)) if name in PER_CONFIGURATION
                 else draw) for name, draw in jobs]
    outcomes = start_drawing(jobs, fig_dir)

    def captions() -> dict[str, str]:
        out: dict[str, str] = {}
        for name, cap, said, failed in outcomes():
            for message, category in said:
                warnings.warn(message, category)
            if failed is not None:
                raise OSError(*failed)
            if cap:
                out[name] = cap
        # figures of an earlier report that have no data now would be stale: remove them
        for pattern in patterns:
            for old in fig_dir.glob(pattern):
                if old.name not in out:
                    old.unlink()
        return out

    return captions


def figure_jobs(a: Analysis) -> tuple[list[tuple[str, Callable[[Path], str | None]]], list[str]]:
    """([(file name, draw(path) -> caption | None)] in report order, the file-name patterns they use)."""
    jobs: list[tuple[str, Callable[[Path], str | None]]] = [
        ("learning_curves.png", lambda p: learning_curves(a, p)),
    ]
    from ._figures_labels import ablation, metric_by_label

    if ablation(a):  # one labelled configuration per [[sweep]] table: one chart by label, before the per-key ones
        jobs.append(("metric_by_label.png", lambda p: metric_by_label(a, p)))
    used = set()
    for key in [*a.keys, *list_axes(a)]:  # then the depth and width of model.hidden (any list of numbers)
        if key in a.keys and len({value_text(v) for v in a.summary[key] if value_text(v) != ""}) < 2:
            continue  # one value where it is set (a key of one [[sweep]] table): a column of points, no axis
        name = f"metric_vs_{safe_filename(key)}"
        while name in used:
            name += "_"
        used.add(name)
        jobs.append((f"{name}.png", lambda p, key=key: metric_vs_key(a, key, p)))
    jobs += [
        ("seed_spread.png", lambda p: seed_spread(a, p)),
        ("performance_profile.png", lambda p: _performance_profile(a, p)),
        ("grad_norms.png", lambda p: grad_norms(a, p)),
        ("decision_boundary.png", lambda p: decision_boundary(a, p)),
        ("first_layer_weights.png", lambda p: first_layer_weights(a, p)),
        ("regression_fit.png", lambda p: _regression_fit(a, p)),
    ]
    patterns = list(OUR_PATTERNS)
    for module in figure_sets():  # the figures of model kinds and of searches, one module each
        figure_set = importlib.import_module(module)
        jobs += figure_set.jobs(a)
        patterns += list(figure_set.PATTERNS)
    return jobs, patterns
