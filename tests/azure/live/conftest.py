"""Fixtures for the live Azure tests: one local HTTPS ARM per xdist worker, reset for every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trustme
from azure_live_helpers import LIVE, FakeCredential
from kubeiam_azure.live.clients import Settings
from kubeiam_kubernetes import PROVIDER as KUBERNETES

from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import Inventory


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_bundle(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("azure-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="session")
def arm_server(ca: trustme.CA) -> Iterator[object]:
    from azure_arm_server import ArmServer

    server = ArmServer(ca)
    yield server
    server.close()


@pytest.fixture
def arm(arm_server):
    arm_server.reset()
    yield arm_server
    arm_server.reset()


@pytest.fixture
def settings(arm, ca_bundle: str) -> Settings:
    # Usage collection on, as by default; no Microsoft Graph: the test server's endpoint is of no known cloud,
    # so sign-ins are not asked for (`usage_settings` adds them; test_azure_live_usage.py).
    return Settings(endpoint=arm.url, ca_bundle=ca_bundle, concurrency=4)


@pytest.fixture
def usage_settings(arm, ca_bundle: str) -> Settings:
    """Usage collection on, Microsoft Graph at the same local server (its `/beta/` routes)."""
    return Settings(endpoint=arm.url, ca_bundle=ca_bundle, concurrency=4, graph_endpoint=arm.url)


@pytest.fixture
def credential(arm) -> FakeCredential:
    return FakeCredential(arm.token)


@pytest.fixture(scope="session")
def k8s_inventory() -> Inventory:
    return KUBERNETES.read(Evidence(LIVE), Inventory())
