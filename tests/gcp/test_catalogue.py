"""The bundled predefined-role catalogue: dated, compact, loaded once, refreshable."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from kubeiam_gcp.judge import catalogue
from kubeiam_gcp.judge.catalogue import BUNDLED, load_catalogue, read_catalogue, write_catalogue


def test_bundled_catalogue_is_dated_attributed_and_small() -> None:
    cat = load_catalogue()
    assert cat.date == "2026-08-22"
    assert "iam-dataset" in cat.source
    assert BUNDLED.stat().st_size < 400_000  # package data: keep it compact
    meta = json.loads(gzip.decompress(BUNDLED.read_bytes()))["_meta"]
    assert "MIT" in meta["licence"]
    assert len(cat.permissions_of("roles/owner") or ()) == 13568
    assert len(cat.permissions_of("roles/editor") or ()) == 11979
    assert cat.permissions_of("roles/does-not-exist") is None


def test_loaded_once() -> None:
    assert load_catalogue() is load_catalogue()


def test_write_then_read_round_trips_and_drops_deleted(tmp_path: Path) -> None:
    roles = [
        {"name": "roles/a", "title": "A", "stage": "GA", "includedPermissions": ["x.y.get", "x.y.list", "a.b.c"]},
        {"name": "roles/b", "title": "B", "stage": "BETA", "includedPermissions": []},
        {"name": "roles/c", "deleted": True, "includedPermissions": ["z.z.z"]},
    ]
    path = write_catalogue(roles, tmp_path / "roles.json.gz", source="test", date="2030-01-02")
    cat = read_catalogue(path)
    assert cat.date == "2030-01-02"
    assert cat.roles == {"roles/a": frozenset({"x.y.get", "x.y.list", "a.b.c"}), "roles/b": frozenset()}
    assert cat.stages["roles/b"] == "BETA"


def test_env_override_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_catalogue([{"name": "roles/only", "includedPermissions": ["p.q.r"]}], tmp_path / "c.json.gz")
    monkeypatch.setenv(catalogue.ENV_OVERRIDE, str(path))
    load_catalogue.cache_clear()
    try:
        assert set(load_catalogue().roles) == {"roles/only"}
    finally:
        monkeypatch.delenv(catalogue.ENV_OVERRIDE)
        load_catalogue.cache_clear()
    assert "roles/owner" in load_catalogue().roles


def test_not_a_catalogue_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(gzip.compress(b'{"roles": {"roles/a": {"p": [5]}}, "permissions": []}'))
    with pytest.raises(ValueError, match="not a kubeiam GCP role catalogue"):
        read_catalogue(bad)
