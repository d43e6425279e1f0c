"""Files a study names (a user's code, a user's data): content-addressed copies in the cache.

A trial's config holds what the study wrote (``"net.py:Net"``, ``"data/heart.csv"``) and the file's
sha256; the bytes live under ``<cache>/files/<sha256>``. So a config alone finds the exact bytes on any
machine that has them (a Ray worker is sent them with its task), a file edited after the run started
never changes a trial that was keyed by the old bytes, and an edited file means new trial ids.

    sha = keep(Path("net.py"))                 # copy into the cache (once), return the sha256
    Net = load_object("net.py:Net", sha)        # import the cached copy, take the attribute
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from ._paths import unusable
from ._text import cap

SHA_RE = re.compile(r"^[0-9a-f]{64}$")
REF_RE = re.compile(r"^(?P<path>[^:]+\.py):(?P<name>[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*)$")


def files_dir() -> Path:
    from .data._paths import cache_root

    return cache_root() / "files"


def cached(sha256: str) -> Path:
    """Where the bytes of ``sha256`` live in this machine's cache (they may be absent)."""
    return files_dir() / sha256


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_once(path: Path, data: bytes) -> None:
    """Write ``data`` at ``path`` unless a file is there, through a temporary name (never half-written)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
        tmp.write_bytes(data)
        tmp.replace(path)


def keep_bytes(data: bytes) -> str:
    """Put ``data`` into the cache under its sha256; return the sha256."""
    sha = sha256_bytes(data)
    write_once(cached(sha), data)
    return sha


def keep(path: Path) -> str:
    """Copy the file at ``path`` into the cache; return its sha256. OSError when it cannot be read."""
    return keep_bytes(Path(path).read_bytes())


def split_ref(ref: str) -> tuple[str, str]:
    """``"net.py:Net"`` -> (``"net.py"``, ``"Net"``); ValueError (one line) for another shape."""
    m = REF_RE.match(ref.strip()) if isinstance(ref, str) else None
    if m is None:
        raise ValueError(f"{ref!r} is not FILE.py:NAME (e.g. \"net.py:Net\", the file relative to the study file)")
    return m["path"], m["name"]


def resolve_ref(ref: str, base_dir: Path) -> str:
    """Checks that the file of ``ref`` exists next to the study, keeps a copy; returns its sha256.
    ValueError (one line) for a bad reference or a missing file. The attribute is checked by load_object."""
    return resolve_file(split_ref(ref)[0], base_dir)


def resolve_file(rel: str, base_dir: str | Path) -> str:
    """Keeps a copy of the data file ``rel`` (relative to ``base_dir``); returns its sha256. ValueError (one
    line) when it is missing or unreadable."""
    path = Path(base_dir) / rel
    why = unusable(path)
    if why:
        raise ValueError(f"{cap(repr(rel), 80)}: {why}")
    if not path.is_file():
        raise ValueError(f"no such file {rel!r} (paths are relative to the study file: {path})")
    try:
        return keep(path)
    except OSError as e:
        raise ValueError(f"cannot read {rel!r} ({e.strerror or e})") from None


def check_given(given: str | None, actual: str, shown: str, key: str) -> str:
    """``actual``, unless the study wrote another sha256 under ``key``: then ValueError (one line)."""
    if given is not None and given != actual:
        raise ValueError(f"{given[:12]}... does not match {shown} (its sha256 is {actual[:12]}...): the file "
                         f"changed since the sha256 was written; remove the {key} key to use it as it is now")
    return actual


def error_line(e: BaseException) -> str:
    """An exception raised by a user's code as one line: its type and the start of its message."""
    text = " ".join(message(e).split())
    return f"{type(e).__name__}: {text[:200]}" if text else type(e).__name__


def message(e: BaseException) -> str:
    """``str(e)``, or what went wrong with it: a user's exception class may define a ``__str__`` that raises."""
    try:
        return str(e)
    except KeyboardInterrupt:
        raise
    except BaseException as inner:
        return f"(its message cannot be shown: str() raised {type(inner).__name__})"


class Exited(RuntimeError):
    """A study's own code raised SystemExit (or another BaseException but KeyboardInterrupt) while it ran."""


@contextmanager
def exits_as_errors(what: str) -> Iterator[None]:
    """Runs a study's own code (``what`` names it) so that SystemExit, or another BaseException but Ctrl-C's
    KeyboardInterrupt, becomes ``Exited`` (one line): it fails what the code was doing, as any exception
    would, instead of ending nnstudy with exit 0 and no word."""
    from ._sigterm import interrupts_noted

    signalled: list[int] = []
    try:
        with interrupts_noted(signalled):
            yield
    except Exception:
        raise
    except BaseException as e:
        if isinstance(e, KeyboardInterrupt) and signalled:  # Ctrl-C; a KeyboardInterrupt of its own is an error
            raise
        raise exited(what, e) from e


def exited(what: str, e: BaseException) -> Exited:
    """``e`` (SystemExit or another BaseException) of the study's code ``what`` as an Exited, at its line."""
    return Exited(f"{what} raised {error_line(e)}").with_traceback(e.__traceback__)


_modules: dict[str, Any] = {}
_names: dict[str, str] = {}  # cached file's path -> the name the study gave it


def shown_file(filename: str) -> str:
    """A file a warning or traceback names, as the user knows it: ``net.py``, not its cached copy."""
    return _names.get(filename, filename)


def load_module(rel: str, sha256: str):
    """The module of the cached file ``sha256`` (imported once per process). Its name is unique per content,
    so two versions of one file can live side by side. ValueError (one line) when the bytes are absent or
    the module's own code raises while it is imported (that exception is its cause, traceback included)."""
    if sha256 in _modules:
        return _modules[sha256]
    path = cached(sha256)
    if not path.is_file():
        raise ValueError(f"{rel!r} (sha256 {sha256[:12]}) is not in this machine's cache {files_dir()}")
    stem = re.sub(r"\W", "_", Path(rel).stem)
    name = f"nnstudy_user_{stem}_{sha256[:12]}"
    loader = importlib.machinery.SourceFileLoader(name, str(path))
    spec = importlib.util.spec_from_loader(name, loader, origin=str(path))
    module = importlib.util.module_from_spec(spec)
    module.__file__ = str(path)
    _names[str(path)] = rel
    sys.modules[name] = module  # so that pickling and dataclasses inside it work
    try:
        loader.exec_module(module)
    except KeyboardInterrupt:
        sys.modules.pop(name, None)
        raise
    except SyntaxError as e:  # its file is the cached copy: the line names the file as the study does
        sys.modules.pop(name, None)
        raise ValueError(syntax_line(e, rel, path)) from e
    except BaseException as e:
        sys.modules.pop(name, None)
        raise ValueError(f"importing {rel} failed: {error_line(e)}") from e
    _modules[sha256] = module
    return module


def syntax_line(e: SyntaxError, rel: str, path: Path) -> str:
    """``net.py line 3: invalid syntax``: the file as the study names it (or a file it imports), where, and why."""
    where = rel if e.filename == str(path) else shown_file(e.filename or "?")
    at = f" line {e.lineno}" if e.lineno else ""
    return f"{where}{at}: {' '.join(str(e.msg).split())[:200]}"


def load_object(ref: str, sha256: str) -> Any:
    """The object ``ref`` names (``"net.py:Net"``), from the cached file ``sha256``."""
    rel, name = split_ref(ref)
    node: Any = load_module(rel, sha256)
    for part in name.split("."):
        if not hasattr(node, part):
            raise ValueError(f"{rel!r} has no {name!r}")
        node = getattr(node, part)
    return node


def _tables(node: Any) -> Iterable[dict]:
    """Every table (dict) in a config, nested ones included."""
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _tables(v)
    elif isinstance(node, list):
        for v in node:
            yield from _tables(v)


def named_shas(config: Any) -> list[str]:
    """Every sha256 a trial's config names (keys ``sha256`` or ``*_sha256`` holding 64 hex digits)."""
    return [v for table in _tables(config) for k, v in table.items()
            if isinstance(k, str) and (k == "sha256" or k.endswith("_sha256")) and isinstance(v, str)
            and SHA_RE.match(v)]


def trial_files(configs: Iterable[dict]) -> dict[str, bytes]:
    """The cached bytes every config names, by sha256: what a worker on another machine is sent."""
    shas = sorted({s for c in configs for s in named_shas(c)})
    return {s: cached(s).read_bytes() for s in shas if cached(s).is_file()}


def install(files: dict[str, bytes]) -> None:
    """On a worker: put the files it was sent into its cache (checked against their names)."""
    for sha, data in files.items():
        if sha256_bytes(data) != sha:
            raise ValueError(f"a file sent as sha256 {sha[:12]} has other contents")
        keep_bytes(data)


def code_refs(config: Any) -> list[tuple[str, str]]:
    """Every (``"file.py:name"``, sha256) a config names: a key holding a reference beside its ``<key>_sha256``."""
    return [(v, table[f"{k}_sha256"]) for table in _tables(config) for k, v in table.items()
            if isinstance(k, str) and isinstance(v, str) and isinstance(table.get(f"{k}_sha256"), str)
            and REF_RE.match(v)]


def code_line(configs: Iterable[dict]) -> str | None:
    """The start line's account of the user code that will run, or None when a study names none."""
    refs = list(dict.fromkeys(r for c in configs for r in code_refs(c)))
    if not refs:
        return None
    return "runs code from the study's files: " + ", ".join(f"{ref} (sha256 {sha[:12]})" for ref, sha in refs)
