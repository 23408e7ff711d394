"""Shared helpers for the live Azure tests (a module of its own: `conftest` is not importable by name)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from azure.core.credentials import AccessToken

from kubeiam.pipeline.providers import CollectRequest

LIVE = Path(__file__).resolve().parents[3] / "fixtures" / "azure" / "live"
SUB_A = "8f3c2d1e-4b5a-4c6d-9e8f-0a1b2c3d4e5f"
SUB_B = "3b9f6a2e-7c1d-4e8f-a5b6-c7d8e9f0a1b2"
GRANT_RULES = ["AZ-001", "AZ-002", "AZ-003", "AZ-004", "AZ-005", "AZ-006", "AZ-012"]  # what role assignments decide
GRAPH_FILES = "azure/<subscription-id>/group-memberships.json, app-roles.json"


def graph_note(evidence: Path) -> tuple[tuple[str, str, None, list[str]], int]:
    """The coverage note of Microsoft Graph, which live collection does not read, as (source, location,
    subject, rules), and the number of role assignments to groups in the collected `evidence`: the note
    names AZ-013, and the grant rules too when groups hold roles (who is in them is unknown)."""
    groups = {
        a["id"]
        for path in (evidence / "azure").glob("*/role-assignments.json")
        for a in json.loads(path.read_text())
        if a["properties"]["principalType"] == "Group"
    }
    return ("azure", GRAPH_FILES, None, [*GRANT_RULES, "AZ-013"] if groups else ["AZ-013"]), len(groups)


class FakeCredential:
    """A TokenCredential with a dummy token; counts how often it is asked."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        self.calls += 1
        return AccessToken(self.token, int(time.time()) + 3600)


def make_request(output: Path, *, subscriptions=None, namespace=None, service_account=None) -> CollectRequest:
    options = argparse.Namespace()
    if subscriptions is not None:
        options.azure_subscriptions = subscriptions
    return CollectRequest(options=options, output=output, namespace=namespace, service_account=service_account)
