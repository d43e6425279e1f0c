"""Where trials run. Only the executor writes the store while a study runs."""

from ._local import LocalExecutor, RunSummary

__all__ = ["LocalExecutor", "RunSummary"]
