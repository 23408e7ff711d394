"""A report folder on disk, with the same contract as one in object storage (store_object.py)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import IO

from kubeiam.quarterly.run_index import FINDINGS, MARKER, RunIndex, UnreadableRun, file_digest, index_report
from kubeiam.quarterly.store_api import (
    RUN_NAME,
    StoreConflict,
    StoreError,
    StoreMissing,
    index_folder,
    join,
    run_files,
)
from kubeiam.quarterly.store_object import ObjectStore


class LocalBucket:
    """A folder on disk seen as a bucket (what `LocalStore` stands on)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = str(root)

    def path(self, key: str) -> Path:
        return self.root.joinpath(*key.split("/")) if key else self.root

    def list_dirs(self, prefix: str) -> list[str]:
        base = self.path(prefix)
        try:
            return [p.name for p in base.iterdir() if p.is_dir()] if base.is_dir() else []
        except OSError as exc:
            raise StoreError(f"{base}: cannot list: {exc.strerror or exc}") from None

    def read(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            raise StoreMissing(f"{self.path(key)}: not found") from None
        except OSError as exc:
            raise StoreError(f"{self.path(key)}: cannot read: {exc.strerror or exc}") from None

    def download(self, key: str, fh: IO[bytes]) -> None:
        try:
            with self.path(key).open("rb") as src:
                shutil.copyfileobj(src, fh)
        except FileNotFoundError:
            raise StoreMissing(f"{self.path(key)}: not found") from None
        except OSError as exc:
            raise StoreError(f"{self.path(key)}: cannot read: {exc.strerror or exc}") from None

    def write(self, key: str, source: Path | bytes, *, create_only: bool, content_type: str) -> None:
        """Through a temporary file in the same folder, so a reader never sees half a file; create-only by
        a hard link, which fails when the name exists."""
        dest = self.path(key)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("wb", dir=dest.parent, delete=False, suffix=".tmp") as fh:
                if isinstance(source, bytes):
                    fh.write(source)
                else:
                    with source.open("rb") as src:
                        shutil.copyfileobj(src, fh)
            tmp = Path(fh.name)
            try:
                if not create_only:
                    tmp.replace(dest)
                    return
                os.link(tmp, dest)
            except FileExistsError:
                raise StoreConflict(f"{dest}: already exists") from None
            finally:
                tmp.unlink(missing_ok=True)
        except StoreError:
            raise
        except OSError as exc:
            raise StoreError(f"{dest}: cannot write: {exc.strerror or exc}") from None


class LocalStore(ObjectStore):
    """A report folder on disk: today's layout; a run written before run.json existed is complete when
    its findings.json is (it was written last), and is indexed from it when read."""

    def __init__(self, root: Path | LocalBucket, sub: str = "") -> None:
        bucket = root if isinstance(root, LocalBucket) else LocalBucket(root)
        super().__init__(bucket, sub)
        self.local = bucket
        self.path = self.local.path(self.root)

    def _lookup(self, run: str) -> RunIndex | UnreadableRun | None:
        findings = self.path / run / FINDINGS
        # findings.json first: a run renamed into place has both at once, one written in place gets run.json last.
        if run not in self._indexes and findings.is_file() and not (self.path / run / MARKER).exists():
            try:
                with findings.open("rb") as fh:
                    self._indexes[run] = index_report(fh, run, str(findings))
            except UnreadableRun as exc:
                self._indexes[run] = exc
        return super()._lookup(run)

    @contextmanager
    def open_file(self, run: str, name: str) -> Iterator[IO[bytes]]:
        try:
            fh = (self.path / run / name).open("rb")
        except OSError as exc:
            raise StoreError(f"{self.path / run / name}: cannot read: {exc.strerror or exc}") from None
        with fh:
            self._verify(run, name, fh)
            fh.seek(0)
            yield fh

    def fetch(self, run: str, name: str, dest: Path) -> Path:
        return self.path / run / name  # already local: no copy

    @contextmanager
    def staging(self, now: datetime) -> Iterator[Path]:
        """The new run folder itself (created here, so the name is ours); removed if nothing was written."""
        run = self._new_run(now)
        try:
            yield run
        except BaseException:
            if run.is_dir() and not any(run.iterdir()):
                run.rmdir()
            raise

    def _new_run(self, now: datetime) -> Path:
        base = now.strftime(RUN_NAME)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            for n in range(1, 1000):
                candidate = self.path / (base if n == 1 else f"{base}-{n}")
                try:
                    candidate.mkdir()
                    return candidate
                except FileExistsError:
                    continue
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot create: {exc.strerror or exc}") from None
        raise StoreError(f"{self.path}: too many runs named {base}")

    def publish(self, folder: Path, now: datetime) -> str:
        """A run folder already in place (written into `staging`) gets its run.json; one elsewhere is copied
        in first (findings.json last, as a reader without run.json expects)."""
        if folder.resolve().parent == self.path.resolve():
            self._mark(folder, folder.name)
            return folder.name
        # Copied into a hidden folder beside the runs, indexed, then renamed onto the (empty) run folder
        # claimed for it: a reader sees no run, then the whole run.
        target = self._new_run(now)
        staging: Path | None = None
        try:
            staging = Path(tempfile.mkdtemp(prefix=".publishing-", dir=self.path))
            shutil.copytree(
                folder,
                staging,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns(".*", MARKER),
                copy_function=shutil.copy2,
            )
            self._mark(staging, target.name)
            staging.replace(target)
        except BaseException as exc:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            if target.is_dir() and not any(target.iterdir()):
                target.rmdir()
            if isinstance(exc, OSError):
                raise StoreError(f"{target}: cannot write: {exc.strerror or exc}") from None
            raise
        return target.name

    def _mark(self, folder: Path, run: str) -> None:
        files = run_files(folder)
        index = index_folder(folder)
        marker = replace(index, run=run, files={rel: file_digest(folder / rel) for rel in files})
        self.local.write(
            join(self.root, folder.name, MARKER), marker.to_json(), create_only=True, content_type="application/json"
        )
        self._indexes[run] = marker
