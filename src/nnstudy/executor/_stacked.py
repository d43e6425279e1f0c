"""Stacked training: trials that share a program train together on one device.

``plan`` splits the pending trials into stacks (same engine group key, at most the engine's maximum
per stack) and the rest, which run one by one as before. ``run_stacks`` trains stacks in the driver's process
(a GPU's, a lone CPU stack, the lockstep); on the CPU the local pool's processes train them beside the other
trials, and Ray's tasks on a cluster. Each stack is claimed, trained with ``engine.train_group``
(executor/_worker.run_stack), and every trial's outcome stored as if it had trained alone. A stack that runs
out of device memory is split in half and tried again.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Callable

from .._sigterm import interrupts_noted
from ..engines import get_engine
from ..kinds import of
from ..spec import Trial
from . import _worker
from ._driver import Driver, RunSummary
from ._progress import StudyProgress


def plan(todo: list[Trial], mode: str, device: str, parts: int = 1, workers: int | None = None,
         step_size: Callable[[Trial], int | None] | None = None,
         fill: int = 0) -> tuple[list[list[Trial]], list[Trial]]:
    """(stacks, singles). on stacks wherever two trials share a program; auto on CUDA too, and on the CPU dense
    networks (mlp, logistic, perceptron) whose training step is small (``step_size``: its multiply-adds) in
    groups of more trials than ``workers`` (the local pool's processes) and at least three: one process then
    steps them all for about one trial's Python and framework overhead per step, where alone each pays its own.
    Without ``workers`` and ``step_size`` auto stacks on CUDA only.
    parts: split each group into at least that many stacks where it has the trials (one per Ray GPU).
    fill: the processes the stacks train in (the CPU: the local pool's, Ray's slots): groups are split further, into
    stacks of at least two trials, until the stacks and singles give each process one.
    On the CPU a stack costs about its trials x its longest budget, so trials stack there only with
    trials of the same number of epochs; on a GPU a stack costs its longest budget whatever its size."""
    cuda = device.startswith("cuda")
    cpu_auto = mode == "auto" and not cuda
    if mode == "off" or (cpu_auto and (workers is None or step_size is None)):
        return [], list(todo)
    groups: dict[tuple[str, object, int | None], list[Trial]] = defaultdict(list)
    singles: list[Trial] = []
    for trial in todo:
        engine = get_engine(trial.config["train"]["engine"])
        dense = of(trial.config["model"]).stacking == "mlp"  # auto on the CPU stacks the MLP family only
        key = engine.group_key(trial) if hasattr(engine, "train_group") and (dense or not cpu_auto) else None
        if key is None:
            singles.append(trial)
        else:
            epochs = None if cuda else trial.config["train"]["epochs"]
            groups[(engine.name, key, epochs)].append(trial)
    stackable = []
    for (name, _, _), members in groups.items():
        # a group shares its data, network and batch: one member's step is every member's
        if len(members) < 2 or (cpu_auto and (len(members) <= max(2, workers or 1)
                                              or not _small_step(members[0], step_size))):
            singles += members
        else:
            stackable.append((name, members))
    idle = fill - len(stackable) - len(singles)
    if stackable and idle > 0:
        parts = max(parts, 1 + -(-idle // len(stackable)))
    stacks = [chunk for name, members in stackable
              for chunk in _chunks(members, parts, get_engine(name).max_group(device))]
    singles.sort(key=todo.index)
    return stacks, singles


def _chunks(members: list[Trial], parts: int, largest: int) -> list[list[Trial]]:
    """`members` in consecutive stacks of sizes that differ by one at most: `parts` of them where each then
    has two trials or more, else fewer, and more where a stack would exceed `largest`."""
    n = len(members)
    count = max(1, min(parts, n // 2), -(-n // largest))
    size, more = divmod(n, count)
    starts = [i * size + min(i, more) for i in range(count + 1)]
    return [members[a:b] for a, b in zip(starts, starts[1:])]


CPU_STACK_MAX_STEP = 500_000  # multiply-adds of a trial's step (batch x weights) that a CPU stack pays off at:
# on 2 cores a 6 x 16 MLP on moons (23 thousand at batch 16) trained 5x faster stacked (20 trials), the default
# 784-200-200-10 MLP at batch 16 (3.2 million) 10 % slower (3 trials): benchmarks/README.md


def _small_step(trial: Trial, step_size: Callable[[Trial], int | None]) -> bool:
    """auto on the CPU: the trial's training step is small (its data known, at most CPU_STACK_MAX_STEP)."""
    size = step_size(trial)
    return size is not None and size <= CPU_STACK_MAX_STEP


def run_stacks(driver: Driver, stacks: list[list[Trial]], progress: StudyProgress, summary: RunSummary) -> bool:
    """Train and store every stack; True when the study must stop (fail-fast)."""
    def split(size: int) -> None:
        driver.console.print(f"a stack of {size} trials does not fit the device; splitting it in two")

    for stack in stacks:
        stack = [t for t in stack if driver.claim_quietly(t, progress)]
        if not stack:
            continue
        row = f"stack-{stack[0].trial_id}"
        progress.start_stack(row, {t.trial_id: driver.planned(t) for t in stack})
        ended: list[tuple[str, int, dict]] = []  # this epoch's records, stored in one transaction when it ends

        def flush(_epoch: int) -> None:
            try:
                driver.epochs_ended(ended[:], progress)
            except KeyboardInterrupt:
                ours.append(True)
                raise
            ended.clear()

        signalled: list[int] = []  # Ctrl-C or SIGTERM while the stack trained
        ours: list[bool] = []  # the run stopped while this process stored an epoch
        try:
            with interrupts_noted(signalled):  # Ctrl-C: the executor hands the stack back
                outcomes = _worker.run_stack(stack, driver.device,
                                             lambda tid, epoch, metrics: ended.append((tid, epoch, dict(metrics))),
                                             split, flush, driver.checkpoint_of(stack), ended.append)
        except KeyboardInterrupt as e:
            if signalled or ours:
                raise
            outcomes = [(None, _worker.raised_by_study(e, stack, "stack"))] * len(stack)
        progress.end_stack(row)
        stop = False
        for trial, (result, error) in zip(stack, outcomes):  # all of a trained stack is kept, even under fail-fast
            ran = driver.conditions(len(stack), threads=driver.alone_threads)
            stop = driver.record(trial, result, error, progress, summary, ran) or stop
        if stop:
            return True
    return False
