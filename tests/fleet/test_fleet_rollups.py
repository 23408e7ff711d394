"""What the fleet report says, on small hand-made runs in local report folders: which run speaks for a
cluster, roll-ups, shared identities, staleness, and what could not be read."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fleet_helpers import ACCOUNTS, finding, publish, report

from kubeiam.quarterly.fleet import Fleet, FleetSettings, build_fleet
from kubeiam.quarterly.stores import LocalStore, ReportStore

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ROLE = "arn:aws:iam::111122223333:role/shared-reader"
OTHER = "arn:aws:iam::444455556666:role/only-here"


def fleet_of(*sources: ReportStore, **settings: Any) -> tuple[Fleet, list[dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    fleet = build_fleet(list(sources), FleetSettings(now=NOW, accounts=ACCOUNTS, **settings), rows.append)
    return fleet, rows


def by_name(fleet: Fleet) -> dict[str, dict[str, Any]]:
    return {c["cluster"]: c for c in fleet.clusters}


def test_an_identity_shared_by_clusters_is_shown_once_with_all_its_service_accounts(tmp_path: Path) -> None:
    root = LocalStore(tmp_path / "fleet")
    a = [
        finding("a", "ns1", "reader", principal=ROLE, owner="team-x"),
        finding("a", "ns2", "reader2", principal=ROLE, owner="team-x"),
        finding("a", "ns1", "solo", rule="AWS-002", principal=OTHER, severity="critical", owner="team-y"),
    ]
    b = [finding("b", "ns1", "reader", principal=ROLE, owner="team-x")]
    publish(root.child("a"), report(["a"], a), tmp_path)
    publish(root.child("b"), report(["b"], b), tmp_path)
    fleet, rows = fleet_of(LocalStore(tmp_path / "fleet"))
    assert len(rows) == 4 and {r["cluster"] for r in rows} == {"a", "b"}
    (shared,) = fleet.shared_identities
    assert shared["principal"] == ROLE and shared["clusters"] == ["a", "b"]
    assert [(s["cluster"], s["namespace"], s["service_account"]) for s in shared["service_accounts"]] == [
        ("a", "ns1", "reader"),
        ("a", "ns2", "reader2"),
        ("b", "ns1", "reader"),
    ]
    # Its findings once, with how many ServiceAccount findings each stands for.
    assert [(f["title"], f["count"]) for f in shared["findings"]] == [
        ("AWS-001 on reader", 2),
        ("AWS-001 on reader2", 1),
    ]
    assert shared["account"] == {"cloud": "aws", "kind": "account", "id": "111122223333"}
    assert fleet.summary["identities"] == 2 and fleet.summary["shared_identities"] == 1
    accounts = {a["id"]: a for a in fleet.accounts}
    assert accounts["111122223333"]["open"] == 3 and accounts["111122223333"]["clusters"] == ["a", "b"]
    assert accounts["444455556666"]["by_severity"]["critical"] == 1 and accounts["444455556666"]["principals"] == 1
    owners = {o["owner"]: o for o in fleet.owners}
    assert owners["team-x"]["open"] == 3 and owners["team-x"]["clusters"] == ["a", "b"]
    assert fleet.owners[0]["owner"] == "team-y"  # worst first: the critical one
    namespaces = {n["namespace"]: n for n in fleet.namespaces}
    assert namespaces["ns1"]["open"] == 3 and namespaces["ns2"]["clusters"] == ["a"]
    assert all(r["account"] is not None for r in rows) and "evidence" not in rows[0]


def test_the_latest_whole_run_speaks_for_each_cluster(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "reports")
    old = report(["a", "b"], [finding("a", "n", "s"), finding("b", "n", "s")], "2026-10-01T00:00:00Z")
    new_a = report(
        ["a"], [], "2026-11-01T00:00:00Z", scope={"cluster": "a", "namespace": None, "service_account": None}
    )
    narrowed = report(
        ["b"], [], "2026-11-10T00:00:00Z", scope={"cluster": "b", "namespace": "n", "service_account": None}
    )
    for doc in (old, new_a, narrowed):
        publish(store, doc, tmp_path)
    fleet, rows = fleet_of(LocalStore(tmp_path / "reports"))
    clusters = by_name(fleet)
    # a: its own newer run (no findings now); b: the old full run (a namespace run is no state of a cluster)
    assert clusters["a"]["generated_at"] == "2026-11-01T00:00:00Z" and clusters["a"]["total"] == 0
    assert clusters["a"]["status"] == "clean" and clusters["a"]["trend"][0]["by_severity"]["high"] == 1
    assert clusters["b"]["generated_at"] == "2026-10-01T00:00:00Z" and clusters["b"]["total"] == 1
    assert [r["cluster"] for r in rows] == ["b"]
    assert fleet.summary["clean"] == 1 and fleet.summary["findings"] == 1


def test_a_cluster_without_a_run_within_the_schedule_is_stale_and_never_clean(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "r")
    publish(store.child("quiet"), report(["quiet"], [], "2026-06-01T00:00:00Z"), tmp_path)
    publish(store.child("busy"), report(["busy"], [finding("busy", "n", "s")], "2026-11-19T00:00:00Z"), tmp_path)
    fleet, _ = fleet_of(LocalStore(tmp_path / "r"))
    quiet = by_name(fleet)["quiet"]
    assert quiet["stale"] and quiet["status"] == "stale" and quiet["age_days"] == 172.5 and quiet["open"] == 0
    assert fleet.summary["stale"] == 1 and fleet.summary["clean"] == 0
    fleet, _ = fleet_of(LocalStore(tmp_path / "r"), stale_after=timedelta(days=200))
    assert by_name(fleet)["quiet"]["status"] == "clean"


def test_what_could_not_be_read_is_listed_and_never_clean(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "r")
    publish(store.child("a"), report(["a"], [], "2026-11-01T00:00:00Z"), tmp_path)
    (tmp_path / "r" / "a" / "2026-11-15T000000Z").mkdir()
    (tmp_path / "r" / "a" / "2026-11-15T000000Z" / "run.json").write_text("{damaged")
    run_b = publish(store.child("b"), report(["b"], [finding("b", "n", "s")], "2026-11-01T00:00:00Z"), tmp_path)
    findings_b = tmp_path / "r" / "b" / run_b / "findings.json"
    findings_b.write_text(findings_b.read_text().replace('"high"', '"low"'))  # changed after publication
    empty = LocalStore(tmp_path / "nothing-here")
    fleet, rows = fleet_of(LocalStore(tmp_path / "r"), empty)
    a, b = by_name(fleet)["a"], by_name(fleet)["b"]
    assert a["status"] == "incomplete" and "a newer run could not be read" in a["problems"][0]
    assert b["status"] == "incomplete" and "changed after publication" in b["problems"][0]
    assert rows == []  # nothing of the altered file was trusted
    wheres = [p["where"] for p in fleet.problems]
    assert f"{tmp_path}/r/a/2026-11-15T000000Z" in wheres and str(tmp_path / "nothing-here") in wheres
    assert fleet.summary["clean"] == 0 and fleet.summary["incomplete"] == 2


def test_a_run_written_before_run_json_existed_is_read_from_its_findings(tmp_path: Path) -> None:
    run = tmp_path / "legacy" / "2026-11-01T000000Z"
    run.mkdir(parents=True)
    (run / "findings.json").write_text(json.dumps(report(["a"], [finding("a", "n", "s", severity="critical")])))
    fleet, rows = fleet_of(LocalStore(tmp_path / "legacy"))
    assert by_name(fleet)["a"]["by_severity"]["critical"] == 1 and len(rows) == 1 and fleet.problems == []


def test_the_same_cluster_in_two_report_folders_counts_once_from_the_newer(tmp_path: Path) -> None:
    cron, laptop = LocalStore(tmp_path / "cron"), LocalStore(tmp_path / "laptop")
    publish(cron, report(["a"], [finding("a", "n", "s")], "2026-11-10T00:00:00Z"), tmp_path)
    publish(laptop, report(["a"], [finding("a", "n", "s"), finding("a", "n", "t")], "2026-11-01T00:00:00Z"), tmp_path)
    fleet, rows = fleet_of(LocalStore(tmp_path / "cron"), LocalStore(tmp_path / "laptop"))
    (a,) = fleet.clusters
    assert a["report_folder"] == str(tmp_path / "cron") and a["also_in"] == [str(tmp_path / "laptop")]
    assert a["total"] == 1 and len(rows) == 1 and len(a["trend"]) == 2


def test_suppressed_findings_count_apart_and_bad_findings_are_named(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "r")
    docs = [
        finding("a", "n", "s", status="suppressed"),
        finding("a", "n", "t", severity="urgent"),
        finding("a", "n", "u", severity="medium"),
    ]
    publish(store, report(["a"], docs), tmp_path)
    fleet, rows = fleet_of(LocalStore(tmp_path / "r"))
    a = by_name(fleet)["a"]
    assert (a["open"], a["suppressed"], a["by_severity"]["medium"]) == (1, 1, 1)
    assert any("without a valid severity" in p for p in a["problems"]) and a["status"] == "incomplete"
    assert len(rows) == 2


def test_the_pages_keep_only_the_worst_findings(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "r")
    sev = ["low", "critical", "medium", "high", "critical", "info"]
    publish(store, report(["a"], [finding("a", "n", f"s{i}", severity=s) for i, s in enumerate(sev)]), tmp_path)
    fleet, rows = fleet_of(LocalStore(tmp_path / "r"), top=3)
    assert len(rows) == 6
    assert [(f["severity"], f["service_account"]) for f in fleet.worst] == [
        ("critical", "s1"),
        ("critical", "s4"),
        ("high", "s3"),
    ]


@pytest.mark.parametrize("top", [0])
def test_no_worst_list_when_none_is_asked(tmp_path: Path, top: int) -> None:
    store = LocalStore(tmp_path / "r")
    publish(store, report(["a"], [finding("a", "n", "s")]), tmp_path)
    fleet, rows = fleet_of(LocalStore(tmp_path / "r"), top=top)
    assert fleet.worst == [] and len(rows) == 1


def test_the_installed_providers_place_principals_as_these_tests_do() -> None:
    """Once the providers declare their account patterns (Declarations.accounts), they agree with ACCOUNTS."""
    from kubeiam.quarterly.fleet_cli import _declared_accounts
    from kubeiam.quarterly.fleet_rollup import AccountOf

    declared = _declared_accounts()
    if not declared:
        pytest.skip("the providers do not declare account patterns yet (Declarations.accounts)")
    texts = [
        "arn:aws:iam::111122223333:role/payments-api",
        "arn:aws:eks:eu-west-1:111122223333:cluster/eks-prod",
        "frontend@acme-data.iam.gserviceaccount.com",
        "418274159822-compute@developer.gserviceaccount.com",
        "principal://iam.googleapis.com/projects/418274159822/locations/global/workloadIdentityPools/"
        "acme-data.svc.id.goog/subject/ns/batch/sa/exporter",
        "//container.googleapis.com/projects/acme-data/locations/europe-west1/clusters/gke-data",
        "/subscriptions/8f3c2d1e-4b5a-4c6d-9e8f-0a1b2c3d4e5f/resourcegroups/rg-apps/providers/"
        "microsoft.managedidentity/userassignedidentities/id-orders-worker",
        "6f1c2d3e-0000-4000-8000-000000000001",
    ]
    mine, theirs = AccountOf(ACCOUNTS), AccountOf(declared)
    assert [theirs(t) for t in texts] == [mine(t) for t in texts]
    assert mine(texts[3]) is None and mine(texts[-1]) is None and mine(texts[4])["id"] == "acme-data"  # type: ignore[index]
