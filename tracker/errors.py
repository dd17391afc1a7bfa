"""Errors that the CLI turns into one-line messages and a non-zero exit."""


class TrackerError(Exception):
    """Base class for user-facing errors: the message names the file, step or field at fault."""


class SourceError(TrackerError):
    """A checkpoint series could not be listed or a checkpoint could not be loaded."""


class UnsupportedArchitectureError(TrackerError):
    """The model's architecture has no registered adapter."""


class StoreError(TrackerError):
    """A store is unreadable, invalid, or written by a newer schema."""


class UnknownNameError(TrackerError):
    """A probe or detector name is not registered."""
