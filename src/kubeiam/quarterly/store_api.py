"""The report store's contract: what a store is (ReportStore), what an object-storage plug-in provides
(Bucket), and the errors and options they share (stores.py explains the layout and the publication)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

from kubeiam.errors import InputError
from kubeiam.quarterly.run_index import FINDINGS, MARKER, RunIndex, index_report

RUN_NAME = "%Y-%m-%dT%H%M%SZ"
_RUN_NAME_RE = re.compile(r"^(?P<base>\d{4}-\d{2}-\d{2}T\d{6}Z)(?:-(?P<n>\d+))?$")
_CONTENT_TYPES = {
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
}


class StoreError(InputError):
    """A store that cannot be read or written: one line naming the URL and what failed."""


class StoreMissing(StoreError):
    """The object does not exist."""


class StoreConflict(StoreError):
    """A create-only write found the object already there."""


@dataclass(frozen=True)
class StoreOptions:
    encryption_key: str | None = None
    """`--report-sse`: the server-side encryption key (an S3 KMS key id or ARN, or `AES256` / `aws:kms`;
    a Cloud KMS key name; an Azure encryption scope). None: the bucket's default encryption applies."""
    endpoint: str | None = None
    """Another endpoint than the cloud's (a private endpoint, or a local emulator in the tests)."""
    credential: Any = field(default=None, compare=False)
    """An SDK credential to use instead of the default chain (the tests' emulator keys)."""
    client: Any = field(default=None, compare=False)
    """A ready SDK client (tests that record requests)."""


@runtime_checkable
class Bucket(Protocol):
    """What an object-storage plug-in provides. Keys are relative to the URL's prefix, `/`-separated."""

    url: str

    def list_dirs(self, prefix: str) -> list[str]:
        """Names of the "folders" directly under `prefix` ('' for the top)."""

    def read(self, key: str) -> bytes:
        """The whole object (small ones: run.json); StoreMissing when absent."""

    def download(self, key: str, fh: IO[bytes]) -> None:
        """Stream the object into `fh`; StoreMissing when absent."""

    def write(self, key: str, source: Path | bytes, *, create_only: bool, content_type: str) -> None:
        """Write the object (server-side encryption as configured); StoreConflict when `create_only`
        and it exists."""


StoreFactory = Callable[[str, StoreOptions], Bucket | None]


class ReportStore(Protocol):
    """A report folder, local or in object storage: what the audit, the baseline and the fleet use."""

    url: str

    def runs(self) -> list[str]: ...
    def index(self, run: str) -> RunIndex: ...
    def open_file(self, run: str, name: str) -> AbstractContextManager[IO[bytes]]: ...
    def fetch(self, run: str, name: str, dest: Path) -> Path: ...
    def staging(self, now: datetime) -> AbstractContextManager[Path]: ...
    def publish(self, folder: Path, now: datetime) -> str: ...
    def previous(self, scope: Mapping[str, Any] | None) -> str | None: ...
    def trend(self, scope: Mapping[str, Any] | None, exclude: str | None = None) -> list[dict[str, Any]]: ...
    def folders(self) -> list[str]: ...
    def child(self, name: str) -> ReportStore: ...


def shown_url(url: str) -> str:
    """A URL fit for a message: no user, password, query (a SAS token) or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return urlunsplit((parts.scheme, f"{host}:{parts.port}" if parts.port else host, parts.path, "", ""))


def run_order(name: str) -> tuple[str, int]:
    """Runs sort by their UTC start time; `-2`, `-3`... (two runs in one second) after the first."""
    m = _RUN_NAME_RE.match(name)
    return (m["base"], int(m["n"] or 1)) if m else (name, 0)


def join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


def run_files(folder: Path) -> list[str]:
    """The files of a run folder, `/`-separated, hidden files and run.json left out."""
    try:
        files = sorted(
            p.relative_to(folder).as_posix()
            for p in folder.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        )
    except OSError as exc:
        raise StoreError(f"{folder}: cannot read: {exc.strerror or exc}") from None
    files = [f for f in files if f != MARKER]
    if FINDINGS not in files:
        raise StoreError(f"{folder}: no {FINDINGS}: not a finished run")
    return files


def index_folder(folder: Path) -> RunIndex:
    with (folder / FINDINGS).open("rb") as fh:
        return index_report(fh, folder.name, str(folder / FINDINGS))


def content_type(rel: str) -> str:
    return _CONTENT_TYPES.get(Path(rel).suffix, "application/octet-stream")
