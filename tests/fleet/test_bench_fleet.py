"""Smoke test: the fleet benchmark's generator writes runs the fleet reads back exactly (no timing asserted)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))


def test_the_generated_fleet_reads_back_with_its_totals(tmp_path: Path) -> None:
    import bench_fleet

    from kubeiam.quarterly.fleet import FleetSettings, build_fleet
    from kubeiam.quarterly.stores import LocalStore

    generated = bench_fleet.generate(tmp_path / "kubeiam", clusters=8, sas=20, runs=2)
    rows: list[dict[str, object]] = []
    fleet = build_fleet(
        [LocalStore(tmp_path / "kubeiam")], FleetSettings(now=datetime(2026, 11, 21, tzinfo=UTC)), rows.append
    )
    assert fleet.problems == [] and all(not c["problems"] for c in fleet.clusters)
    assert fleet.summary["total"] == len(rows) == generated["findings"] == 8 * (12 * 7 + 8 * 2)
    assert fleet.summary["clusters"] == 8 and all(len(c["trend"]) == 2 for c in fleet.clusters)
    # Platform roles are shared by the clusters of one account (clusters 0, 3, 6 of the first AWS account).
    shared = {tuple(i["clusters"]) for i in fleet.shared_identities}
    assert ("aws-c000", "aws-c003", "aws-c006") in shared
    first = tmp_path / "kubeiam" / "aws-c000"
    runs = sorted(p.name for p in first.iterdir())
    assert json.loads((first / runs[-1] / "run.json").read_text())["clusters"][0]["total"] == 100
