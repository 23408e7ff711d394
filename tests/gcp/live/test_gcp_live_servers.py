"""The local Google Cloud servers page lists as the APIs do (the benchmark's call counts rely on it)."""

from __future__ import annotations

import json
import urllib.request

import pytest
from gcp_live_servers import FakeGcp
from kubeiam_gcp.live.clients import Clients


def test_rest_server_pages_a_list_by_the_page_size_asked_up_to_its_maximum(
    gcp: FakeGcp, monkeypatch: pytest.MonkeyPatch
):
    items = [{"n": i} for i in range(7)]
    monkeypatch.setitem(gcp.rest.routes, "/v1/projects/p:search", {"_items": items, "_key": "results", "_max_page": 3})
    pages, token = [], ""
    while True:
        query = "pageSize=5" + (f"&pageToken={token}" if token else "")
        with urllib.request.urlopen(f"{gcp.rest.url}/v1/projects/p:search?{query}", timeout=10) as response:
            body = json.loads(response.read())
        pages.append([r["n"] for r in body["results"]])
        token = body.get("nextPageToken", "")
        if not token:
            break
    assert pages == [[0, 1, 2], [3, 4, 5], [6]]


def test_iam_server_pages_custom_roles(gcp: FakeGcp):
    iam = Clients(gcp.settings).iam()
    roles = list(iam.list_roles(request={"parent": "projects/acme-data", "page_size": 3}))
    assert len(roles) == 4
    assert gcp.iam.requests["ListRoles", "projects/acme-data"] == 2
