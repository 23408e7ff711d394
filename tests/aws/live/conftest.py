"""Fixtures for the live AWS tests: one moto server and one front server per xdist worker, seeded once."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aws_live_estate import Estate, seed
from aws_live_harness import LiveAws
from aws_live_servers import FrontServer
from aws_live_usage import UsageApi, analyzer

_FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture(scope="session")
def aws_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, FrontServer, Estate, Path]]:
    """(moto URL, front server, seeded estate, empty AWS config dir), once per worker process."""
    pytest.importorskip("moto.server")
    from moto.server import ThreadedMotoServer

    config = tmp_path_factory.mktemp("aws-config")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    moto_url = f"http://{host}:{port}"
    front = FrontServer(moto_port=port).start()
    # The fake environment only while seeding: other tests of this worker must not inherit it.
    with pytest.MonkeyPatch.context() as mp:
        _fake_aws_env(mp, config)
        mp.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")  # read by moto on the first IAM call
        estate = seed(moto_url)
    front.associations = {estate.cluster: estate.associations}
    front.access_entries = {estate.cluster: estate.access_entries}
    try:
        yield moto_url, front, estate, config
    finally:
        front.stop()
        server.stop()


_AMBIENT = ("AWS_PROFILE", "AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS", "AWS_REGION")


def _fake_aws_env(mp: pytest.MonkeyPatch, config: Path) -> None:
    for key, value in _FAKE_ENV.items():
        mp.setenv(key, value)
    mp.setenv("AWS_CONFIG_FILE", str(config / "config"))  # never the developer's own profiles
    mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(config / "credentials"))
    for key in [k for k in os.environ if k.startswith(("AWS_ENDPOINT_URL", "KUBEIAM_AWS_")) or k in _AMBIENT]:
        mp.delenv(key)


@pytest.fixture
def live_aws(
    aws_servers: tuple[str, FrontServer, Estate, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> LiveAws:
    moto_url, front, estate, config = aws_servers
    _fake_aws_env(monkeypatch, config)
    # botocore's own per-service endpoint variables: EKS and IAM through the front server (Pod
    # Identity routes, fault injection), everything else straight to moto.
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_EKS", front.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_IAM", front.url)
    # The usage APIs moto lacks (AWS-024): a fresh state per test, jobs done at once, polled without waiting.
    monkeypatch.setenv("AWS_ENDPOINT_URL_ACCESSANALYZER", front.url)
    monkeypatch.setenv("KUBEIAM_AWS_USAGE_POLL", "0.01")
    front.usage = UsageApi(polls_before_done=0, analyzers=[analyzer(estate.account, estate.region)])
    return LiveAws(moto_url, front, estate, tmp_path)


@pytest.fixture
def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> Callable[..., tuple[int, str, str]]:
    """`kubeiam ARGS` in-process, with the Kubernetes and AWS providers only: (exit code, stdout, stderr)."""
    from kubeiam_aws import PROVIDER as AWS
    from kubeiam_kubernetes import PROVIDER as KUBERNETES

    import kubeiam.cli as cli

    # Only the providers this estate needs: the others would look for their own clouds.
    monkeypatch.setattr(cli, "load_providers", lambda: (KUBERNETES, AWS))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli.main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture
def live_cli(live_aws: LiveAws, kube_api: Callable[..., object], tmp_path: Path) -> Callable[..., list[str]]:
    """The estate's cluster behind a fake Kubernetes API: the options of a live run against it, with the
    kubeconfig naming the cluster `cluster` (default: its EKS ARN, as `aws eks update-kubeconfig` does)."""

    def options(cluster: str | None = None) -> list[str]:
        source = live_aws.evidence(f"kubernetes-source-{len(list(tmp_path.iterdir()))}")
        api = kube_api(source / "kubernetes" / live_aws.estate.cluster, max_page=3)
        name = cluster or live_aws.estate.cluster_arn
        path = tmp_path / f"kubeconfig-{len(list(tmp_path.iterdir()))}"
        kubeconfig = api.write_kubeconfig(path, context="demo", cluster=name)  # type: ignore[attr-defined]
        return ["--kubeconfig", str(kubeconfig)]

    return options
