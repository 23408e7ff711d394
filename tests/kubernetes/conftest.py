"""Helpers for the Kubernetes provider's tests: run the CLI in-process, with only this provider."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes_alone import kubernetes_alone

from kubeiam.pipeline.providers import Provider


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> dict[str, Any]:
        return json.loads(self.out)

    def fingerprints(self) -> set[str]:
        return {f["fingerprint"] for f in self.json()["findings"]}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No kubeconfig, no in-cluster environment, a fresh HOME and working directory."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture
def kubernetes_providers() -> tuple[Provider, ...]:
    return kubernetes_alone()


@pytest.fixture
def kubeiam_cli(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[..., CliResult]]:
    """Run `kubeiam ...` in-process with only the Kubernetes provider reading and collecting.

    Why only it: the cloud providers' live collection would try to reach their clouds for the
    identities the fixtures name; their own end-to-end tests run them against their own servers.
    """
    import kubeiam.cli as cli

    providers = kubernetes_alone()
    monkeypatch.setattr(cli, "load_providers", lambda: providers)

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = cli.main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    yield run
