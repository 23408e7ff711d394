"""Progress reporting for live collection: providers call it, the CLI decides how it is shown.

Providers only see this small interface; the terminal implementation (rich, stderr, silent when
not a TTY or with --quiet) lives with the CLI.
"""

from __future__ import annotations

from typing import Protocol


class Task(Protocol):
    def advance(self, amount: int = 1) -> None: ...

    def done(self) -> None: ...


class Progress(Protocol):
    def task(self, description: str, total: int | None = None) -> Task:
        """Start a task, e.g. `progress.task("aws: roles", total=len(roles))`."""
        ...


class _NullTask:
    def advance(self, amount: int = 1) -> None:
        pass

    def done(self) -> None:
        pass


class NullProgress:
    """Shows nothing: the default, and what tests and non-terminals get."""

    def task(self, description: str, total: int | None = None) -> Task:
        return _NullTask()


def progress_of(request: object) -> Progress:
    """The request's progress, or one that shows nothing."""
    return getattr(request, "progress", None) or NullProgress()
