"""Shared helpers for the quarterly-audit tests: the fixture evidence, a changed copy of it, a CLI runner."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kubeiam import cli

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "fixtures" / "quarterly" / "evidence"
DEMO = REPO / "fixtures" / "demo"
MISSPELT = "eks.amazonaws.com/role_arn"


def change_evidence(src: Path, dst: Path, *, cluster: str, fixed_sa: str, broken_sa: tuple[str, str]) -> None:
    """Copy `src` to `dst` with one problem fixed (static keys removed from `fixed_sa`'s pods), one
    introduced (a misspelt role annotation on `broken_sa`), and every list and map reordered."""
    shutil.copytree(src, dst)
    path = dst / "kubernetes" / cluster / "resources.json"
    doc = json.loads(path.read_text())
    for item in doc["items"]:
        meta, spec = item["metadata"], item.get("spec") or {}
        if item["kind"] == "Pod" and spec.get("serviceAccountName") == fixed_sa:
            for c in spec.get("containers", []):
                c["env"] = [e for e in c.get("env", []) if not e["name"].startswith("AWS_")]
        if item["kind"] == "ServiceAccount" and (meta.get("namespace"), meta["name"]) == broken_sa:
            meta["annotations"] = {MISSPELT: "arn:aws:iam::111122223333:role/introduced", **meta.get("annotations", {})}
        for c in spec.get("containers", []):
            c["env"] = list(reversed(c.get("env", [])))
        if "annotations" in meta:
            meta["annotations"] = dict(reversed(list(meta["annotations"].items())))
    doc["items"] = list(reversed(doc["items"]))
    path.write_text(json.dumps(doc, indent=1))


class Clock:
    """Stands in for `datetime` in kubeiam.cli: each `now()` is the next tick, an hour apart."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self, tz: Any = None) -> datetime:
        value = self.current
        self.current += timedelta(hours=1)
        return value


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock(datetime(2026, 1, 15, 9, 0, tzinfo=UTC))
    monkeypatch.setattr(cli, "datetime", c)
    return c


@pytest.fixture
def evidence(tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / "evidence"
    shutil.copytree(FIXTURE, target)
    yield target


def audit_json(run_cli: Callable[..., tuple[int, str, str]], *argv: str | Path) -> tuple[int, dict[str, Any]]:
    code, out, err = run_cli("audit", "--format", "json", "--quiet", *argv)
    assert code in (0, 1), err
    return code, json.loads(out)
