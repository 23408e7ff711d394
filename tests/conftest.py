"""Shared fixtures. Servers bind 127.0.0.1 on an ephemeral port, one per test (safe under xdist)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from servers.kube_api import KubeApiServer


@pytest.fixture
def kube_api() -> Iterator[Callable[..., KubeApiServer]]:
    """Factory: `kube_api(objects_or_cluster_dir, **options)` starts a fake Kubernetes API server.

    Pass a `kubernetes/<cluster>` evidence directory (its resources.json and openid-configuration.json
    are served) or a list of objects; options are those of `KubeApiServer` (max_page, forbidden,
    crds, token, openid_configuration, expire_continue). Every server started is stopped after the test.
    """
    started: list[KubeApiServer] = []

    def start(source: Path | list[dict[str, Any]], **options: Any) -> KubeApiServer:
        server = (
            KubeApiServer.from_evidence(source, **options)
            if isinstance(source, Path)
            else KubeApiServer(source, **options)
        )
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run `kubeiam` in-process: (exit code, stdout, stderr)."""
    from kubeiam import cli

    def run(*argv: str | Path) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run
