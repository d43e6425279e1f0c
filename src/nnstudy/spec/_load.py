"""Read a study file (or a dict), apply ``--set`` overrides, validate, and explain errors in one line."""

from __future__ import annotations

import copy
import datetime
import json
import math
import os
import stat
import tomllib
import typing
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .._text import LINE_LIMIT, cap, did_you_mean
from ..errors import StudyError
from ._combine import check_combination
from ._search import check_search
from ._schema import MODEL_KINDS, ModelBase, StudyFile

SECTIONS = ("study", "data", "model", "train", "sweep", "trials", "report", "search")


def read_study(source: str | Path | dict, overrides: dict[str, Any] | None = None,
               sweep: dict[str, list[Any]] | None = None) -> tuple[StudyFile, str, str]:
    """Returns the validated study, its source text and the label used in error messages. `sweep`
    replaces or adds grid axes (``--sweep``); `overrides` set single keys (``--set``), never a swept one."""
    if isinstance(source, dict):
        text, label = "", "<dict>"
        try:
            raw = copy.deepcopy(source)
        except (TypeError, copy.Error) as e:  # a generator, a lock, an open file...
            raise StudyError(f"{label}: a study holds numbers, strings, booleans, lists and dicts ({e})") from None
    elif not isinstance(source, (str, os.PathLike)):
        raise StudyError(f"a study is a study file's path or a dict of its sections, not {type(source).__name__}")
    else:
        label = str(source)
        text = read_text(Path(source), label)
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise StudyError(f"{label}: not valid TOML: {e}") from None
        except RecursionError:  # arrays or tables nested thousands deep
            raise StudyError(f"{label}: not valid TOML: nested too deeply for a study file") from None
    refuse_dates(raw, label)
    replace_budget(raw, set(overrides or ()) | set(sweep or ()))
    if sweep:
        apply_sweep(raw, sweep, label)
    for key, value in (overrides or {}).items():
        check_dotted(key, label, "--set")  # --set train=... is no key at all, before it is a swept one
        if key.startswith("sweep."):  # sweep."train.lr" would be split at its dots into sweep.train.lr
            raise StudyError(f"{label}: --set {key}: the sweep's axes are set with --sweep KEY=V1,V2,..., e.g. "
                             f"--sweep train.lr=0.1,0.01")
        check_not_swept(raw, key, value, set(sweep or ()), label)
        set_dotted(raw, key, value, label, origin="--set")
    name = raw.get("study", {}).get("name") if isinstance(raw.get("study"), dict) else None
    if isinstance(name, str) and "@" in name:  # the part after @ is nnstudy's: a variant's changes
        raise StudyError(f'{label}: study.name: use lowercase letters, digits and dashes, e.g. "batch-size" '
                         f"(got {name!r}; a name with @ is a variant's, given by nnstudy run --set, --sweep or --as)")
    return validate(raw, label), text, label


MAX_STUDY_BYTES = 10_000_000


def read_text(path: Path, label: str) -> str:
    """The study file's text: a regular file (a FIFO or a device would block or never end) of at most
    10 MB, in UTF-8 with or without a byte-order mark (Windows editors write one)."""
    try:
        mode = path.stat()
        if not stat.S_ISREG(mode.st_mode):
            what = "a folder" if stat.S_ISDIR(mode.st_mode) else "not a regular file"
            raise StudyError(f"{label}: cannot read the study file ({what})")
        if mode.st_size > MAX_STUDY_BYTES:
            raise StudyError(f"{label}: cannot read the study file ({mode.st_size:,} bytes; a study file has at most "
                             f"{MAX_STUDY_BYTES:,})")
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise StudyError(f"{label}: no such study file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise StudyError(f"{label}: cannot read the study file ({e})") from None


def refuse_dates(node: Any, label: str, key: str = "") -> None:
    """A TOML date or time (``seed = 2024-01-01``, unquoted) is none of the values a study takes: one line
    naming its key, not a crash where the config is written as JSON."""
    if isinstance(node, dict):
        for k, v in node.items():
            refuse_dates(v, label, f"{key}.{k}" if key else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            refuse_dates(v, label, f"{key}.{i}")
    elif isinstance(node, (datetime.date, datetime.time)):
        raise StudyError(f"{label}: {key}: {node.isoformat()} is a TOML date or time, not a number, string or "
                         f'boolean; quote it for text ("{node.isoformat()}")')


def replace_budget(raw: dict, given: set[str]) -> None:
    """A ``--set``/``--sweep`` of train.steps replaces the file's train.epochs, and one of train.epochs the
    file's train.steps: the two do not go together and the command line cannot remove a key."""
    train = raw.get("train")
    for chosen, replaced in (("steps", "epochs"), ("epochs", "steps")):
        if isinstance(train, dict) and f"train.{chosen}" in given and f"train.{replaced}" not in given:
            train.pop(replaced, None)


def apply_sweep(raw: dict, sweep: dict[str, list[Any]], label: str) -> None:
    """``--sweep KEY=V1,V2``: the axis KEY of the grid (of every grid, for a list of grids) becomes the values."""
    grids = raw.setdefault("sweep", {})
    for key, values in sweep.items():
        parts = key.split(".")
        if len(parts) < 2 or parts[0] not in ("data", "model", "train") or not all(parts):
            raise StudyError(f"{label}: --sweep {key}: not a data, model or train key such as train.lr")
        if not isinstance(values, (list, tuple)) or not values:
            raise StudyError(f"{label}: --sweep {key}: needs a non-empty list of values, e.g. --sweep {key}=V1,V2")
        for grid in grids if isinstance(grids, list) else [grids]:
            if isinstance(grid, dict):
                grid[key] = list(values)


def overlap(a: str, b: str) -> bool:
    """Whether dotted keys a and b are the same or one is inside the other."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def check_not_swept(raw: dict, key: str, value: Any, from_option: set[str], label: str) -> None:
    """A ``--set`` on a key the sweep also sets would be silently overruled by the sweep: an error."""
    grids = raw.get("sweep") or {}
    for grid in grids if isinstance(grids, list) else [grids]:
        for swept in grid if isinstance(grid, dict) else ():
            if not overlap(key, swept):
                continue
            shown = f"{key}={cap(json.dumps(value), GOT_LIMIT)}"
            if swept in from_option:
                raise StudyError(f"{label}: --set {shown} and --sweep {swept} both set {swept}; give one of them")
            raise StudyError(f"{label}: --set {shown}: {swept} is swept by the study file "
                             f"(sweep.\"{swept}\" = {json.dumps(grid[swept])}); change the sweep with "
                             f"--sweep {swept}=V1,V2,... instead")
    search = raw.get("search")
    space = search.get("space") if isinstance(search, dict) else None
    for searched in space if isinstance(space, dict) else ():
        if overlap(key, searched) and not key.startswith("search."):
            raise StudyError(f"{label}: --set {key}={cap(json.dumps(value), GOT_LIMIT)}: {searched} is searched by the "
                             f"study file (search.space.\"{searched}\"), so the search would overrule it; change the "
                             "search space in the file instead")


def validate(raw: dict, label: str, validated: dict | None = None) -> StudyFile:
    """The study file `raw`, validated. `validated`: sections already validated (instances of their classes)
    that take the place of raw's and are not validated again (spec/_expand.py: a sweep point's unchanged ones)."""
    unknown = [k for k in raw if k not in SECTIONS]
    if unknown:
        raise StudyError(f"{label}: {unknown[0]}: unknown section (allowed: {', '.join(SECTIONS)})")
    for name in SECTIONS:
        if name in raw and not isinstance(raw[name], (dict, list) if name == "sweep" else dict):
            raise StudyError(f"{label}: {name}: must be a table")
    given, raw = raw, {**raw, **(validated or {})}
    if "study" not in raw:
        raise StudyError(f"{label}: study: missing section [study] with a name")
    if "data" not in raw:
        raise StudyError(f"{label}: data: missing section [data] with a dataset name")
    if not isinstance(raw.get("model"), ModelBase):
        raw["model"] = validate_model(raw.get("model", {}), label)
    try:
        study = StudyFile.model_validate(raw, context={"base_dir": study_dir(label)})  # train.function's file
    except ValidationError as e:
        raise StudyError(f"{label}: {explain(e, root=StudyFile, room=room_after(label))}") from None
    check_trial_count(study, label)
    check_combination(study, label)
    check_search(study, given, label)
    return study


MAX_TRIALS = 100_000  # as search.trials and a search grid's points


def check_trial_count(study: StudyFile, label: str) -> None:
    """A sweep of 1,000 x 1,000 values is refused at once: expanded, it spent minutes before the first line."""
    configs = sum(math.prod(len(values) for values in grid.values() if isinstance(values, list))
                  for grid in study.grids())
    trials = configs * len(study.trials.seed_list())
    if trials > MAX_TRIALS:
        raise StudyError(f"{label}: sweep: {configs:,} configurations x {len(study.trials.seed_list()):,} seeds "
                         f"is {trials:,} trials (at most {MAX_TRIALS:,}); split the study, or search the space "
                         f"with [search]")


def validate_model(section: dict, label: str, prefix: str = "model") -> ModelBase:
    """The [model] table by its kind's class; files it names are found next to the study file."""
    kind = section.get("kind", "mlp")
    cls = MODEL_KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise StudyError(f"{label}: {prefix}.kind: unknown model kind {cap(repr(kind), GOT_LIMIT)}"
                         f"{did_you_mean(kind, list(MODEL_KINDS))} (allowed: {', '.join(MODEL_KINDS)})")
    base_dir = study_dir(label)
    try:
        return cls.model_validate(section, context={"base_dir": base_dir})
    except ValidationError as e:
        raise StudyError(f"{label}: {explain(e, prefix, cls, room_after(label))}") from None


def study_dir(label: str) -> Path:
    """Where the files a study names are found: next to the study file (a dict's: the working directory)."""
    return Path(label).parent if label != "<dict>" else Path.cwd()


GOT_LIMIT = 100  # characters of a wrong value an error line repeats: what is allowed comes after it


def room_after(label: str) -> int:
    """Characters left for the message in the command line's error line ``nnstudy: error: LABEL: ...``."""
    return LINE_LIMIT - len(f"nnstudy: error: {label}: ")


def explain(err: ValidationError, prefix: str = "", root: Any = None, room: int = LINE_LIMIT) -> str:
    """The first error as 'dotted.key: what is wrong (what is allowed)', in about `room` characters."""
    e = _for_a_number(err.errors(include_url=False))
    loc = [str(p) for p in e["loc"] if not _is_union_tag(p)]
    key = ".".join(([prefix] if prefix else []) + loc) or "(top level)"
    kind, msg, got = e["type"], e["msg"], e.get("input")
    if kind == "extra_forbidden":
        return unknown_key(key, _allowed_keys(root, e["loc"]), room)
    if kind == "missing":
        return f"{key}: required key is missing"
    if kind == "literal_error":
        return f"{key}: {cap(repr(got), GOT_LIMIT)} is not allowed ({msg.removeprefix('Input should be ')})"
    if kind == "value_error":
        text = msg.removeprefix('Value error, ')
        entry = next((k for k in got if text.startswith(f"{k}: ")), None) if loc[-1:] == ["space"] and isinstance(
            got, dict) else None  # a [search.space] entry's error, "train.lr: ...": said as search.space.train.lr
        return f"{key}.{entry}: {text[len(entry) + 2:]}" if entry else f"{key}: {text}"
    if kind == "int_parsing_size":  # pydantic: "unable to parse input string as an integer, exceeded maximum size"
        return f"{key}: input should be a whole number {whole_range(root, e['loc'])} (got {json.dumps(got)})"
    hint = f"; a list of one is written [{json.dumps(got)}]" if kind == "list_type" and isinstance(
        got, (int, float, str)) and not isinstance(got, bool) and len(json.dumps(got)) <= GOT_LIMIT else ""
    return f"{key}: {msg[0].lower() + msg[1:]} (got {cap(json.dumps(got, default=str), GOT_LIMIT)}{hint})"


def _for_a_number(errors: list[dict]) -> dict:
    """The first error; for a number that no branch of a union of names and numbers takes (gamma = 0 of "scale" |
    "auto" | > 0), the numbers' branch's error rather than the list of names."""
    first, at = errors[0], [p for p in errors[0]["loc"] if not _is_union_tag(p)]
    got = first.get("input")
    if first["type"] not in ("literal_error", "string_type") or not isinstance(got, (int, float)) or isinstance(got, bool):
        return first
    return next((e for e in errors[1:] if e["type"] not in ("literal_error", "string_type")
                 and [p for p in e["loc"] if not _is_union_tag(p)] == at), first)


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and (part.startswith(("int", "float", "list[", "dict[", "literal[", "constrained"))
                                      or part in {"str", "bool"})


def whole_range(root: Any, loc: tuple) -> str:
    """'from 10 to 10000000' (or 'of at least 1', ...) for an integer key, from the bounds the schema gives it."""
    node = root
    for part in loc[:-1]:
        field = getattr(node, "model_fields", {}).get(part)
        node = field.annotation if field is not None else None
    field = getattr(node, "model_fields", {}).get(loc[-1]) if loc else None
    low = high = None
    todo = [field] if field is not None else []
    while todo:  # the field and the types of its annotation (Annotated[int, Field(ge=..)] | None)
        item = todo.pop()
        for m in getattr(item, "metadata", None) or []:
            low = m.ge if hasattr(m, "ge") else m.gt + 1 if hasattr(m, "gt") else low
            high = m.le if hasattr(m, "le") else m.lt - 1 if hasattr(m, "lt") else high
        todo += [a for a in typing.get_args(getattr(item, "annotation", item)) if a is not item]
    if low is not None and high is not None:
        return f"from {low} to {high}"
    return f"of at least {low}" if low is not None else f"of at most {high}" if high is not None else "in range"


def _allowed_keys(root: Any, loc: tuple) -> list[str]:
    node = root
    for part in loc[:-1]:
        field = getattr(node, "model_fields", {}).get(part)
        node = field.annotation if field is not None else None
    return list(getattr(node, "model_fields", None) or [])


def unknown_key(key: str, allowed: list[str], room: int = LINE_LIMIT) -> str:
    """'model.hiden: unknown key; did you mean model.hidden? (allowed: kind, hidden, ...)': the closest keys
    whole, then as much of the allowed list as `room` takes, its tail counted."""
    section, _, last = key.rpartition(".")
    said = f"{key}: unknown key" + did_you_mean(last, allowed, f"{section}." if section else "", n=3)
    if not allowed:
        return said
    shown = ", ".join(allowed)
    if len(said) + len(f" (allowed: {shown})") <= room:
        return f"{said} (allowed: {shown})"
    kept: list[str] = []
    for name in allowed:
        tail = f", ... ({len(allowed) - len(kept) - 1} more in the study-file reference)"
        if len(said) + len(f" (allowed: {', '.join(kept + [name])}{tail})") > room:
            break
        kept.append(name)
    rest = f"... ({len(allowed) - len(kept)} more in the study-file reference)"
    return f"{said} (allowed: {', '.join(kept + [rest])})"


def check_dotted(key: str, label: str, origin: str) -> list[str]:
    parts = key.split(".")
    if len(parts) < 2 or parts[0] not in SECTIONS or not all(parts):
        raise StudyError(f"{label}: {origin} {key}: not a dotted key such as train.lr")
    return parts


def set_dotted(raw: dict, key: str, value: Any, label: str, origin: str) -> None:
    parts = check_dotted(key, label, origin)
    node = raw
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise StudyError(f"{label}: {origin} {key}: {part} is not a table")
        node = child
    node[parts[-1]] = value


def parse_value(text: str) -> Any:
    """A ``--set`` value: TOML syntax (numbers, booleans, quoted strings, [lists]), else a bare string.
    ValueError when it starts as a list, a table or a quoted string but is not valid TOML."""
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError) as e:
        if text and text[0] in "[{\"'":
            raise ValueError(f"not a valid TOML value ({e})" if isinstance(e, tomllib.TOMLDecodeError)
                             else "nested too deeply") from None
        return text
    return text if holds_date(value) else value  # 2024-01-01: the text, as any other bare word


def holds_date(value: Any) -> bool:
    if isinstance(value, (list, dict)):
        return any(holds_date(v) for v in (value.values() if isinstance(value, dict) else value))
    return isinstance(value, (datetime.date, datetime.time))


def _value(text: str, flag: str, item: str, label: str) -> Any:
    try:
        return parse_value(text)
    except ValueError as e:
        raise StudyError(f"{label}: {flag} {cap(item, 80)}: {e}") from None


def parse_sweeps(items: list[str], label: str) -> dict[str, list[Any]]:
    """``--sweep KEY=V1,V2,...`` (repeatable): values in TOML syntax split at top-level commas, so
    ``model.hidden=[16],[16,16]`` is two values."""
    out: dict[str, list[Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise StudyError(f"{label}: --sweep {item}: expected KEY=V1,V2,..., e.g. --sweep train.lr=0.1,0.01")
        if key in out:
            raise StudyError(f"{label}: --sweep {key}: given twice; list all its values in one --sweep")
        pieces = split_top_level(text)
        if not pieces or any(not p.strip() for p in pieces):
            raise StudyError(f"{label}: --sweep {item}: an empty value; expected KEY=V1,V2,...")
        out[key] = [_value(p.strip(), "--sweep", item, label) for p in pieces]
    return out


def split_top_level(text: str) -> list[str]:
    """Split at commas outside brackets, braces and quotes: '[16],[16,16]' -> ['[16]', '[16,16]']."""
    pieces, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote and text[i - 1] != "\\":
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            pieces.append(text[start:i])
            start = i + 1
    if text.strip():
        pieces.append(text[start:])
    return pieces


def parse_overrides(items: list[str], label: str, flag: str = "--set") -> dict[str, Any]:
    """``--set KEY=VALUE`` items (or ``--point``'s, named by `flag` in errors) as {key: value}."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise StudyError(f"{label}: {flag} {item}: expected KEY=VALUE, e.g. {flag} train.epochs=1")
        if key.strip() in out:  # one would silently overrule the other
            raise StudyError(f"{label}: {flag} {cap(key.strip(), 80)}: given twice; give each key once")
        out[key.strip()] = _value(value.strip(), flag, item, label)
    return out
