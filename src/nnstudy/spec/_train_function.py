"""``[train] function``: a user's own training loop, named in the study file or given to ``nnstudy.run``.

    [train]
    function = "train.py:train"      # a file next to the study file (its bytes are kept in the cache)
    # or "package.module:train"      # an importable module (its source file's sha256 is the identity)
    args = { hidden = 64 }           # the function's own settings, sweepable as "train.args.hidden"

The resolved config carries ``function_sha256``: the sha256 of the file the function lives in (of the
function's source text when it has no file, e.g. a notebook cell), so an edited file means new trial ids.

``nnstudy.run(study, train=fn)`` names ``fn`` as ``"module:qualname"`` and keeps the object here
(``GIVEN``): a function that another process cannot import by that name (``__main__``, a notebook, a
nested function) runs in this process only.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import json
import re
from pathlib import Path
from typing import Any, Callable

from .. import _userfiles

MODULE_REF_RE = re.compile(r"^(?P<module>[A-Za-z_]\w*(\.[A-Za-z_]\w*)*):"
                           r"(?P<name>([A-Za-z_]\w*|<locals>|<lambda>)(\.([A-Za-z_]\w*|<locals>|<lambda>))*)$")
# (<locals>, <lambda>: the qualified name of a function given as train=fn; only its own process can run it)
PARAMS = "(config, seed, data, report)"

GIVEN: dict[str, Callable[..., Any]] = {}  # "module:qualname" -> a function handed to nnstudy.run(train=...)


def is_file_ref(ref: str) -> bool:
    return ref.split(":", 1)[0].endswith(".py")


def check_ref(ref: str) -> None:
    """ValueError (one line) for a reference of neither shape."""
    if ref in GIVEN or is_file_ref(ref):
        if ref not in GIVEN:
            _userfiles.split_ref(ref)
        return
    if not MODULE_REF_RE.match(ref):
        raise ValueError(f"{ref!r} is neither FILE.py:NAME (e.g. \"train.py:train\", relative to the study file) "
                         "nor MODULE:NAME (an importable module, e.g. \"mypackage.training:train\")")


def resolve_sha(ref: str, given: str | None, base_dir: Any) -> str:
    """The sha256 of the code ``ref`` names. Without a base dir (a worker re-validating a resolved config)
    a given sha256 is taken as it is; otherwise it must agree with the file. ValueError (one line)."""
    check_ref(ref)
    if given is not None and not _userfiles.SHA_RE.match(given):
        raise ValueError(f"function_sha256: {given!r} is not a sha256 (64 hex digits; leave it out, nnstudy "
                         "fills it in)")
    if base_dir is None and given is not None:
        return given
    if ref in GIVEN:
        sha = function_sha(GIVEN[ref])
    elif is_file_ref(ref):
        sha = _userfiles.resolve_ref(ref, Path(base_dir if base_dir is not None else "."))
    else:
        sha = _module_sha(ref)
    return _userfiles.check_given(given, sha, ref.split(":", 1)[0], "function_sha256")


def _module_sha(ref: str) -> str:
    module = ref.split(":", 1)[0]
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as e:
        raise ValueError(f"cannot find module {module!r} ({' '.join(str(e).split())})") from None
    if spec is None:
        raise ValueError(f"no module named {module!r} (a file next to the study file is written \"train.py:train\")")
    if not spec.origin or not Path(spec.origin).is_file():
        raise ValueError(f"module {module!r} has no source file to identify it by")
    return hashlib.sha256(Path(spec.origin).read_bytes()).hexdigest()


def function_sha(fn: Callable[..., Any]) -> str:
    """The identity of a function given from Python: its source file's sha256, else its source text's."""
    try:
        path = inspect.getsourcefile(fn)
    except TypeError:
        path = None
    if path and Path(path).is_file():
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    try:
        return hashlib.sha256(inspect.getsource(fn).encode()).hexdigest()
    except (OSError, TypeError):
        raise ValueError(f"cannot read the source of {getattr(fn, '__qualname__', fn)!r}; nnstudy keys a "
                         "trial by its code's sha256 (put the function in a file)") from None


def given_ref(fn: Any) -> str:
    """The name ``train=fn`` goes by in the config: ``module:qualname``; ValueError (one line) when not a function."""
    if not callable(fn) or inspect.isclass(fn):
        raise ValueError(f"train={fn!r} is not a function; pass one taking {PARAMS}")
    check_signature(fn, getattr(fn, "__qualname__", repr(fn)))
    module = getattr(fn, "__module__", None) or "__main__"
    return f"{module}:{getattr(fn, '__qualname__', None) or getattr(fn, '__name__', 'train')}"


def importable(fn: Callable[..., Any]) -> bool:
    """True when another process finds ``fn`` by its module and name (so a process pool can run it)."""
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or module in ("__main__", "__mp_main__") or "<" in qualname:
        return False
    try:
        return _attr(importlib.import_module(module), qualname) is fn
    except Exception:
        return False


def in_process_only(config: dict[str, Any]) -> str | None:
    """The ref of a config's function when only this process can run it, else None."""
    ref = (config.get("train") or {}).get("function")
    if ref in GIVEN and not importable(GIVEN[ref]):
        return ref
    return None


def check_signature(fn: Callable[..., Any], shown: str) -> None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # a builtin or C function: nothing to check
    try:
        sig.bind(None, None, None, None)
    except TypeError:
        raise ValueError(f"{shown}{sig} must take four arguments {PARAMS}") from None


def load_function(ref: str, sha: str) -> Callable[..., Any]:
    """The function a config names. ValueError (one line) when it is missing, its file fails to import or it
    is not a function of four arguments; an exception raised while importing an installed module propagates."""
    fn = GIVEN.get(ref)
    if fn is None:
        if is_file_ref(ref):
            fn = _userfiles.load_object(ref, sha)
        else:
            module, name = ref.split(":", 1)
            fn = _attr(importlib.import_module(module), name, ref)
            now = function_sha(fn)  # train=fn named it by this; a study file's module ref by the module's file
            if sha not in (now, _module_sha(ref)):
                raise ValueError(f"{module} changed since the study was started (sha256 {now[:12]}... not "
                                 f"{sha[:12]}...); run the study again")
    if not callable(fn) or inspect.isclass(fn):
        raise ValueError(f"{ref} is not a function (it is {type(fn).__name__}); name a function taking {PARAMS}")
    check_signature(fn, ref)
    return fn


def _attr(node: Any, dotted: str, ref: str | None = None) -> Any:
    for part in dotted.split("."):
        if not hasattr(node, part):
            raise ValueError(f"{ref or dotted!r}: no {dotted!r} in module {getattr(node, '__name__', node)!r}")
        node = getattr(node, part)
    return node


def check_args(args: Any) -> Any:
    """train.args: a table of JSON values (they are part of the trial id)."""
    try:
        json.dumps(args, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"args must hold numbers, strings, booleans, lists and tables only ({e})") from None
    return args


def give(fn: Any) -> dict[str, Any]:
    """``nnstudy.run(..., train=fn)``: keep ``fn`` for this process; the ``--set`` keys that name it."""
    ref = given_ref(fn)
    function_sha(fn)  # a function without readable source is refused before anything runs
    GIVEN[ref] = fn
    return {"train.function": ref}


def check_functions(configs: list[dict[str, Any]], label: str, executor: str) -> tuple[list[str], bool]:
    """Loads every training function the configs name (after the start line named their files): a missing
    attribute, a non-function, a wrong signature or an import that raises is a StudyError (one line).
    Returns the start lines for functions that are not files of the study, and whether one of them can run
    in this process only."""
    from ..errors import StudyError

    lines: list[str] = []
    in_process = False
    seen = set()
    for cfg in configs:
        tc = cfg.get("train") or {}
        ref, sha = tc.get("function"), tc.get("function_sha256")
        if ref is None or (ref, sha) in seen:
            continue
        seen.add((ref, sha))
        try:
            load_function(ref, sha)
        except ValueError as e:
            raise StudyError(f"{label}: train.function: {e}") from None
        except BaseException as e:  # an installed module's own code failed while being imported
            if isinstance(e, KeyboardInterrupt):
                raise
            raise StudyError(f"{label}: train.function: importing {ref.split(':', 1)[0]} failed: "
                             f"{_userfiles.error_line(e)}") from None
        if is_file_ref(ref) and ref not in GIVEN:
            continue  # named by the start line's list of the study's files
        only_here = ref in GIVEN and not importable(GIVEN[ref])
        if only_here and executor == "ray":
            raise StudyError(f"{label}: train=: {ref} cannot be sent to Ray workers (a function of a script, a "
                             "notebook or another function); put it in a file and name it in the study: "
                             "[train] function = \"train.py:train\"")
        in_process = in_process or only_here
        where = ("in this process, one trial at a time (a function of a script, a notebook or another function "
                 "cannot be sent to worker processes)" if only_here else "imported by name in each worker")
        lines.append(f"runs the training function {ref} (sha256 {sha[:12]}), {where}")
    return lines, in_process


def is_metric_name(name: str) -> bool:
    """A metric a training function may report (and report.metrics may name)."""
    return bool(re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name))
