"""Report folders in Amazon S3: `--report-dir s3://BUCKET/PREFIX` (plug-in of the `kubeiam.stores` group).

boto3 is imported when the store is first used, never by an offline audit. Credentials come from the
default chain (IRSA or EKS Pod Identity in the CronJob's pod); `AWS_ENDPOINT_URL_S3` points boto3 at
another endpoint. Encryption: without `--report-sse` nothing is sent, so the bucket's default
encryption applies (SSE-S3 at least, or the bucket's KMS key); `--report-sse KEY` asks for SSE-KMS with
that key (`aws:kms` for the account's default key, `AES256` for SSE-S3), as a bucket policy that denies
unencrypted uploads may require. Every object is written create-only (`If-None-Match: *`).
"""

from __future__ import annotations

import re
import shutil
from functools import cached_property
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from kubeiam.errors import InputError
from kubeiam.quarterly.stores import StoreConflict, StoreError, StoreMissing, StoreOptions, shown_url

SCHEME = "s3"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_CONFLICT = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}
_MISSING = {"NoSuchKey", "404", "NotFound"}


def open_store(url: str, options: StoreOptions) -> S3Bucket | None:
    """The `s3` entry point: `s3://BUCKET/PREFIX`."""
    parts = urlsplit(url)
    if parts.scheme.lower() != SCHEME:
        return None
    if not _BUCKET.match(parts.netloc) or ".." in parts.netloc:
        raise InputError(f"{shown_url(url)}: '{parts.netloc}' is not an S3 bucket name (s3://BUCKET/PREFIX)")
    return S3Bucket(parts.netloc, parts.path.strip("/"), options)


def sse_arguments(key: str | None) -> dict[str, str]:
    """PutObject's encryption arguments for `--report-sse`: none (the bucket default), or SSE-S3, or SSE-KMS."""
    if not key:
        return {}
    if key == "AES256":
        return {"ServerSideEncryption": "AES256"}
    if key in ("aws:kms", "aws:kms:dsse"):
        return {"ServerSideEncryption": key}
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key}


class S3Bucket:
    def __init__(self, bucket: str, prefix: str, options: StoreOptions) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.options = options
        self.url = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"

    @cached_property
    def client(self) -> Any:
        if self.options.client is not None:
            return self.options.client
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=self.options.endpoint, config=Config(retries={"mode": "standard", "max_attempts": 5})
        )

    def _key(self, key: str) -> str:
        return "/".join(p for p in (self.prefix, key.strip("/")) if p)

    def _failed(self, action: str, key: str, exc: Exception) -> StoreError:
        """One line: the action, the object and the error code (never a response body)."""
        where = f"s3://{self.bucket}/{self._key(key)}"
        from botocore.exceptions import ClientError

        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            code = str(err.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
            if code in _CONFLICT:
                return StoreConflict(f"{where}: already exists")
            if code in _MISSING:
                return StoreMissing(f"{where}: not found")
            return StoreError(f"{where}: {action} failed: {code}: {err.get('Message') or ''}".rstrip(": "))
        return StoreError(f"{where}: {action} failed: {type(exc).__name__}: {exc}")

    def list_dirs(self, prefix: str) -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        start = self._key(prefix)
        start = f"{start}/" if start else ""
        names = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=start, Delimiter="/"
            ):
                names += [p["Prefix"][len(start) :].rstrip("/") for p in page.get("CommonPrefixes", [])]
        except (BotoCoreError, ClientError) as exc:
            raise self._failed("s3:ListBucket", prefix, exc) from None
        return names

    def read(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
            with body:
                data: bytes = body.read()
                return data
        except (BotoCoreError, ClientError) as exc:
            raise self._failed("s3:GetObject", key, exc) from None

    def download(self, key: str, fh: IO[bytes]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
            with body:
                shutil.copyfileobj(body, fh, 1 << 20)
        except (BotoCoreError, ClientError) as exc:
            raise self._failed("s3:GetObject", key, exc) from None

    def write(self, key: str, source: Path | bytes, *, create_only: bool, content_type: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key), "ContentType": content_type}
        args |= sse_arguments(self.options.encryption_key)
        if create_only:
            args["IfNoneMatch"] = "*"
        try:
            if isinstance(source, bytes):
                self.client.put_object(Body=source, **args)
                return
            with source.open("rb") as fh:
                self.client.put_object(Body=fh, **args)
        except (BotoCoreError, ClientError) as exc:
            raise self._failed("s3:PutObject", key, exc) from None
        except OSError as exc:
            raise StoreError(f"{key}: cannot read the file to upload: {exc.strerror or exc}") from None
