"""What runs inside a worker process: load the data once per config, train, report epochs back."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
import time
import traceback
from typing import Any

from .._sigterm import interrupts_noted
from .._userfiles import Exited, error_line, message
from ..spec import Trial

_queue: Any = None
_data_cache: dict[str, Any] = {}


def init_worker(queue: Any, threads: int) -> None:
    global _queue
    _queue = queue
    from ._threads import set_process_threads

    set_process_threads(threads)


def init_pool_worker(queue, threads: int, driver_pid: int) -> None:
    """A pool worker dies with its driver: a parent-death signal (Linux), and a watchdog on the parent's pid
    (everywhere; also when the driver died before the signal was set)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != driver_pid:
        os._exit(1)
    # Ctrl-C reaches the whole process group: the driver hands the trials back and ends the pool (SIGTERM), so a
    # worker's own KeyboardInterrupt would only print a traceback from multiprocessing (_spawn.py blocked it so far)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    threading.Thread(target=_watch_driver, args=(driver_pid,), name="nnstudy-driver-watch", daemon=True).start()
    init_worker(queue, threads)
    import atexit
    import gc

    atexit.register(gc.freeze)  # at the pool's end: its objects are left to the exit, not collected one by one


def _watch_driver(driver_pid: int, every_s: float = 1.0) -> None:
    while True:
        time.sleep(every_s)
        if os.getppid() != driver_pid:  # re-parented: the driver is gone
            os._exit(1)


def load_data(data_cfg: dict[str, Any]):
    key = json.dumps(data_cfg, sort_keys=True)
    if key not in _data_cache:
        from ..data import load
        from ..spec._schema import DataConfig

        _data_cache.clear()
        _data_cache[key] = load(DataConfig.model_validate(data_cfg))
    return _data_cache[key]


def preload(data_cfg: dict[str, Any], data: Any) -> None:
    _data_cache.clear()
    _data_cache[json.dumps(data_cfg, sort_keys=True)] = data


def run_trial(trial: Trial, device: str, report: Any = None, resume: dict[str, bytes] | None = None):
    """Returns (TrialResult | None, error line | None). Never raises for a trial's own failure. resume: the
    trial's stored checkpoint (engines/_checkpoint.py); new ones go to the driver like the epochs."""
    from ..engines import get_engine
    from ..engines._checkpoint import Saved, channel

    signalled: list[int] = []  # Ctrl-C or SIGTERM while the trial trained
    ours: list[bool] = []  # the driver stopped the run while it showed or stored an epoch

    def send(message: Any) -> None:  # the driver shows epochs and writes them (and checkpoints) to the store
        try:
            if report is not None:
                report(message)
            elif _queue is not None:
                _queue.put(message)
        except KeyboardInterrupt:
            ours.append(True)
            raise

    def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
        send((trial.trial_id, epoch, dict(metrics)))

    try:
        data = load_data(trial.config["data"])
        with channel(resume, lambda blobs: send(Saved(trial.trial_id, blobs))), interrupts_noted(signalled):
            return get_engine(trial.config["train"]["engine"]).train(trial, data, on_epoch, device), None
    except KeyboardInterrupt as e:
        if signalled or ours:
            raise
        return None, raised_by_study(e, [trial], "trial")  # the run goes on
    except Exception as e:  # a trial's failure is data for the store, not a crash of the study
        return None, failure(e, [trial])


def run_stack(trials: list[Trial], device: str, on_epoch: Any = None, on_split: Any = None,
              epoch_end: Any = None, resume: dict[str, bytes] | None = None,
              save: Any = None) -> list[tuple[Any, str | None]]:
    """Trains `trials` as one stacked program (engine.train_group); one (TrialResult | None, error) each.
    A stack that runs out of device memory is split in half here (``on_split(size)`` is told) and each half
    tried again. on_epoch(trial_id, epoch, metrics) as engine.train_group calls it; epoch_end(epoch) after
    every epoch that leaves a trial of the stack still training (engine.train_group's ``stop``, which it
    never stops here). resume: the stack's stored checkpoint; save(Saved) takes each new one (a stack's is kept
    under its first trial)."""
    import torch

    from ..engines import get_engine
    from ..engines._checkpoint import Saved, channel

    try:
        engine = get_engine(trials[0].config["train"]["engine"])

        def stop(epoch: int) -> bool:
            epoch_end(epoch)
            return False

        with channel(resume, lambda blobs: save(Saved(trials[0].trial_id, blobs)) if save else None):
            results = engine.train_group(trials, load_data(trials[0].config["data"]), on_epoch or (lambda *_: None),
                                         device, **({} if epoch_end is None else {"stop": stop}))
        return [(r, None) for r in results]
    except torch.cuda.OutOfMemoryError as e:
        torch.cuda.empty_cache()
        if len(trials) == 1:
            return [(None, one_line(e))]
        if on_split is not None:
            on_split(len(trials))
        half = len(trials) // 2
        return (run_stack(trials[:half], device, on_epoch, on_split, epoch_end, None, save)
                + run_stack(trials[half:], device, on_epoch, on_split, epoch_end, None, save))
    except KeyboardInterrupt:
        raise
    except Exception as e:  # the stack's failure is recorded for each of its trials
        return [(None, failure(e, trials))] * len(trials)


def run_stack_in_pool(trials: list[Trial], device: str, resume: dict[str, bytes] | None = None):
    """``run_stack`` in a pool's process: each epoch's records, and each checkpoint, go to the driver as they
    come (init_pool_worker's queue)."""
    try:
        return run_stack(trials, device, lambda tid, epoch, metrics: _queue.put((tid, epoch, dict(metrics))),
                         resume=resume, save=_queue.put)
    except KeyboardInterrupt as e:  # a pool's process ignores SIGINT: the study's own code raised it
        return [(None, raised_by_study(e, trials, "stack"))] * len(trials)


def raised_by_study(e: KeyboardInterrupt, trials: list[Trial], what: str) -> str:
    """The failure of `trials` whose own code raised `e` (no Ctrl-C, no SIGTERM) while their `what` trained."""
    own = Exited(f"the study's code raised {error_line(e)} while the {what} trained (not Ctrl-C)")
    return failure(own.with_traceback(e.__traceback__), trials)


def one_line(e: BaseException) -> str:
    """An exception as one line: its type, the first line of its message, where it was raised."""
    where = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
    at = f" ({os.path.basename(where.filename)}:{where.lineno})" if where else ""
    text = message(e)
    return f"{type(e).__name__}: {text.splitlines()[0] if text else ''}{at}"


def failure(e: BaseException, trials: list[Trial]) -> str:
    """What the store keeps of a failed trial: ``one_line(e)`` (what the progress shows), then the full
    traceback (what ``nnstudy show`` prints). Frames in a cached copy of a study's file are named by the
    file's name in the study (``train.py``), not by its place in the cache."""
    text = one_line(e) + "\n" + "".join(traceback.format_exception(type(e), e, e.__traceback__)).rstrip()
    from .. import _userfiles

    for ref, sha in {r for t in trials for r in _userfiles.code_refs(t.config)}:
        rel = ref.split(":", 1)[0]
        text = re.sub(rf'"[^"\n]*{sha}"', f'"{rel}"', text).replace(sha, rel)  # wherever it was imported from
    return text
