"""Progress bars for live collection: rich on stderr, only on a terminal and without --quiet."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TextIO

from kubeiam.pipeline.progress import NullProgress, Progress, Task
from kubeiam.safety.text import safe_line


class _RichTask:
    def __init__(self, bars: object, task_id: object, total: int | None) -> None:
        self._bars, self._id, self._total = bars, task_id, total

    def advance(self, amount: int = 1) -> None:
        self._bars.advance(self._id, amount)  # type: ignore[attr-defined]

    def done(self) -> None:
        task = next(t for t in self._bars.tasks if t.id == self._id)  # type: ignore[attr-defined]
        # An open-ended task (no total) is marked complete at whatever count it reached.
        self._bars.update(self._id, total=task.completed if task.total is None else task.total, completed=task.total)  # type: ignore[attr-defined]


class TerminalProgress:
    """`kubeiam.pipeline.progress.Progress` drawn with rich; use as a context manager around collection."""

    def __init__(self, stream: TextIO | None = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        console = Console(file=stream or sys.stderr, force_terminal=stream is not None)
        self._bars = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),  # a context name is no markup
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )

    def task(self, description: str, total: int | None = None) -> Task:
        # Descriptions name contexts and clusters from a kubeconfig: no control character reaches the terminal.
        return _RichTask(self._bars, self._bars.add_task(safe_line(description), total=total), total)

    def __enter__(self) -> TerminalProgress:
        self._bars.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._bars.stop()


class _NullContext(NullProgress):
    def __enter__(self) -> _NullContext:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def progress_for(quiet: bool, stream: TextIO | None = None) -> Progress:
    """Bars when stderr is a terminal and not --quiet; otherwise nothing at all."""
    stream = stream or sys.stderr
    if quiet or not stream.isatty():
        return _NullContext()
    return TerminalProgress(stream if stream is not sys.stderr else None)
