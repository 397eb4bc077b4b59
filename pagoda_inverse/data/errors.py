"""The data layer's errors: the CLI turns them into one-line messages."""


class DataError(Exception):
    """A dataset is missing or malformed; the message says how to fix it."""


class ImageError(Exception):
    """An image could not be read or written; the message says why."""
