"""A [search] with --stack on (on the CPU too) trains each batch of proposed configurations as stacks (issue 16
item 5, "and its stacks on a GPU"): without a pruner the batch goes through the executor's planner (one stack of
all its trials), with the median pruner through the lockstep runner (one stack of a configuration's seeds, the
pruner asked between its epochs). The stacks formed are counted from the conditions each trial stored (stacked:
the size of the stack it trained in)."""

import io
from collections import Counter

import pytest
from rich.console import Console

import nnstudy
from nnstudy.store import Store

SEARCH = {"study": {"name": "search-stack"}, "data": {"name": "iris"}, "model": {"hidden": [4]},
          "train": {"epochs": 2, "batch_size": 32}, "trials": {"seeds": 2},
          "search": {"method": "grid", "trials": 2, "batch": 2, "space": {"train.lr": {"choices": [0.3, 0.03]}}}}


@pytest.mark.parametrize("pruner, stacks", [("none", {4: 1}), ("median", {2: 2})])
def test_each_proposed_batch_trains_as_stacks(tmp_path, pruner, stacks):
    """stacks: {trials in a stack: how many such stacks}; 2 configurations x 2 seeds, proposed together."""
    log = io.StringIO()
    spec = {**SEARCH, "search": {**SEARCH["search"], "pruner": pruner}}
    nnstudy.run(spec, store=tmp_path / "runs", workers=1, stack="on", console=Console(file=log, width=300))
    snap = Store(tmp_path / "runs", create=False).snapshot("search-stack", artifacts=False)
    assert len(snap.trials) == 4 and (snap.trials.status == "done").all(), log.getvalue()
    sizes = Counter(snap.conditions[t].get("stacked") for t in snap.trials.trial_id)
    assert {size: n // size for size, n in sizes.items()} == stacks, log.getvalue()


@pytest.mark.parametrize("seeds, stacks", [(2, {None: 4}), (3, {3: 2})])
def test_by_default_the_cpu_lockstep_stacks_three_or_more_seeds_of_an_mlp(tmp_path, seeds, stacks):
    """--stack auto with the median pruner: two seeds take turns in threads, three train as one stack."""
    spec = {**SEARCH, "trials": {"seeds": seeds}, "search": {**SEARCH["search"], "pruner": "median"}}
    nnstudy.run(spec, store=tmp_path / "runs", workers=1, console=Console(file=io.StringIO()))
    snap = Store(tmp_path / "runs", create=False).snapshot("search-stack", artifacts=False)
    assert len(snap.trials) == 2 * seeds and (snap.trials.status == "done").all()
    sizes = Counter(snap.conditions[t].get("stacked") for t in snap.trials.trial_id)
    assert {size: n // (size or 1) for size, n in sizes.items()} == stacks
