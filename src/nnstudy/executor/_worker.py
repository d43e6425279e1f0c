"""What runs inside a worker process: load the data once per config, train, report epochs back."""

from __future__ import annotations

import json
import os
import traceback
from typing import Any

from ..spec import Trial

_queue: Any = None
_data_cache: dict[str, Any] = {}


def init_worker(queue: Any, threads: int) -> None:
    global _queue
    _queue = queue
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    import torch

    torch.set_num_threads(threads)


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


def run_trial(trial: Trial, device: str, report: Any = None):
    """Returns (TrialResult | None, error line | None). Never raises for a trial's own failure."""
    from ..engines import get_engine

    def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
        message = (trial.trial_id, epoch, metrics.get("train_loss"))
        if report is not None:
            report(message)
        elif _queue is not None:
            _queue.put(message)

    try:
        data = load_data(trial.config["data"])
        return get_engine(trial.config["train"]["engine"]).train(trial, data, on_epoch, device), None
    except KeyboardInterrupt:
        raise
    except Exception as e:  # a trial's failure is data for the store, not a crash of the study
        where = traceback.extract_tb(e.__traceback__)[-1]
        return None, f"{type(e).__name__}: {e} ({os.path.basename(where.filename)}:{where.lineno})"


def run_stack(trials: list[Trial], device: str) -> list[tuple[Any, str | None]]:
    """Trains `trials` as one stacked program (engine.train_group), in a worker without a driver at hand:
    a stack that runs out of device memory is split in half here. One (TrialResult | None, error) each."""
    import torch

    from ..engines import get_engine
    from ._stacked import one_line

    try:
        engine = get_engine(trials[0].config["train"]["engine"])
        results = engine.train_group(trials, load_data(trials[0].config["data"]), lambda *_: None, device)
        return [(r, None) for r in results]
    except torch.cuda.OutOfMemoryError as e:
        torch.cuda.empty_cache()
        if len(trials) == 1:
            return [(None, one_line(e))]
        half = len(trials) // 2
        return run_stack(trials[:half], device) + run_stack(trials[half:], device)
    except KeyboardInterrupt:
        raise
    except Exception as e:  # the stack's failure is recorded for each of its trials
        return [(None, one_line(e))] * len(trials)
