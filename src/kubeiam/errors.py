"""Errors that end an audit with exit 2 and one clear line (never a traceback)."""


class InputError(Exception):
    """Bad usage or unreadable input: the message names the file or field and what is wrong."""
