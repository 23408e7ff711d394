"""Issue 16, done when: the demo's three clusters, run as three "CronJob" invocations (a one-cluster audit,
published into its report folder) into three emulated buckets (S3, Cloud Storage, Azure Blob), give one
fleet report whose totals equal the three runs'."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fleet_helpers import ACCOUNTS, DEMO_CLUSTERS
from stores.store_cases import Case

from kubeiam.quarterly.fleet_cli import add_fleet_parser, run_fleet


def fleet_args(*argv: str) -> Any:
    import argparse

    parser = argparse.ArgumentParser()
    add_fleet_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["fleet", *argv])


def test_three_clusters_in_three_clouds_make_one_report_with_their_totals(
    cluster_runs: dict[str, Path], make_case: Callable[[str], Case]
) -> None:
    now = datetime.now(UTC)
    cases = {"eks-prod": make_case("s3"), "gke-data": make_case("gcs"), "aks-apps": make_case("azure")}
    for cluster, case in cases.items():  # each cluster's CronJob publishes into its own bucket
        assert case.store(f"kubeiam/{cluster}").publish(cluster_runs[cluster], now)
    sources = [case.store("kubeiam") for case in cases.values()]
    out = io.BytesIO()
    code = run_fleet(
        fleet_args(*(c.url("kubeiam") for c in cases.values())), stores=sources, accounts=ACCOUNTS, out=out
    )
    doc = json.loads(out.getvalue())
    runs = {c: json.loads((cluster_runs[c] / "findings.json").read_text()) for c in DEMO_CLUSTERS}

    assert code == 0 and doc["problems"] == [] and doc["schema_version"] == "kubeiam-fleet/1"
    summary = doc["summary"]
    for key in ("total", "open", "suppressed"):
        assert summary[key] == sum(r["summary"][key] for r in runs.values()), key
    for sev in summary["by_severity"]:
        assert summary["by_severity"][sev] == sum(r["summary"]["by_severity"][sev] for r in runs.values()), sev
    assert summary["total"] == len(doc["findings"]) > 0
    assert {f["fingerprint"] for f in doc["findings"]} == {
        f["fingerprint"] for r in runs.values() for f in r["findings"]
    }
    clusters = {c["cluster"]: c for c in doc["clusters"]}
    assert set(clusters) == set(DEMO_CLUSTERS)
    for name, run in runs.items():
        c = clusters[name]
        assert c["total"] == run["summary"]["total"] and c["by_severity"] == run["summary"]["by_severity"]
        assert c["source"] == cases[name].url("kubeiam")
        assert c["report_folder"] == cases[name].url(f"kubeiam/{name}")
        assert not c["stale"] and len(c["trend"]) == 1
        # What the cluster's own run could not check keeps it from counting as clean in the fleet.
        gaps = len(run["coverage"]["unchecked"]) + len(run["coverage"]["errors"])
        assert c["unchecked"] == len(run["coverage"]["unchecked"])
        assert c["status"] == ("incomplete" if gaps else "findings" if c["open"] else "clean"), name
    # gke-data's s3-mirror names an AWS role whose account is not in that cluster's evidence: unchecked.
    assert clusters["gke-data"]["status"] == "incomplete" and clusters["gke-data"]["unchecked"] == 1
    assert summary["clean"] == 0 and summary["incomplete"] + summary["findings"] == 3
    accounts = {(a["cloud"], a["kind"], a["id"]): a for a in doc["accounts"]}
    assert set(accounts) == {
        ("aws", "account", "111122223333"),
        ("gcp", "project", "acme-data"),
        ("azure", "subscription", "8f3c2d1e-4b5a-4c6d-9e8f-0a1b2c3d4e5f"),
    }
    assert sum(a["open"] for a in doc["accounts"]) == summary["open"]
    assert accounts[("gcp", "project", "acme-data")]["clusters"] == ["gke-data"]
    assert all(f["cluster"] in DEMO_CLUSTERS for f in doc["findings"])


def test_a_second_quarter_adds_a_trend_point_and_a_silent_cluster_turns_stale(
    cluster_runs: dict[str, Path], make_case: Callable[[str], Case]
) -> None:
    """Two quarterly runs of eks-prod, one of gke-data long ago: eks-prod has a trend of two, gke-data is
    stale and its findings still count (last known), never as clean."""
    case = make_case("s3")
    now = datetime.now(UTC)
    folder = case.store("kubeiam/eks-prod")
    folder.publish(cluster_runs["eks-prod"], now - timedelta(days=91))
    folder.publish(cluster_runs["eks-prod"], now)
    case.store("kubeiam/gke-data").publish(cluster_runs["gke-data"], now - timedelta(days=200))
    out = io.BytesIO()
    args = fleet_args(case.url("kubeiam"), "--stale-after", "100")
    code = run_fleet(args, stores=[case.store("kubeiam")], accounts=ACCOUNTS, now=now + timedelta(days=1), out=out)
    doc = json.loads(out.getvalue())
    clusters = {c["cluster"]: c for c in doc["clusters"]}
    assert code == 0
    assert len(clusters["eks-prod"]["trend"]) == 2 and clusters["eks-prod"]["run"].startswith(now.strftime("%Y-%m-%d"))
    # The run's own generated_at is what ages a cluster (the audit ran today, whatever the folder's name).
    assert clusters["gke-data"]["stale"] is False
    assert doc["summary"]["stale"] == 0
    code = run_fleet(
        fleet_args(case.url("kubeiam"), "--stale-after", "100", "--strict"),
        stores=[case.store("kubeiam")],
        accounts=ACCOUNTS,
        now=now + timedelta(days=150),
        out=(out := io.BytesIO()),
    )
    doc = json.loads(out.getvalue())
    assert code == 3  # --strict: stale clusters
    assert {c["cluster"]: c["status"] for c in doc["clusters"]} == {"eks-prod": "stale", "gke-data": "stale"}
    assert doc["summary"]["clean"] == 0 and doc["summary"]["stale"] == 2
    assert doc["summary"]["total"] == sum(c["total"] for c in doc["clusters"]) > 0
