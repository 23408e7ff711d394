"""Writing evidence files exactly as the AWS CLI prints them (JSON, ISO 8601 timestamps)."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import orjson


def _cli_value(value: Any) -> Any:
    # orjson writes datetimes as the AWS CLI prints botocore's (isoformat: "2024-01-02T03:04:05+00:00");
    # blobs the CLI prints in base64.
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def write_json(root: Path, relative: str, document: Any) -> None:
    """Write `document` to `root/relative` atomically (a reader never sees half a file).

    Indented for the people who read evidence; with orjson, since the standard library's indenting
    encoder is pure Python (half a second for the 8 MB iam.json of a 5,000-role account)."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    data = orjson.dumps(document, default=_cli_value, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    tmp = path.with_name(f".{path.name}.tmp")  # the umask's permissions, like the other collectors' files
    tmp.write_bytes(data)
    os.replace(tmp, path)
