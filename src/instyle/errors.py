"""Exceptions that the CLI turns into one clear line and an exit code (no traceback)."""


class InstyleError(Exception):
    """A problem with the user's input (a file, a checkpoint, a value): exit code 1."""

    exit_code = 1


class UsageError(InstyleError):
    """A bad command-line usage or option value: exit code 2."""

    exit_code = 2


class WeightsError(InstyleError):
    """Pretrained weights are missing, corrupt or do not match the model."""


class InstyleWarning(UserWarning):
    """Something the user should know that did not stop the work (e.g. only the first frame of an
    animation was used). The CLI prints it as one ``instyle: warning: …`` line."""
