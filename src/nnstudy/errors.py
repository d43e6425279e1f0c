"""The one error users see: a single line, exit code 2 on the command line."""


class StudyError(Exception):
    """A study file, an option or the data is wrong. ``str(err)`` is the one-line message."""


class DataError(StudyError):
    """A dataset is missing, corrupt or cannot be fetched."""
