"""Writing evidence files exactly as the AWS CLI prints them (JSON, ISO 8601 timestamps)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from kubeiam.pipeline.evidence import write_json_file


def _cli_value(value: Any) -> Any:
    # Datetimes are written as the AWS CLI prints botocore's (isoformat: "2024-01-02T03:04:05+00:00");
    # blobs the CLI prints in base64.
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def write_json(root: Path, relative: str, document: Any) -> None:
    """Write `document` to `root/relative` atomically."""
    write_json_file(root / relative, document, default=_cli_value)
