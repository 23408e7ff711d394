"""Report folders in Azure Blob Storage: `--report-dir https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX`
(plug-in of the `kubeiam.stores` group, for `https` URLs on a blob endpoint).

azure-storage-blob is imported when the store is first used, never by an offline audit. Credentials
come from `DefaultAzureCredential` (Azure Workload Identity in the CronJob's pod), or from
`StoreOptions.credential` (an account key, a SAS, any token credential). Encryption: the storage
account always encrypts; without `--report-sse` the container's default encryption scope applies,
`--report-sse SCOPE` asks for that encryption scope on every blob. Every blob is written create-only
(`If-None-Match: *`).
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from kubeiam.errors import InputError
from kubeiam.quarterly.stores import StoreConflict, StoreError, StoreMissing, StoreOptions, shown_url

SCHEME = "https"
# The public, sovereign and DNS-zone blob endpoints.
_HOST = re.compile(
    r"^(?P<account>[a-z0-9]{3,24})\.(?:z\d+\.)?blob\."
    r"(?:core\.windows\.net|core\.chinacloudapi\.cn|core\.usgovcloudapi\.net|storage\.azure\.net)$"
)
_CONTAINER = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$|^\$root$")


def open_store(url: str, options: StoreOptions) -> BlobContainer | None:
    """The `https` entry point: a blob endpoint URL, else None (not an Azure URL: another plug-in's)."""
    parts = urlsplit(url)
    m = _HOST.match((parts.hostname or "").lower())
    if parts.scheme.lower() != SCHEME or not m:
        return None
    container, _, prefix = parts.path.strip("/").partition("/")
    if not _CONTAINER.match(container):
        what = f"'{container}' is not a container name" if container else "no container name"
        raise InputError(f"{shown_url(url)}: {what} (https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX)")
    return BlobContainer(f"https://{parts.hostname}", container, prefix.strip("/"), options)


class BlobContainer:
    def __init__(self, account_url: str, container: str, prefix: str, options: StoreOptions) -> None:
        self.account_url = account_url
        self.container = container
        self.prefix = prefix
        self.options = options
        self.url = "/".join(p for p in (account_url, container, prefix) if p)

    @cached_property
    def client(self) -> Any:
        if self.options.client is not None:
            return self.options.client
        from azure.storage.blob import ContainerClient

        credential = self.options.credential
        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        return ContainerClient(self.options.endpoint or self.account_url, self.container, credential=credential)

    def _key(self, key: str) -> str:
        return "/".join(p for p in (self.prefix, key.strip("/")) if p)

    def _failed(self, action: str, key: str, exc: Exception) -> StoreError:
        """One line: the action, the blob and the status and error code (never a response body)."""
        from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

        where = f"{self.account_url}/{self.container}/{self._key(key)}"
        if isinstance(exc, ResourceExistsError):
            return StoreConflict(f"{where}: already exists")
        if isinstance(exc, ResourceNotFoundError):
            return StoreMissing(f"{where}: not found")
        if isinstance(exc, HttpResponseError):
            code = getattr(exc, "error_code", None) or exc.reason or ""
            return StoreError(f"{where}: {action} failed: {exc.status_code} {code}".rstrip())
        first = str(exc).splitlines()[0] if str(exc) else ""
        return StoreError(f"{where}: {action} failed: {type(exc).__name__}: {first}")

    @staticmethod
    def _errors() -> tuple[type[Exception], ...]:
        from azure.core.exceptions import AzureError

        return (AzureError, OSError)

    def list_dirs(self, prefix: str) -> list[str]:
        from azure.storage.blob import BlobPrefix

        start = self._key(prefix)
        start = f"{start}/" if start else ""
        try:
            items = list(self.client.walk_blobs(name_starts_with=start or None, delimiter="/"))
        except self._errors() as exc:
            raise self._failed("list blobs", prefix, exc) from None
        return sorted(i.name[len(start) :].rstrip("/") for i in items if isinstance(i, BlobPrefix))

    def read(self, key: str) -> bytes:
        try:
            data: bytes = self.client.download_blob(self._key(key)).readall()
            return data
        except self._errors() as exc:
            raise self._failed("read blob", key, exc) from None

    def download(self, key: str, fh: IO[bytes]) -> None:
        try:
            self.client.download_blob(self._key(key)).readinto(fh)
        except self._errors() as exc:
            raise self._failed("read blob", key, exc) from None

    def write(self, key: str, source: Path | bytes, *, create_only: bool, content_type: str) -> None:
        from azure.storage.blob import ContentSettings

        args: dict[str, Any] = {
            "overwrite": not create_only,  # False sends If-None-Match: *
            "content_settings": ContentSettings(content_type=content_type),
        }
        if self.options.encryption_key:
            args["encryption_scope"] = self.options.encryption_key
        try:
            if isinstance(source, bytes):
                self.client.upload_blob(self._key(key), source, **args)
            else:
                with source.open("rb") as fh:
                    self.client.upload_blob(self._key(key), fh, **args)
        except self._errors() as exc:
            if isinstance(exc, OSError) and not isinstance(source, bytes) and not source.is_file():
                raise StoreError(f"{source}: cannot read: {exc.strerror or exc}") from None
            raise self._failed("write blob", key, exc) from None
