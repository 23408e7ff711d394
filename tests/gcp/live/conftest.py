"""Session-scoped local Google Cloud servers (one pair per xdist worker), reset before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gcp_live_servers import FIXTURES, FakeGcp, IamServer, RestServer
from kubeiam_gcp.live.clients import IAM_GRPC_ENDPOINT_VAR, REST_ENDPOINT_VAR, Settings
from kubeiam_kubernetes import PROVIDER as KUBERNETES

from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import Inventory


@pytest.fixture(scope="session")
def rest_server() -> Iterator[RestServer]:
    server = RestServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def iam_server() -> Iterator[IamServer]:
    server = IamServer().start()
    yield server
    server.stop()


@pytest.fixture
def gcp(rest_server: RestServer, iam_server: IamServer, monkeypatch: pytest.MonkeyPatch) -> FakeGcp:
    rest_server.reset()
    iam_server.reset()
    # The environment is what the CLI path uses; tests pass `settings` for short back-offs.
    monkeypatch.setenv(REST_ENDPOINT_VAR, rest_server.url)
    monkeypatch.setenv(IAM_GRPC_ENDPOINT_VAR, iam_server.target)
    settings = Settings(
        rest_endpoint=rest_server.url,
        iam_grpc_endpoint=iam_server.target,
        retry_initial=0.01,
        retry_maximum=0.05,
        retry_deadline=30.0,
    )
    return FakeGcp(rest_server, iam_server, settings)


@pytest.fixture
def inventory() -> Inventory:
    return KUBERNETES.read(Evidence(FIXTURES / "evidence"), Inventory())
