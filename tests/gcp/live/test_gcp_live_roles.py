"""Refreshing the predefined-role catalogue from the IAM API (the local gRPC server)."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest
from gcp_live_servers import FIXTURES, FakeGcp
from kubeiam_gcp.judge.catalogue import read_catalogue
from kubeiam_gcp.live import refresh_role_catalogue


def test_refresh_writes_a_catalogue_the_reader_loads(gcp: FakeGcp, tmp_path: Path):
    path = refresh_role_catalogue(tmp_path / "roles.json.gz", settings=gcp.settings)
    catalogue = read_catalogue(path)
    served = json.loads((FIXTURES / "iam" / "predefined-roles.json").read_text())["roles"]
    assert sorted(catalogue.roles) == sorted(r["name"] for r in served)
    for role in served:
        assert catalogue.permissions_of(role["name"]) == frozenset(role["includedPermissions"])
    assert gcp.iam.requests == {("ListRoles", ""): 1}


def test_refresh_refuses_to_write_a_partial_catalogue(gcp: FakeGcp, tmp_path: Path):
    gcp.iam.fail(("ListRoles", ""), grpc.StatusCode.PERMISSION_DENIED)
    with pytest.raises(RuntimeError, match="permission denied"):
        refresh_role_catalogue(tmp_path / "roles.json.gz", settings=gcp.settings)
    assert not (tmp_path / "roles.json.gz").exists()
