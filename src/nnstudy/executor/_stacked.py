"""Stacked training in the driver's process: trials that share a program train together on one device.

``plan`` splits the pending trials into stacks (same engine group key, at most the engine's maximum
per stack) and the rest, which run one by one as before. Each stack is claimed, trained with
``engine.train_group``, and every trial's outcome stored as if it had trained alone. A stack that
runs out of device memory is split in half and tried again.
"""

from __future__ import annotations

import traceback
from collections import defaultdict

from ..engines import get_engine
from ..spec import Trial
from . import _worker
from ._driver import Driver, RunSummary
from ._progress import StudyProgress

STACK_MODES = ("auto", "on", "off")


def plan(todo: list[Trial], mode: str, device: str, parts: int = 1) -> tuple[list[list[Trial]], list[Trial]]:
    """(stacks, singles). auto stacks on CUDA only; on stacks wherever two trials share a program.
    parts: split each group into at least that many stacks where it has the trials (one per Ray GPU).
    On the CPU a stack costs about its trials x its longest budget, so trials stack there only with
    trials of the same number of epochs; on a GPU a stack costs its longest budget whatever its size."""
    if mode == "off" or (mode == "auto" and not device.startswith("cuda")):
        return [], list(todo)
    groups: dict[tuple[str, object, int | None], list[Trial]] = defaultdict(list)
    singles: list[Trial] = []
    for trial in todo:
        engine = get_engine(trial.config["train"]["engine"])
        key = engine.group_key(trial) if hasattr(engine, "train_group") else None
        if key is None:
            singles.append(trial)
        else:
            epochs = None if device.startswith("cuda") else trial.config["train"]["epochs"]
            groups[(engine.name, key, epochs)].append(trial)
    stacks = []
    for (name, _, _), members in groups.items():
        if len(members) < 2:
            singles += members
            continue
        size = min(get_engine(name).max_group(device), max(2, -(-len(members) // parts)))
        stacks += [members[i:i + size] for i in range(0, len(members), size)]
    singles.sort(key=todo.index)
    return stacks, singles


def run_stacks(driver: Driver, stacks: list[list[Trial]], progress: StudyProgress, summary: RunSummary) -> bool:
    """Train and store every stack; True when the study must stop (fail-fast)."""
    queue = list(stacks)
    while queue:
        stack = [t for t in queue.pop(0) if driver.claim_quietly(t, progress)]
        if not stack:
            continue
        row = f"stack-{stack[0].trial_id}"
        progress.start_stack(row, [t.trial_id for t in stack], max(t.config["train"]["epochs"] for t in stack))
        try:
            results, error = _train(stack, driver.device, progress), None
        except _OutOfMemory as e:
            if len(stack) > 1:
                driver.store.release(driver.study, [t.trial_id for t in stack])
                half = len(stack) // 2
                queue[:0] = [stack[:half], stack[half:]]
                progress.end_stack(row)
                driver.console.print(f"a stack of {len(stack)} trials does not fit the device; splitting it in two")
                continue
            results, error = [None], str(e)
        except KeyboardInterrupt:
            driver.hand_back(stack)
            raise
        except Exception as e:  # a stack's failure is recorded for each of its trials
            results, error = [None] * len(stack), one_line(e)
        progress.end_stack(row)
        stop = False
        for trial, result in zip(stack, results):  # all of a trained stack is kept, even under fail-fast
            stop = driver.record(trial, result, error, progress, summary) or stop
        if stop:
            return True
    return False


class _OutOfMemory(Exception):
    pass


def _train(stack: list[Trial], device: str, progress: StudyProgress):
    import torch

    data = _worker.load_data(stack[0].config["data"])
    engine = get_engine(stack[0].config["train"]["engine"])
    try:
        return engine.train_group(stack, data, lambda tid, epoch, _m: progress.epoch(tid, epoch), device)
    except torch.cuda.OutOfMemoryError as e:
        torch.cuda.empty_cache()
        raise _OutOfMemory(one_line(e)) from None


def one_line(e: BaseException) -> str:
    where = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
    at = f" ({where.filename.rsplit('/', 1)[-1]}:{where.lineno})" if where else ""
    return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}{at}"
