"""Selection honesty (issue 20 item 6): the report ranks and chooses on validation and reports the test metric of
the chosen configuration; a study that can only rank on a test metric says so in its header."""

from __future__ import annotations

import pandas as pd

from nnstudy.report._cells import ranking_line, selection_line
from nnstudy.report._stats import analyze
from nnstudy.report._tables import markdown
from nnstudy.store._snapshot import StudySnapshot

# configuration 0 is the best on validation, configuration 1 on test (by luck of the test split)
VAL = {0: [0.90, 0.91, 0.92], 1: [0.85, 0.86, 0.87]}
TEST = {0: [0.80, 0.81, 0.82], 1: [0.84, 0.85, 0.83]}


def _snapshot(with_val: bool, metrics=("test_accuracy", "train_time_s")) -> StudySnapshot:
    rows = []
    for c in (0, 1):
        for seed in range(3):
            row = {"trial_id": f"t{c}{seed}", "seed": seed, "status": "done", "error": None, "train.lr": [0.1, 0.01][c],
                   "test_accuracy": TEST[c][seed], "train_time_s": 1.0}
            if with_val:
                row["val_accuracy"] = VAL[c][seed]
            rows.append(row)
    return StudySnapshot(name="honest", description="", spec={}, source="", task="classification",
                         metrics=list(metrics), swept_keys=["train.lr"], trials=pd.DataFrame(rows),
                         history=pd.DataFrame(columns=["trial_id", "epoch", "metric", "value"]))


def test_a_test_metric_first_ranks_and_chooses_on_validation():
    a = analyze(_snapshot(with_val=True))
    assert a.rank_metric == "val_accuracy" and a.metric == "test_accuracy"
    assert a.summary["rank"].tolist() == [1, 2] and a.best == 0  # chosen on validation, not on test
    s = a.summary
    assert s.loc[0, "test_accuracy_mean"] == pd.Series(TEST[0]).mean()  # the chosen one's test score, reported
    assert s.loc[1, "diff_to_best"] == pd.Series(TEST[1]).mean() - pd.Series(TEST[0]).mean()  # > 0: honest
    assert "rank by mean val_accuracy (higher is better; chosen on validation" in ranking_line(a)
    assert selection_line(a) == ""
    assert "ranks and chooses" not in markdown(a, {})


def test_a_study_without_a_validation_metric_says_it_ranks_on_test():
    a = analyze(_snapshot(with_val=False))
    assert a.rank_metric == "test_accuracy" and a.summary["rank"].tolist() == [2, 1]
    line = selection_line(a)
    assert line.startswith("This study ranks and chooses its best configuration on test_accuracy, a test metric")
    md = markdown(a, {})
    assert md.index("ranks and chooses its best configuration on test\\_accuracy") < md.index("## Results")


def test_a_validation_metric_first_ranks_on_itself():
    a = analyze(_snapshot(with_val=True, metrics=("val_accuracy", "test_accuracy")))
    assert a.rank_metric == "val_accuracy" and a.summary["rank"].tolist() == [1, 2] and selection_line(a) == ""
