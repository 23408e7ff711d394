"""Fixtures for the ticket tests: fake Jira and GitHub servers on 127.0.0.1, stopped after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from servers.fake_github import FakeGitHub
from servers.fake_jira import FakeJira
from tickets_helpers import quarters, recorded_sleeps

__all__ = ["quarters", "recorded_sleeps"]

_AMBIENT = (
    "JIRA_SERVER", "JIRA_URL", "JIRA_EMAIL", "JIRA_USER", "JIRA_API_TOKEN", "JIRA_PROJECT",
    "GITHUB_TOKEN", "GH_TOKEN", "GITHUB_REPOSITORY", "GITHUB_API_URL", "GITHUB_APP_ID",
    "GITHUB_APP_INSTALLATION_ID", "GITHUB_APP_PRIVATE_KEY", "GITHUB_APP_PRIVATE_KEY_FILE",
)  # fmt: skip


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's or CI's own tracker credentials must never reach a test (or a real tracker)."""
    for name in _AMBIENT:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def jira_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., FakeJira]]:
    """Factory: `jira_server(**options)` starts a FakeJira and points the JIRA_* variables at it."""
    started: list[FakeJira] = []

    def start(**options: Any) -> FakeJira:
        server = FakeJira(**options).start()
        started.append(server)
        monkeypatch.setenv("JIRA_SERVER", server.url)
        monkeypatch.setenv("JIRA_EMAIL", server.email)
        monkeypatch.setenv("JIRA_API_TOKEN", server.token)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def github_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., FakeGitHub]]:
    """Factory: `github_server(**options)` starts a FakeGitHub and points the GITHUB_* variables at it."""
    started: list[FakeGitHub] = []

    def start(**options: Any) -> FakeGitHub:
        server = FakeGitHub(**options).start()
        started.append(server)
        monkeypatch.setenv("GITHUB_API_URL", server.url)
        monkeypatch.setenv("GITHUB_TOKEN", server.token)
        monkeypatch.setenv("GITHUB_REPOSITORY", f"{server.owner}/{server.repo}")
        return server

    yield start
    for server in started:
        server.stop()
