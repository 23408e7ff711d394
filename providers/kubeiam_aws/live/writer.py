"""Writing evidence files exactly as the AWS CLI prints them (JSON, ISO 8601 timestamps)."""

from __future__ import annotations

import base64
import json
import os
from datetime import date, datetime
from pathlib import Path
from typing import Any


def _cli_value(value: Any) -> Any:
    # The AWS CLI prints botocore's timestamps with isoformat() ("2024-01-02T03:04:05+00:00").
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def write_json(root: Path, relative: str, document: Any) -> None:
    """Write `document` to `root/relative` atomically (a reader never sees half a file)."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=2, default=_cli_value, ensure_ascii=False) + "\n"
    tmp = path.with_name(f".{path.name}.tmp")  # the umask's permissions, like the other collectors' files
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
