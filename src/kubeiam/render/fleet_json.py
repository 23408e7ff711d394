"""`kubeiam fleet --format json`: the fleet report as one JSON document, written as it is read.

The finding rows are written while the runs are streamed (one line each, so the file diffs and greps
well); the roll-ups follow once every run is read. docs/fleet.md describes the document.
"""

from __future__ import annotations

from typing import IO, Any

import orjson

from kubeiam.quarterly.fleet import Fleet


class FleetJsonWriter:
    """`{head..., "findings": [rows...], tail...}`: `start`, `row` for each finding, then `finish`."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.rows = 0

    def start(self, head: dict[str, Any]) -> None:
        # The head object without its closing brace, then the findings array.
        self.out.write(orjson.dumps(head)[:-1] + b',"findings":[')

    def row(self, row: dict[str, Any]) -> None:
        self.out.write((b"\n" if not self.rows else b",\n") + orjson.dumps(row))
        self.rows += 1

    def finish(self, fleet: Fleet) -> None:
        tail = orjson.dumps(fleet.tail(), option=orjson.OPT_INDENT_2)
        self.out.write(b"\n]," + tail[1:] + b"\n")  # the tail object without its opening brace
