"""Statistics over seeds: configurations, mean / std / SEM / 95% t-interval, ranks, curves.

Only this module computes numbers; the writers (_tables, _figures, _html) only format them.
"""

from __future__ import annotations

import functools
import math
import re
import warnings
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..store._snapshot import StudySnapshot
from ._format import config_label, figure_text, legend_keys, value_key, value_text
from ._robust import robust_columns
from ._significance import comparison_note, mean as exact_mean, var as exact_var, versus_best

STAT_SUFFIXES = ("mean", "std", "sem", "ci95_low", "ci95_high")

FIXED_METRICS = (  # the first final metric columns of trials.csv, in this order (when present in the trials frame)
    "train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy",
    "train_mse", "train_rmse", "val_mse", "val_rmse", "test_mse", "test_rmse",
    "train_time_s", "epochs_run",
)


@functools.cache
def final_metrics() -> tuple[str, ...]:
    """The final metric columns of trials.csv, in this order: FIXED_METRICS, then the metrics model kinds add
    (test_nmi, test_mae, test_fd, ...). The model kinds are imported here, not on import: the process that only
    tests (report/_early_tests.py) never needs them."""
    from ..kinds import added_metrics

    return FIXED_METRICS + tuple(m for m in added_metrics() if m not in FIXED_METRICS)


HIGHER_WORDS = ("f1", "auc", "precision", "recall", "r2", "iou", "dice")  # whole words of a metric's name


def higher_is_better(metric: str) -> bool:
    """Accuracies, NMI, pseudo-likelihoods and explained variance are higher-is-better, and so are the
    metrics a training function may report with F1, AUC, precision, recall, R2, IoU or Dice as a word of
    their name (``val_f1``, ``test_auc``); every other metric is lower-is-better."""
    return (any(word in metric for word in ("accuracy", "nmi", "pll", "explained_variance"))
            or any(word in HIGHER_WORDS for word in re.split(r"[_/.\-]", metric.lower())))


def describe(values, interval: bool = True) -> dict[str, float]:
    """mean, sample std, SEM and the 95% t-interval of the finite values given.

    n = 0: all NaN. n = 1: the mean only. A zero SEM (all seeds agree) gives the degenerate
    interval [mean, mean] instead of scipy's NaN. ``interval=False`` leaves the interval NaN (no scipy).
    """
    x = np.asarray(pd.to_numeric(pd.Series(values, dtype=object), errors="coerce"), dtype=float)
    x = x[np.isfinite(x)]
    nan = float("nan")
    out = dict.fromkeys(STAT_SUFFIXES, nan)
    n = len(x)
    if n == 0:
        return out
    mean = exact_mean(x)  # equal for the same values in any order: equal means share a rank
    out["mean"] = mean
    if n == 1:
        return out
    std = math.sqrt(exact_var(x))  # 0 when the seeds agree (np.std leaves ~1e-16 for 0.7 six times)
    sem = std / math.sqrt(n)
    out["std"], out["sem"] = std, sem
    if sem == 0:
        out["ci95_low"] = out["ci95_high"] = mean
    elif interval:
        from scipy.special import stdtrit  # here: a figure worker forks before scipy is imported

        with warnings.catch_warnings():  # scipy.stats.t.interval(0.95, n - 1, loc=mean, scale=sem), bit for bit
            warnings.simplefilter("ignore", RuntimeWarning)
            lo, hi = (stdtrit(n - 1, q) * sem + mean for q in ((1.0 - 0.95) / 2, (1.0 + 0.95) / 2))
        out["ci95_low"], out["ci95_high"] = float(lo), float(hi)
    return out


@dataclass
class Analysis:
    """Everything the writers need, computed once from a snapshot."""

    snap: StudySnapshot
    keys: list[str]  # swept keys
    trials: pd.DataFrame  # the snapshot's trials, with swept keys normalised, plus `config` (int)
    configs: list[dict]  # per configuration: key -> normalised value
    labels: list[str]  # per configuration: "train.lr=0.1, model.hidden=[200, 200]"
    summary: pd.DataFrame  # results.csv (summarize)
    given: list = None  # per configuration: its [[sweep]] label = "..." (None: none), made unique
    focus: int | None = None  # a configuration drawn as if it were the best (report.configurations)
    sections: list = None  # per configuration: its trials' resolved model and train sections (None: not stored)

    def __post_init__(self):
        if self.given is None:
            self.given = [None] * len(self.configs)
        if self.sections is None:
            self.sections = [None] * len(self.configs)

    def unread(self, i: int, key: str) -> bool:
        """Whether configuration i does not read swept ``key`` (momentum for sgd, lr for XGBoost, a DCGAN's
        activation, epochs for a given network: spec/_unread.unread on its resolved sections; without them, the
        optimizer keys from its row and the study file): its results-table cell is left empty, its legend and
        label leave the key out."""
        from ..errors import StudyError
        from ..spec._unread import unread
        from ..spec._unused import unused

        if self.sections[i] is not None:
            try:
                return unread(self.sections[i], key)
            except (StudyError, KeyError):  # a kind no longer installed (a plugin's), an older config: as without
                pass
        return unused(self.configs[i], key, self.snap.spec or {})

    @property
    def labelled(self) -> bool:
        """True when some configuration has a [[sweep]] label (the tables then name each row by it)."""
        return any(self.given)

    @property
    def metric(self) -> str | None:
        return self.snap.metrics[0] if self.snap.metrics else None

    @property
    def rank_metric(self) -> str | None:
        return ranking_metric(self.snap)

    @property
    def done(self) -> pd.DataFrame:
        return self.trials[self.trials["status"] == "done"]

    def ranked(self) -> list[int]:
        """Configuration indices with a rank, best first."""
        r = self.summary["rank"].tolist()
        idx = sorted([i for i in range(len(r)) if not pd.isna(r[i])], key=lambda i: (int(r[i]), i))
        return idx if self.focus is None else [self.focus] + [i for i in idx if i != self.focus]

    def chosen(self) -> list[int]:
        """The configurations of ``report.configurations`` (labels, or numbers from 1 in the results table's
        order), in the order given; [] when the study names none (the figures then show the best)."""
        wanted = ((self.snap.spec or {}).get("report") or {}).get("configurations") or []
        raw = self.trials.dropna(subset=["label"]).groupby("config")["label"].first() \
            if "label" in self.trials.columns else pd.Series(dtype=object)
        out: list[int] = []
        for w in wanted:
            if isinstance(w, str):
                out += [i for i in range(len(self.configs)) if i in raw.index and raw[i] == w]
            elif isinstance(w, int) and 1 <= w <= len(self.configs):
                out.append(w - 1)
        return list(dict.fromkeys(out))

    @property
    def best(self) -> int | None:
        return best_config(self.summary)

    @property
    def tested(self) -> bool:
        """True when at least one configuration could be tested against the best."""
        return bool(self.summary["p_welch"].notna().any()) if len(self.summary) else False

    def comparison_note(self) -> str:
        return comparison_note(self.summary, self.metric, self.labels, self.best)

    def counts(self) -> dict[str, int]:
        c = self.trials["status"].value_counts()
        out = {s: int(c.get(s, 0)) for s in ("done", "failed", "diverged")}
        for s, v in c.items():
            if s not in out:
                out[str(s)] = int(v)
        return out

    def problems(self) -> pd.DataFrame:
        """Failed and diverged trials."""
        return self.trials[self.trials["status"].isin(["failed", "diverged"])]


def _normalised_trials(snap: StudySnapshot) -> pd.DataFrame:
    t = snap.trials.copy() if snap.trials is not None else pd.DataFrame()
    for col, default in (("trial_id", ""), ("seed", None), ("status", "pending"), ("error", None)):
        if col not in t.columns:
            t[col] = default
    t["status"] = t["status"].fillna("pending").astype(str)
    t["error"] = [e.split("\n", 1)[0] if isinstance(e, str) else e for e in t["error"]]  # the traceback: nnstudy show
    for k in snap.swept_keys:
        if k not in t.columns:
            t[k] = None
        t[k] = pd.Series([value_key(v) for v in t[k]], index=t.index, dtype=object)
    return t.reset_index(drop=True)


def analyze(snap: StudySnapshot, tests: bool = True) -> Analysis:
    """Everything the writers need. ``tests=False`` is enough for the figures: the summary has its means,
    standard errors and ranks but no 95% intervals (NaN) and no columns after ``rank`` (Welch, Holm, paired
    tests, bootstrap, power), which need scipy; ``add_tests`` completes it, as write_report does while its
    figures are drawn."""
    keys = list(snap.swept_keys)
    t = _normalised_trials(snap)
    index: dict[tuple, int] = {}
    configs: list[dict] = []
    cfg = []
    for row in t[keys].itertuples(index=False, name=None) if keys else [()] * len(t):
        if row not in index:
            index[row] = len(configs)
            configs.append(dict(zip(keys, row)))
        cfg.append(index[row])
    if not configs and not keys:
        configs.append({})  # no trials, no keys: one (empty) configuration
    t["config"] = pd.Series(cfg, index=t.index, dtype=int)
    first = t.groupby("config")["trial_id"].first() if len(t) else {}
    a = Analysis(snap, keys, t, configs, [], None, sections=[snap.sections.get(first[i]) if i in first else None
                                                             for i in range(len(configs))])
    a.given = given_labels(a)
    a.labels = read_labels(a)
    a.summary = _summary_of(a, tests)
    return a


def add_tests(a: Analysis) -> None:
    """Complete the summary of ``analyze(snap, tests=False)``: the same as ``analyze(snap)``'s."""
    a.summary = _summary_of(a, True)


def _summary_of(a: Analysis, tests: bool) -> pd.DataFrame:
    summary = _summary(a.snap, a.keys, a.trials, a.configs, tests)
    if any(a.given):  # results.csv names each row by its label (issue 19 item 4)
        summary.insert(0, "label", [g or "" for g in a.given])
    return summary


def read_labels(a: Analysis) -> list[str]:
    """Each configuration's name in tables and notes: its [[sweep]] label, else its swept keys and values, less the
    keys it does not read (whose cell its row of the results table leaves empty: 'train.optimizer=sgd', no
    momentum), unless that leaves two configurations one name."""
    full = [config_label(c, a.keys) for c in a.configs]
    kept = [[k for k in a.keys if not a.unread(i, k)] for i in range(len(a.configs))]
    read = [config_label(c, k) if k else f for c, k, f in zip(a.configs, kept, full)]
    count = Counter(read)
    names = [r if count[r] == 1 else f for r, f in zip(read, full)]
    return [g or n for g, n in zip(a.given, names)]


def given_labels(a: Analysis) -> list[str | None]:
    """Each configuration's [[sweep]] label (the first its trials carry), None where it has none. A label its
    table gives several configurations is followed by the keys that tell them apart, less those whose cell its
    row of the results table leaves empty (a key it lacks or does not read): 'Wide (hidden=[64])'."""
    t, configs = a.trials, a.configs
    if "label" not in t.columns:
        return [None] * len(configs)
    first = t.dropna(subset=["label"]).groupby("config")["label"].first()
    given = [str(first[i]) if i in first.index and str(first[i]) else None for i in range(len(configs))]
    out = list(given)
    for name in {g for g in given if g and given.count(g) > 1}:
        rows = [i for i, g in enumerate(given) if g == name]
        short = legend_keys([configs[i] for i in rows], a.keys)
        for i in rows:
            shown = [f"{short[k]}={figure_text(configs[i][k])}" for k in short
                     if value_text(configs[i][k]) != "" and not a.unread(i, k)]
            out[i] = f"{name} ({', '.join(shown)})" if shown else name
    return out


def _summary(snap, keys, t, configs, tests: bool = True) -> pd.DataFrame:
    done = t[t["status"] == "done"]
    rows = []
    for i, c in enumerate(configs):
        d = done[done["config"] == i]
        row = {k: c[k] for k in keys}
        row["n"] = len(d)
        for m in snap.metrics:
            s = describe(d[m] if m in d.columns else [], tests)
            for suf in STAT_SUFFIXES:
                row[f"{m}_{suf}"] = s[suf]
        rows.append(row)
    cols = list(keys) + ["n"] + [f"{m}_{s}" for m in snap.metrics for s in STAT_SUFFIXES]
    out = pd.DataFrame(rows, columns=cols)
    for k in keys:
        out[k] = out[k].astype(object)
    out["n"] = out["n"].astype(int)
    rank = pd.array([pd.NA] * len(out), dtype="Int64")
    if snap.metrics and len(out):
        m = ranking_metric(snap)
        means = out[f"{m}_mean"] if f"{m}_mean" in out else pd.Series(
            [describe(done.loc[done["config"] == i, m])["mean"] for i in range(len(out))], index=out.index)
        means = means.where(out["n"] > 0)
        r = means.rank(method="min", ascending=not higher_is_better(m))
        rank = pd.array([pd.NA if pd.isna(v) else int(v) for v in r], dtype="Int64")
    out["rank"] = rank
    if not tests:
        return out
    vs = _versus_best(snap, done, out)
    return pd.concat([out, vs, _robust(snap, done, out, vs)], axis=1)


def ranking_metric(snap: StudySnapshot) -> str | None:
    """The metric the report ranks and chooses the best on (issue 20 item 6: choose on validation, report on
    test): the first report metric, or for a test metric its validation counterpart (``test_accuracy`` ranks
    on ``val_accuracy``) when the trials record it. The comparison columns stay on the first metric, against
    the configuration chosen this way."""
    if not snap.metrics:
        return None
    m = snap.metrics[0]
    val = "val_" + m[len("test_"):]
    t = snap.trials
    if m.startswith("test_") and t is not None and val in t.columns and \
            pd.to_numeric(t[val], errors="coerce").notna().any():
        return val
    return m


def _versus_best(snap, done, out) -> pd.DataFrame:
    """The comparison columns (after rank): each configuration against the best by the first metric."""
    if not snap.metrics or not len(out):
        return versus_best([np.array([])] * len(out), None)
    m = snap.metrics[0]
    groups = []
    for i in range(len(out)):
        v = done.loc[done["config"] == i, m] if m in done else []
        v = np.asarray(pd.to_numeric(pd.Series(v, dtype=object), errors="coerce"), dtype=float)
        groups.append(v[np.isfinite(v)])
    return versus_best(groups, best_config(out))


def _robust(snap, done, out, vs) -> pd.DataFrame:
    """The columns after ``tied`` (``_robust.COLUMNS``): paired tests on shared seeds, IQM, bootstrap
    intervals, probability of improvement and power, for the first metric."""
    groups: list[dict] = []
    m = snap.metrics[0] if snap.metrics else None
    for i in range(len(out)):
        g: dict = {}
        if m is not None and m in done:
            d = done[done["config"] == i]
            v = np.asarray(pd.to_numeric(pd.Series(d[m], dtype=object), errors="coerce"), dtype=float)
            replicate = zip(d["seed"], d["fold"]) if "fold" in d else d["seed"]  # data.folds: pairs are (seed, fold)
            for seed, x in zip(replicate, v):
                if np.isfinite(x) and not pd.isna(np.asarray(seed, dtype=float)).any() and seed not in g:
                    g[seed] = float(x)  # one value per seed (per seed and fold)
        groups.append(g)
    return robust_columns(groups, best_config(out) if m is not None else None,
                          higher_is_better(m) if m is not None else True, vs["p_welch"].to_numpy(float))


def best_config(summary: pd.DataFrame) -> int | None:
    """Index of the best configuration (rank 1; the first one when several share it), or None."""
    r = summary["rank"].tolist()  # Analysis.best asks this for every cell of some tables: no .iloc per row
    return next((i for i in range(len(r)) if not pd.isna(r[i]) and int(r[i]) == 1), None)


def timing(trials: pd.DataFrame) -> tuple[float, float]:
    """(wall-clock seconds from the first start to the last finish, training seconds summed over
    trials); NaN where the store has no times."""
    nan = float("nan")
    wall = nan
    if {"started_at", "finished_at"} <= set(trials.columns):
        start = pd.to_datetime(trials["started_at"], errors="coerce", utc=True, format="ISO8601").min()
        end = pd.to_datetime(trials["finished_at"], errors="coerce", utc=True, format="ISO8601").max()
        if not (pd.isna(start) or pd.isna(end)):
            wall = max(0.0, (end - start).total_seconds())
    train = nan
    if "train_time_s" in trials.columns:
        v = pd.to_numeric(trials["train_time_s"], errors="coerce")
        train = float(v[np.isfinite(v)].sum()) if np.isfinite(v).any() else nan
    return wall, train


def summarize(snap: StudySnapshot) -> pd.DataFrame:
    """The results table (results.csv): one row per configuration, in order of first appearance.

    Columns: each swept key, ``n`` (done trials), ``<m>_mean, <m>_std, <m>_sem, <m>_ci95_low,
    <m>_ci95_high`` for every report metric, then ``rank`` (1 = best by the first metric, or by its
    validation counterpart when the first is a test metric: ``ranking_metric``; missing for configurations
    without a done trial), then the comparison with the best
    configuration in the first metric: ``diff_to_best`` (mean minus the best mean), ``p_welch``
    (Welch's t-test, two-sided), ``p_holm`` (Holm-corrected over all comparisons) and ``tied``
    (not significantly different from the best at alpha = 0.05; empty for the best itself and
    for configurations with fewer than two seeds). After them ``_robust.COLUMNS``: the test used
    (paired on shared seeds, else Welch) and its p-values, robust summaries and power
    (docs/statistics.md).
    """
    return analyze(snap).summary


def trials_table(snap: StudySnapshot) -> pd.DataFrame:
    """The trials table (trials.csv): trial_id, seed, (fold, with data.folds), status, swept keys, final
    metrics, error, then the conditions each trial ran under (report/_conditions.COLUMNS)."""
    t = _normalised_trials(snap)
    metrics = [m for m in final_metrics() if m in t.columns]
    metrics += [m for m in snap.metrics if m in t.columns and m not in metrics]
    cols = ["trial_id", "seed", *(["fold"] if "fold" in t.columns else []), "status", *snap.swept_keys, *metrics,
            "error"]  # fold: data.folds only
    out = t[cols].copy()
    for c in ("seed", "fold", "epochs_run"):  # integers stay integers next to missing values
        if c in out.columns:
            out[c] = _as_int(out[c])
    from ._conditions import condition_columns  # then device, threads, host, versions (store v3)

    return pd.concat([out, condition_columns(snap, list(out["trial_id"]))], axis=1)


def _as_int(col: pd.Series) -> pd.Series:
    v = pd.to_numeric(col, errors="coerce")
    ok = v.notna()
    if (v[ok] == v[ok].round()).all() and (col.notna() == ok).all():
        return v.astype("Int64")
    return col


def history_of(snap: StudySnapshot, trial_ids) -> pd.DataFrame:
    """History rows of the given trials (empty frame when there is none)."""
    h = snap.history
    need = {"trial_id", "epoch", "metric", "value"}
    if h is None or len(h) == 0 or not need <= set(h.columns):
        return pd.DataFrame(columns=sorted(need))
    return h[h["trial_id"].isin(list(trial_ids))]


def epoch_curve(hist: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per epoch: mean, SEM and count over the trials present at that epoch.

    `hist` is the long history of the trials to average. Trials that stopped early simply
    drop out of later epochs. Non-finite values are ignored.
    """
    h = hist[hist["metric"] == metric]
    if h.empty:
        return pd.DataFrame(columns=["epoch", "mean", "sem", "n"])
    v = pd.to_numeric(h["value"], errors="coerce")
    h = h.assign(value=v, epoch=pd.to_numeric(h["epoch"], errors="coerce"))
    h = h[np.isfinite(h["value"]) & h["epoch"].notna()]
    # one value per trial and epoch (the last one recorded)
    h = h.groupby(["epoch", "trial_id"], sort=True)["value"].last().reset_index()
    g = h.groupby("epoch")["value"]
    out = pd.DataFrame({"mean": g.mean(), "sem": g.sem(ddof=1), "n": g.count()}).reset_index()
    return out.sort_values("epoch").reset_index(drop=True)


SECOND_HALF = ("grad_norm/D.", "grad_norm/dec")  # a GAN's discriminator, an autoencoder's decoder


def grad_layers(hist: pd.DataFrame) -> list[str]:
    """Metric names 'grad_norm/<layer>', input side first: the store keeps no order, so names sort with
    their numbers as numbers (hidden2 before hidden10), ``output`` last, encoder before decoder and
    generator before discriminator."""
    if hist.empty:
        return []
    names = hist["metric"].astype(str)
    layers = dict.fromkeys(n for n in names if n.startswith("grad_norm/"))
    return sorted(layers, key=lambda n: (n == "grad_norm/output", n.startswith(SECOND_HALF),
                                         [(0, int(p), "") if p.isdigit() else (1, 0, p)
                                          for p in re.split(r"(\d+)", n)]))
