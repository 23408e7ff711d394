"""A report folder in object storage: any plug-in's Bucket, written file by file and published by run.json."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from kubeiam.quarterly.run_index import FINDINGS, MARKER, RunIndex, UnreadableRun, file_digest, stream_digest
from kubeiam.quarterly.store_api import (
    RUN_NAME,
    Bucket,
    ReportStore,
    StoreConflict,
    StoreError,
    StoreMissing,
    content_type,
    index_folder,
    join,
    run_files,
    run_order,
)

_UPLOADS = 8  # parallel object writes while publishing a run's evidence


class ObjectStore:
    """A report folder in object storage (any `Bucket`), or below it (`child`)."""

    def __init__(self, bucket: Bucket, root: str = "") -> None:
        self.bucket = bucket
        self.root = root.strip("/")
        self.url = f"{bucket.url.rstrip('/')}/{self.root}" if self.root else bucket.url
        self._indexes: dict[str, RunIndex | UnreadableRun] = {}

    # -- reading ---------------------------------------------------------------------------------------

    def _key(self, *parts: str) -> str:
        return join(self.root, *parts)

    def _entries(self) -> list[str]:
        return sorted(n for n in self.bucket.list_dirs(self.root) if n and not n.startswith("."))

    def _lookup(self, run: str) -> RunIndex | UnreadableRun | None:
        """The run's index; None when it is not a published run; the error when run.json is damaged."""
        if run not in self._indexes:  # a run not (yet) published is asked again next time
            try:
                self._indexes[run] = RunIndex.from_json(self.bucket.read(self._key(run, MARKER)), self._where(run))
            except StoreMissing:
                return None
            except UnreadableRun as exc:
                self._indexes[run] = exc
        return self._indexes[run]

    def _where(self, run: str, name: str = MARKER) -> str:
        return f"{self.url}/{run}/{name}"

    def runs(self) -> list[str]:
        """Published runs, oldest first (a damaged run.json still counts: it fails when read, loudly)."""
        return sorted((n for n in self._entries() if self._lookup(n) is not None), key=run_order)

    def folders(self) -> list[str]:
        """Sub-folders that are not runs (one report folder per cluster, say)."""
        return [n for n in self._entries() if self._lookup(n) is None]

    def child(self, name: str) -> ReportStore:
        return type(self)(self.bucket, self._key(name))

    def index(self, run: str) -> RunIndex:
        found = self._lookup(run)
        if isinstance(found, UnreadableRun):
            raise found
        if found is None:
            raise StoreMissing(f"{self._where(run)}: no such run")
        return found

    def _download(self, run: str, name: str, fh: IO[bytes]) -> None:
        self.bucket.download(self._key(run, name), fh)

    @contextmanager
    def open_file(self, run: str, name: str) -> Iterator[IO[bytes]]:
        """A file of a run, checked against the size and SHA-256 its run.json recorded."""
        with tempfile.TemporaryFile() as fh:
            self._download(run, name, fh)
            self._verify(run, name, fh)
            fh.seek(0)
            yield fh

    def _verify(self, run: str, name: str, fh: IO[bytes]) -> None:
        expected = self.index(run).files.get(name)
        if not expected:
            return
        fh.seek(0)
        digest = stream_digest(fh)
        if digest != {"size": expected.get("size"), "sha256": expected.get("sha256")}:
            raise UnreadableRun(
                f"{self._where(run, name)}: differs from what {MARKER} recorded (changed after publication)"
            )

    def fetch(self, run: str, name: str, dest: Path) -> Path:
        """The file as a local path (downloaded to `dest`): what `--baseline` reads."""
        try:
            with self.open_file(run, name) as src, dest.open("wb") as out:
                shutil.copyfileobj(src, out)
        except OSError as exc:
            raise StoreError(f"{dest}: cannot write: {exc.strerror or exc}") from None
        return dest

    def previous(self, scope: Mapping[str, Any] | None) -> str | None:
        """The latest run of the same scope: a `check` of one ServiceAccount is no baseline for a full audit."""
        for run in reversed(self.runs()):
            if self.index(run).scope == scope:
                return run
        return None

    def trend(self, scope: Mapping[str, Any] | None, exclude: str | None = None) -> list[dict[str, Any]]:
        """One point per earlier run of the same scope (a damaged run only loses its point)."""
        points = []
        for run in self.runs():
            found = self._lookup(run)
            if run != exclude and isinstance(found, RunIndex) and found.scope == scope:
                points.append(found.trend_point())
        return points

    # -- writing ---------------------------------------------------------------------------------------

    @contextmanager
    def staging(self, now: datetime) -> Iterator[Path]:
        """A local folder to write the run into before `publish` uploads it."""
        with tempfile.TemporaryDirectory(prefix="kubeiam-run-") as tmp:
            run = Path(tmp) / "run"  # named when published: another writer may take this second's name first
            run.mkdir()
            yield run

    def publish(self, folder: Path, now: datetime) -> str:
        """Upload a finished run folder under a new name, then publish it with run.json. Returns the name."""
        files = run_files(folder)
        index = index_folder(folder)
        digests = {rel: file_digest(folder / rel) for rel in files}
        run = self._claim(folder, now)
        rest = [rel for rel in files if rel != FINDINGS]
        with ThreadPoolExecutor(max_workers=_UPLOADS) as pool:
            for done in [pool.submit(self._put, run, rel, folder / rel) for rel in rest]:
                done.result()  # the first failure ends the publication: the run stays unpublished
        marker = replace(index, run=run, files=dict(sorted(digests.items())))
        self.bucket.write(self._key(run, MARKER), marker.to_json(), create_only=True, content_type="application/json")
        self._indexes[run] = marker
        return run

    def _put(self, run: str, rel: str, path: Path) -> None:
        self.bucket.write(self._key(run, rel), path, create_only=True, content_type=content_type(rel))

    def _claim(self, folder: Path, now: datetime) -> str:
        """A run name nobody uses, taken by the create-only write of its findings.json: two writers in the
        same second get two runs (`-2`), never one mixed run."""
        base = now.strftime(RUN_NAME)
        for n in range(1, 1000):
            run = base if n == 1 else f"{base}-{n}"
            try:
                self._put(run, FINDINGS, folder / FINDINGS)
                return run
            except StoreConflict:
                continue
        raise StoreError(f"{self.url}: too many runs named {base}")
