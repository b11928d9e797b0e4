"""The error a sub-command raises for a bad request (not for a bug)."""


class CommandError(Exception):
    """An error the CLI reports as one line and a non-zero exit status."""
