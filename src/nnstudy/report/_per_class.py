"""Per-class precision, recall, F1 and support of a classifier (issue 19 item 6), from the test predictions its
trial stored (predictions.npz): the numbers of scikit-learn's classification_report on the same predictions
(zero_division = 0), for the best configuration or each of ``report.configurations``, the trial with the lowest
seed of each."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._stats import Analysis

HEADER = ("class", "precision", "recall", "F1", "support")


@dataclass
class PerClass:
    config: int
    seed: int
    rows: list[tuple[str, float, float, float, int]]  # each class, then macro avg and weighted avg
    accuracy: float


def scores(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> tuple[list[tuple], float]:
    """([(class, precision, recall, F1, support)] for each class, then 'macro avg' and 'weighted avg'), accuracy."""
    k = len(classes)
    cm = np.bincount(y_true.astype(np.int64) * k + y_pred.astype(np.int64), minlength=k * k).reshape(k, k)
    tp, predicted, support = np.diag(cm).astype(float), cm.sum(0).astype(float), cm.sum(1)
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=precision + recall > 0)
    rows = [(c, float(p), float(r), float(f), int(n)) for c, p, r, f, n in zip(classes, precision, recall, f1, support)]
    total = int(support.sum())
    rows.append(("macro avg", float(precision.mean()), float(recall.mean()), float(f1.mean()), total))
    w = support / max(total, 1)
    rows.append(("weighted avg", float(w @ precision), float(w @ recall), float(w @ f1), total))
    return rows, float(tp.sum() / max(total, 1))


def per_class(a: Analysis) -> list[PerClass]:
    """One table per chosen configuration (the best when the study chooses none) whose trials stored test
    predictions."""
    from ._figures import iter_picks

    wanted = a.chosen() or [i for i in a.ranked()[:1]]
    ranked = set(a.ranked())
    picks = {i: (row, d) for i, row, d in iter_picks(a, "predictions.npz", [i for i in wanted if i in ranked])}
    out = []
    for i in wanted:
        if i in picks:
            trial, d = picks[i]
            rows, acc = scores(np.asarray(d["y_true"]), np.asarray(d["y_pred"]), [str(c) for c in d["classes"]])
            out.append(PerClass(i, int(trial["seed"]), rows, acc))
    return out


def title(a: Analysis, t: PerClass) -> str:
    return (f"Per-class precision, recall and F1 on the test split: {a.labels[t.config]} (seed {t.seed}, "
            f"accuracy {t.accuracy:.4f})")


def cells(t: PerClass) -> list[list[str]]:
    return [[c, f"{p:.4f}", f"{r:.4f}", f"{f:.4f}", str(n)] for c, p, r, f, n in t.rows]
