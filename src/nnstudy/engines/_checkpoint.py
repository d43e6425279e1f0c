"""Checkpoints of a trial's (or a stack's) training state: tensors as safetensors, the rest as JSON, never pickle.

An engine's loop asks ``Checkpoints.resume()`` for the state it saved last (None: start at epoch 1) and offers
its state after every epoch (``Checkpoints.after_epoch``): every ``train.checkpoint_every`` epochs, or, left
unset, after any epoch that ends more than 60 s after the last checkpoint (0: never). Engines know nothing of
the store: the executor opens a ``channel`` around training, which hands in the stored checkpoint and takes
each new one (executor/_worker.py); the driver keeps the pair as the trial's artifacts ``checkpoint.json`` and
``checkpoint.safetensors``, replaced in one transaction (Store.save_checkpoint), gone when the trial ends.

A checkpoint is used only by the code that made it: it names its trials (whose ids hash the config and the
user's files) and the code identity (nnstudy's version and a hash of the engines' and model kinds' sources);
the JSON holds the sha256 of the tensors file, so a truncated or mismatched pair is refused too.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import hashlib
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

TENSORS = "checkpoint.safetensors"
STATE = "checkpoint.json"
NAMES = (STATE, TENSORS)
FORMAT = 1
DEFAULT_EVERY_S = 60.0  # checkpoint_every unset: after any epoch ending more than this after the last one


class CheckpointError(ValueError):
    """A checkpoint that cannot be used (unreadable, truncated, of other trials or other code)."""


@dataclass
class Saved:
    """A new checkpoint on its way from the engine to the driver (who stores it under ``trial_id``)."""
    trial_id: str
    blobs: dict[str, bytes]


@functools.cache
def code_identity() -> str:
    """nnstudy's version and the sha256 of the sources that train (engines/, kinds/): a checkpoint made by
    other code is not resumed."""
    from .. import __version__

    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for folder in ("engines", "kinds"):
        for path in sorted((root / folder).rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{__version__}+{digest.hexdigest()[:16]}"


# --- encoding: nested Python values with tensors and arrays -> (JSON, safetensors) -----------------


def pack(trial_ids: list[str], epoch: int, state: Any) -> dict[str, bytes]:
    """The pair of blobs of a checkpoint of ``trial_ids`` taken after ``epoch``."""
    from safetensors.torch import save

    tensors: dict[str, Any] = {}
    encoded = _encode(state, tensors)
    try:
        blob = save(tensors)  # copies the bytes: no tensor is copied before
    except RuntimeError:  # tensors that share memory (views of one another) are refused: copies are not
        blob = save({k: t.clone() for k, t in tensors.items()})
    head = {"format": FORMAT, "trials": list(trial_ids), "code": code_identity(), "epoch": epoch,
            "tensors_sha256": hashlib.sha256(blob).hexdigest(), "state": encoded}
    return {STATE: json.dumps(head, separators=(",", ":")).encode(), TENSORS: blob}


def header(blobs: dict[str, bytes] | None, trial_ids: list[str]) -> dict[str, Any]:
    """The checkpoint's JSON, checked against the trials, this code and its tensors file; CheckpointError
    says why it cannot be used."""
    if not blobs or STATE not in blobs or TENSORS not in blobs:
        raise CheckpointError(f"missing {STATE if not blobs or STATE not in blobs else TENSORS}")
    try:
        head = json.loads(bytes(blobs[STATE]))
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{STATE} is not JSON ({e})") from None
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise CheckpointError(f"{STATE} is not a format-{FORMAT} checkpoint")
    if head.get("trials") != list(trial_ids):
        raise CheckpointError(f"made for other trials ({', '.join(map(str, head.get('trials') or []))})")
    if head.get("code") != code_identity():
        raise CheckpointError(f"made by other code ({head.get('code')}; this is {code_identity()})")
    if hashlib.sha256(bytes(blobs[TENSORS])).hexdigest() != head.get("tensors_sha256"):
        raise CheckpointError(f"{TENSORS} does not match {STATE} (truncated or replaced)")
    return head


def unpack(blobs: dict[str, bytes] | None, trial_ids: list[str]) -> tuple[int, Any]:
    """(epoch, state) of a checkpoint made by ``pack``; CheckpointError when it cannot be used."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    head = header(blobs, trial_ids)
    try:
        tensors = load(bytes(blobs[TENSORS]))
    except (SafetensorError, ValueError, OSError) as e:
        raise CheckpointError(f"{TENSORS} unreadable ({e})") from None
    try:
        epoch, state = head["epoch"], _decode(head["state"], tensors)
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{STATE} is damaged ({type(e).__name__}: {e})") from None
    last = _last_logged(state)
    if type(epoch) is not int or epoch < 1 or (last is not None and epoch != last):
        raise CheckpointError(f"{STATE} is damaged (its epoch {epoch!r} is not the last epoch of its history"
                              f"{'' if last is None else f', {last}'})")
    return epoch, state


def _last_logged(state: Any) -> int | None:
    """The last epoch in the state's epoch log(s) (log_state: one trial's "log", a stack's "logs"), which is
    the epoch its checkpoint was taken after; None for a state without one."""
    logs = (state.get("logs") or [state.get("log")]) if isinstance(state, dict) else []
    try:
        ends = [log["history"][-1]["epoch"] for log in logs if isinstance(log, dict) and log.get("history")]
    except (KeyError, TypeError, IndexError):
        return None  # no epoch log of this shape: nothing to compare with
    return max(ends) if ends else None


def _encode(obj: Any, tensors: dict[str, Any]) -> Any:
    import torch

    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu()
        name = f"t{len(tensors)}"
        tensors[name] = t.contiguous()
        return {"__tensor__": name}
    if isinstance(obj, np.ndarray):
        name = f"t{len(tensors)}"
        tensors[name] = torch.from_numpy(np.ascontiguousarray(obj))
        return {"__array__": name}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"__float__": repr(obj)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, tensors) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: _encode(v, tensors) for k, v in obj.items()}
        return {"__items__": [[_encode(k, tensors), _encode(v, tensors)] for k, v in obj.items()]}
    raise TypeError(f"a checkpoint cannot hold a {type(obj).__name__}")


def _decode(obj: Any, tensors: dict[str, Any]) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        return tensors[obj["__tensor__"]]
    if "__array__" in obj:
        return tensors[obj["__array__"]].numpy()
    if "__float__" in obj:
        return float(obj["__float__"])
    if "__tuple__" in obj:
        return tuple(_decode(v, tensors) for v in obj["__tuple__"])
    if "__items__" in obj:
        return {_decode(k, tensors): _decode(v, tensors) for k, v in obj["__items__"]}
    return {k: _decode(v, tensors) for k, v in obj.items()}


# --- the channel between the executor and the engine ----------------------------------------------


@dataclass
class Channel:
    resume: dict[str, bytes] | None  # the stored checkpoint of this trial (or stack), or None
    save: Callable[[dict[str, bytes]], None]  # takes each new checkpoint


_channel: contextvars.ContextVar[Channel | None] = contextvars.ContextVar("nnstudy_checkpoints", default=None)


@contextlib.contextmanager
def channel(resume: dict[str, bytes] | None, save: Callable[[dict[str, bytes]], None]) -> Iterator[None]:
    """Around an engine's training: the checkpoint to resume from, and where new ones go."""
    token = _channel.set(Channel(resume, save))
    try:
        yield
    finally:
        _channel.reset(token)


class Checkpoints:
    """An engine loop's checkpoints: ``resume()`` once before the first epoch, ``after_epoch`` after each."""

    def __init__(self, tc: dict[str, Any], trial_ids: list[str]):
        self.every = tc.get("checkpoint_every")
        self.trial_ids = list(trial_ids)
        self.channel = _channel.get()
        self.last = time.monotonic()

    def resume(self, weights: Callable[[Any], tuple[Any, Any]] | None = None) -> tuple[int, Any] | None:
        """(epoch, state) of the stored checkpoint, or None. One that cannot be used is said in one line
        (stderr) and training starts at epoch 1. ``weights``: from a state, its weights and those of the trial
        as built (checked before anything is restored: a checkpoint whose tensors do not fit is damaged)."""
        if self.channel is None or self.channel.resume is None:
            return None
        try:
            epoch, state = unpack(self.channel.resume, self.trial_ids)
            if weights is not None:
                fitting(*_weights_of(weights, state))
            return epoch, state
        except CheckpointError as e:
            print(unusable_line(self.trial_ids, str(e)), file=sys.stderr, flush=True)
            return None

    def after_epoch(self, epoch: int, last: bool, state: Callable[[], Any]) -> None:
        """After a stored epoch that training goes on from (``last``: the planned last, never saved)."""
        if self.channel is None or last or self.every == 0:
            return
        now = time.monotonic()
        if self.every is None and now - self.last <= DEFAULT_EVERY_S:
            return
        if self.every is not None and epoch % self.every:
            return
        self.channel.save(pack(self.trial_ids, epoch, state()))
        self.last = time.monotonic()


def _weights_of(weights: Callable[[Any], tuple[Any, Any]], state: Any) -> tuple[Any, Any]:
    try:
        return weights(state)
    except (KeyError, TypeError, IndexError) as e:
        raise CheckpointError(f"{STATE} is damaged ({type(e).__name__}: {e})") from None


def fitting(saved: Any, built: Any, where: str = "") -> None:
    """CheckpointError unless the saved weights have the keys, lengths and tensor shapes of the built ones."""
    def unfit(why: str) -> CheckpointError:
        return CheckpointError(f"its tensors do not fit the trial ({where or 'its weights'} {why})")

    if hasattr(built, "shape"):
        if not hasattr(saved, "shape"):
            raise unfit("is no tensor")
        if list(saved.shape) != list(built.shape):
            raise unfit(f"has shape {list(saved.shape)}, not {list(built.shape)}")
    elif isinstance(built, dict):
        if not isinstance(saved, dict) or set(saved) != set(built):
            raise unfit("name other tensors")
        for k in built:
            fitting(saved[k], built[k], f"{where}.{k}" if where else k)
    elif isinstance(built, (list, tuple)):
        if not isinstance(saved, (list, tuple)) or len(saved) != len(built):
            raise unfit("hold another number of tensors")
        for i, (a, b) in enumerate(zip(saved, built)):
            fitting(a, b, f"{where}[{i}]")


def unusable_line(trial_ids: list[str], why: str) -> str:
    what = f"trial {trial_ids[0]}" if len(trial_ids) == 1 else f"the stack of trial {trial_ids[0]}"
    return f"checkpoint of {what} unreadable: {why}; restarting from epoch 1"


# --- the state every loop shares: the epoch log (history, early stopping, step-loss buffers) --------

def kept_fields(obj) -> list[str]:
    """The fields of an EpochLog or EarlyStopper (dataclasses of engines/_common.py) that a checkpoint keeps:
    all but those marked SETTING (set from the study file when the trial starts)."""
    return [f.name for f in dataclasses.fields(obj) if f.metadata.get("checkpoint", True)]


def log_state(log) -> dict[str, Any]:
    """An EpochLog's state, early stopping's included (as the dict "stopper")."""
    return {k: log_state(v) if dataclasses.is_dataclass(v) else v
            for k, v in ((k, getattr(log, k)) for k in kept_fields(log))}


def _restore_fields(obj, state: dict[str, Any]) -> None:
    for k in kept_fields(obj):
        if dataclasses.is_dataclass(getattr(obj, k)):
            _restore_fields(getattr(obj, k), state[k])
        else:
            setattr(obj, k, state[k])


def restore_log(log, state: dict[str, Any]) -> None:
    _restore_fields(log, state)
    log.step_rows = [tuple(r) for r in log.step_rows]


def plain_state(obj) -> dict[str, Any]:
    """The attributes of a small plain-Python object (engines._common.Plateau)."""
    return dict(vars(obj))


def restore_plain(obj, state: dict[str, Any] | None) -> None:
    if obj is not None and state is not None:
        for k, v in state.items():
            setattr(obj, k, v)
