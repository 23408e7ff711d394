"""Report folders in Cloud Storage: `--report-dir gs://BUCKET/PREFIX` (plug-in of the `kubeiam.stores` group).

google-cloud-storage is imported when the store is first used, never by an offline audit. Credentials
come from Application Default Credentials (GKE Workload Identity in the CronJob's pod);
`STORAGE_EMULATOR_HOST` points the client at another endpoint. Encryption: without `--report-sse` the
bucket's default (Google-managed, or the bucket's default Cloud KMS key) applies; `--report-sse
projects/P/locations/L/keyRings/R/cryptoKeys/K` asks for that key on every object (`kmsKeyName`).
Every object is written create-only (`ifGenerationMatch=0`).
"""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from kubeiam.errors import InputError
from kubeiam.quarterly.stores import StoreConflict, StoreError, StoreMissing, StoreOptions, shown_url

SCHEME = "gs"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")


def open_store(url: str, options: StoreOptions) -> GcsBucket | None:
    """The `gs` entry point: `gs://BUCKET/PREFIX`."""
    parts = urlsplit(url)
    if parts.scheme.lower() != SCHEME:
        return None
    if not _BUCKET.match(parts.netloc):
        raise InputError(f"{shown_url(url)}: '{parts.netloc}' is not a Cloud Storage bucket name (gs://BUCKET/PREFIX)")
    return GcsBucket(parts.netloc, parts.path.strip("/"), options)


class GcsBucket:
    def __init__(self, bucket: str, prefix: str, options: StoreOptions) -> None:
        self.name = bucket
        self.prefix = prefix
        self.options = options
        self.url = f"gs://{bucket}/{prefix}" if prefix else f"gs://{bucket}"

    @cached_property
    def client(self) -> Any:
        if self.options.client is not None:
            return self.options.client
        from google.cloud.storage import Client

        extra: dict[str, Any] = {}
        if self.options.endpoint:
            extra["client_options"] = {"api_endpoint": self.options.endpoint}
        # project=None: no project is needed for objects, and none is guessed (which could fail in a pod).
        return Client(project=None, credentials=self.options.credential, **extra)

    @cached_property
    def bucket(self) -> Any:
        return self.client.bucket(self.name)

    def _key(self, key: str) -> str:
        return "/".join(p for p in (self.prefix, key.strip("/")) if p)

    def _failed(self, action: str, key: str, exc: Exception) -> StoreError:
        """One line: the action, the object and the status (never a response body)."""
        from google.api_core import exceptions as api

        where = f"gs://{self.name}/{self._key(key)}"
        if isinstance(exc, api.PreconditionFailed):
            return StoreConflict(f"{where}: already exists")
        if isinstance(exc, api.NotFound):
            return StoreMissing(f"{where}: not found")
        if isinstance(exc, api.GoogleAPICallError):
            reason = str(exc.message).splitlines()[0] if exc.message else ""
            return StoreError(f"{where}: {action} failed: {exc.code} {reason}".rstrip())
        return StoreError(
            f"{where}: {action} failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        )

    @staticmethod
    def _errors() -> tuple[type[Exception], ...]:
        from google.api_core.exceptions import GoogleAPIError
        from google.auth.exceptions import GoogleAuthError

        return (GoogleAPIError, GoogleAuthError, OSError)  # requests' errors are OSErrors

    def list_dirs(self, prefix: str) -> list[str]:
        start = self._key(prefix)
        start = f"{start}/" if start else ""
        names: list[str] = []
        try:
            pages = self.client.list_blobs(self.name, prefix=start, delimiter="/").pages
            for page in pages:
                names += [p[len(start) :].rstrip("/") for p in page.prefixes]
        except self._errors() as exc:
            raise self._failed("storage.objects.list", prefix, exc) from None
        return sorted(set(names))

    def read(self, key: str) -> bytes:
        try:
            data: bytes = self.bucket.blob(self._key(key)).download_as_bytes()
            return data
        except self._errors() as exc:
            raise self._failed("storage.objects.get", key, exc) from None

    def download(self, key: str, fh: IO[bytes]) -> None:
        try:
            self.bucket.blob(self._key(key)).download_to_file(fh)
        except self._errors() as exc:
            raise self._failed("storage.objects.get", key, exc) from None

    def write(self, key: str, source: Path | bytes, *, create_only: bool, content_type: str) -> None:
        blob = self.bucket.blob(self._key(key), kms_key_name=self.options.encryption_key or None)
        condition = {"if_generation_match": 0} if create_only else {}
        try:
            if isinstance(source, bytes):
                blob.upload_from_string(source, content_type=content_type, **condition)
            else:
                # With its size: one multipart request up to 8 MB, a resumable upload beyond (both carry
                # the precondition).
                with source.open("rb") as fh:
                    size = os.fstat(fh.fileno()).st_size
                    blob.upload_from_file(fh, size=size, content_type=content_type, **condition)
        except self._errors() as exc:
            if isinstance(exc, OSError) and not isinstance(source, bytes) and not source.is_file():
                raise StoreError(f"{source}: cannot read: {exc.strerror or exc}") from None
            raise self._failed("storage.objects.create", key, exc) from None
