"""A run's registry datasets, loaded in a thread from the moment the study is read.

``nnstudy run`` imports torch (on CUDA, to ask for the device) before it reads the data; the two now overlap,
since checking and decompressing the files leaves the GIL. A user's own file or loader is read when it is
asked for, in the caller's thread: its code runs only after the run has said so (api.run).
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from .data import load
from .data._dataset import Dataset
from .data._registry import OWN


class EarlyData:
    def __init__(self, sections: list[dict[str, Any]], validate: Callable[[dict[str, Any]], Any]):
        self.sections, self.validate = sections, validate
        self.early = [i for i, s in enumerate(sections) if s["name"] not in OWN]
        self.loaded: dict[int, tuple[Dataset | None, BaseException | None]] = {}
        self.thread = threading.Thread(target=self._work, daemon=True, name="nnstudy-data") if self.early else None
        if self.thread is not None:
            self.thread.start()

    def _work(self) -> None:
        for i in self.early:
            try:
                self.loaded[i] = load(self.validate(self.sections[i])), None
            except BaseException as e:  # raised where the data is asked for, as a load there would raise it
                self.loaded[i] = None, e

    def get(self, i: int) -> Dataset:
        """The i-th section's dataset (its DataError, as loading it here would raise)."""
        if i not in self.early:
            return load(self.validate(self.sections[i]))
        self.thread.join()
        data, error = self.loaded[i]
        if error is not None:
            raise error
        return data
