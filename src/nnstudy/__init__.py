"""nnstudy: one study file in, one report out."""

from .api import Study, compare, export, load, run
from .errors import DataError, StudyError

__all__ = ["Study", "load", "run", "compare", "export", "StudyError", "DataError"]
__version__ = "0.1.0"
