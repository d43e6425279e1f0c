"""nnstudy: one study file in, one report out."""

from .errors import DataError, StudyError

__all__ = ["Study", "load", "run", "compare", "export", "StudyError", "DataError"]
__version__ = "0.1.0"

_API = ("Study", "load", "run", "compare", "export")


def __getattr__(name: str):
    """The API (``nnstudy.run``, ``nnstudy.load``, ...) is imported on first use: ``nnstudy report`` and the
    other commands that need no study file skip its imports (pandas, pydantic's schema)."""
    import importlib

    if name in _API:
        return getattr(importlib.import_module(".api", __name__), name)
    if not name.startswith("_"):  # a subpackage used as an attribute (nnstudy.data, nnstudy.report) after `import nnstudy`
        try:
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
