"""Engine "function": the user's own training loop (``[train] function``, or ``nnstudy.run(train=fn)``).

    def train(config, seed, data, report):
        # config: the trial's resolved sections {"data": ..., "model": ..., "train": {..., "args": {...}}}
        # seed: the trial's seed (random, numpy.random and, when imported, torch are seeded with it too)
        # data: the loaded Dataset (x_train, y_train, x_val, y_val, x_test, y_test, classes, task,
        #       input_shape); its arrays are read-only views shared by the trials of a worker
        for epoch in range(1, config["train"]["epochs"] + 1):
            ...
            report(epoch, train_loss=..., val_loss=..., val_accuracy=...)
        return {"test_accuracy": ...}          # optional: final metrics

History: one row per reported epoch (a second report of the same epoch adds to its row). Final
metrics: the last reported epoch's, updated by the returned dict. ``train_time_s`` (the call's wall
time) and ``epochs_run`` (epochs reported) are nnstudy's own. A metric that is NaN or infinite ends
the trial as ``diverged`` (``report`` stops the function by raising an exception it should not catch);
any other exception is a ``failed`` trial whose traceback ``nnstudy show`` prints.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import random
import re
import sys
import time
from typing import Any

import numpy as np

from .._sigterm import interrupts_noted
from .._userfiles import exited
from ..spec import Trial
from ._common import diverged as exploded
from ._result import OnEpoch, TrialResult

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_/.-]*$")
OWN = ("train_time_s", "epochs_run")  # measured by nnstudy
RESERVED = ("epoch", "time_s")  # history columns nnstudy writes
MAX_EPOCH = 2**31 - 1  # the store's epoch column is a 32-bit INTEGER in PostgreSQL


class Diverged(BaseException):
    """Raised by report() at a NaN or infinite metric: ends the user's loop (a BaseException, so that an
    ``except Exception`` in the user's code lets it through)."""


def train_trial(trial: Trial, data, on_epoch: OnEpoch) -> TrialResult:
    from ..spec._train_function import load_function

    tc = trial.config["train"]
    fn = load_function(tc["function"], tc["function_sha256"])
    history: list[dict[str, float]] = []
    diverged: list[str] = []
    first_loss: list[float] = []
    signalled: list[int] = []  # SIGINT / SIGTERM received while the function ran
    ours: list[int] = []  # epochs whose on_epoch raised KeyboardInterrupt
    start = time.perf_counter()

    def report(epoch: Any, **metrics: Any) -> None:
        """report(epoch, name=value, ...): one epoch's metrics (numbers), epochs increasing."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or not 0 <= epoch <= MAX_EPOCH:
            raise TypeError(f"report(epoch, ...): epoch must be a whole number from 0 to {MAX_EPOCH} (got "
                            f"{_shown(epoch)})")
        epoch = int(epoch)
        if not metrics:
            raise TypeError(f"report({epoch}): give the epoch's metrics as keywords, e.g. report({epoch}, "
                            "train_loss=0.3, val_accuracy=0.9)")
        values = _numbers(metrics, f"report({epoch}, ...)")
        if history and epoch < history[-1]["epoch"]:
            raise ValueError(f"report({epoch}, ...) after epoch {history[-1]['epoch']}: epochs must not go back")
        if history and epoch == history[-1]["epoch"]:
            history[-1].update(values)
            history[-1]["time_s"] = time.perf_counter() - start
        else:
            history.append({"epoch": epoch, **values, "time_s": time.perf_counter() - start})
        try:
            on_epoch(epoch, dict(values))
        except KeyboardInterrupt:  # the run is stopping (its output's reader left, or the store was interrupted)
            ours.append(epoch)
            raise
        bad = [(k, v) for k, v in values.items() if not math.isfinite(v)]
        if bad:
            diverged.append(f"{bad[0][0]} became {bad[0][1]} at epoch {epoch}")
            raise Diverged(diverged[-1])
        if "train_loss" in values:  # a finite loss can explode too: over 1e30, or 1e6 times the first one
            first_loss.append(values["train_loss"])
            why = exploded(values["train_loss"], first_loss[0])
            if why is not None:
                diverged.append(f"train_{why} at epoch {epoch}")
                raise Diverged(diverged[-1])

    config = copy.deepcopy(trial.config)  # the function may change its copy
    config["train"].setdefault("args", {})  # left out of the stored config when empty
    _seed(trial.seed)
    returned: Any = None
    try:
        with _optimizers_without_dynamo(), interrupts_noted(signalled):
            returned = fn(config, trial.seed, read_only(data), report)
    except Diverged:
        if not diverged:  # the user's code raised it: not ours
            raise
    except KeyboardInterrupt as e:
        if signalled or ours:  # Ctrl-C, SIGTERM, or nnstudy's own stop while it showed or stored an epoch
            raise
        raise exited(tc["function"], e) from e  # the function raised it itself: its trial fails, the run goes on
    except ValueError as e:  # numpy's "output array is read-only", "assignment destination is read-only"
        if "read-only" in str(e) and len(e.args) == 1:  # said where the user's line raised it
            e.args = (f"{e.args[0]}: the data's arrays are read-only, shared by the trials; copy one before "
                      "changing it (x = data.x_train.copy())",)
        raise
    except Exception:
        raise
    except BaseException as e:  # sys.exit(), or a BaseException class of the user's own, must not end the study
        raise exited(tc["function"], e) from e
    train_time = time.perf_counter() - start
    final = {k: v for k, v in history[-1].items() if k not in RESERVED} if history else {}
    if not diverged and returned is not None:
        if not isinstance(returned, dict):
            raise TypeError(f"{tc['function']} returned {type(returned).__name__}; return a dict of final "
                            "metrics (e.g. {\"test_accuracy\": 0.93}) or None")
        got = _numbers(returned, f"the dict {tc['function']} returned")
        bad = [(k, v) for k, v in got.items() if not math.isfinite(v)]
        if bad:
            diverged.append(f"{bad[0][0]} became {bad[0][1]} (returned)")
        final.update(got)
    if not final and not diverged:
        raise ValueError(f"{tc['function']} reported no metrics: call report(epoch, name=value, ...) each epoch "
                         "or return a dict of final metrics")
    final["train_time_s"] = train_time
    if history:
        final["epochs_run"] = float(len(history))
    status = "diverged" if diverged else "done"
    return TrialResult(status, final, history, {}, diverged[0] if diverged else None)


def _optimizers_without_dynamo():
    """Where the user's file imported torch, its optimizers run without importing torch._dynamo (the same
    numbers; anything that needs torch._dynamo still gets it: _torch/_eager.py)."""
    if "torch" not in sys.modules:
        return contextlib.nullcontext()
    from ._torch._eager import without_dynamo

    return without_dynamo()


def _numbers(metrics: dict, where: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, value in metrics.items():
        if not isinstance(name, str) or not NAME_RE.match(name) or name in RESERVED:
            raise ValueError(f"{where}: {name!r} is not a metric name (letters, digits, _; not "
                             f"{' or '.join(RESERVED)})")
        if name in OWN:
            continue  # nnstudy measures these itself
        if isinstance(value, (bool, np.bool_, str, bytes)):
            raise TypeError(f"{where}: {name}={value!r} is not a number")
        try:
            out[name] = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"{where}: {name}={_shown(value)} is not a number") from None
        except OverflowError:
            raise ValueError(f"{where}: {name}={_shown(value)} is beyond a float's range") from None
    return out


def _shown(value: Any) -> str:
    """``repr(value)``, but a huge integer by its size (Python refuses to print one of over 4300 digits)."""
    if isinstance(value, (int, np.integer)) and abs(int(value)) >= 10**20:
        return f"an integer of about {int(int(value).bit_length() * math.log10(2)) + 1} digits"
    return repr(value)


def _seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def read_only(data):
    """The dataset with read-only views of its arrays: a trial cannot change the data the next one gets."""
    changes = {}
    for f in dataclasses.fields(data):
        value = getattr(data, f.name)
        if isinstance(value, np.ndarray):
            view = value.view()
            view.flags.writeable = False
            changes[f.name] = view
    return dataclasses.replace(data, **changes)
