"""Smoke tests: the benchmark runners work end to end at tiny scale (no timing is asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_analysis import kubeiam_audit, render
from generate import generate


def test_analysis_runner_times_a_real_audit(tmp_path: Path) -> None:
    generate(tmp_path / "estate", 40, 8, 4, 2)
    report = tmp_path / "report.json"
    result = kubeiam_audit(tmp_path / "estate", report, repeat=1)
    assert result["wall"] > 0 and result["rss"] > 0 and len(result["runs"]) == 1
    doc = json.loads(report.read_text())
    assert doc["coverage"]["service_accounts"]["seen"] == 40
    assert doc["findings"]
    table = render(
        {
            "date": "d",
            "cores": 2,
            "load_before": [0],
            "load_after": [0],
            "scale": {"service_accounts": 40, "roles": 8, "policies": 4, "nodes": 2},
            "rows": [{"tool": "kubeiam", **result, "note": "n"}],
            "scaling": [{"service_accounts": 40, **result, "findings": len(doc["findings"])}],
        }
    )
    assert "| kubeiam |" in table and "| 40 |" in table


def test_live_collection_of_a_tiny_estate_meets_its_lower_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seed moto (behind the latency middleware, at zero latency) and collect: what the bound says is needed."""
    pytest.importorskip("moto.server")
    import argparse

    from bench_live import FAKE_ENV, isolated_env, needs_of, start_server
    from estate import Scale, build
    from kubeiam_aws.live import CallCounter, collect
    from kubeiam_kubernetes.evidence.reader import read as read_kubernetes
    from lower_bound import lower_bound
    from seed_aws import MOTO_ACCOUNT, seed, write_kubernetes

    from kubeiam.pipeline.evidence import Evidence
    from kubeiam.pipeline.providers import CollectRequest, declarations_of, load_providers
    from kubeiam.vocabulary.model import Inventory

    for k, v in FAKE_ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    # moto in its own process: its backends are global per process, and the live AWS tests seed theirs
    # in this same xdist worker.
    server, url = start_server(isolated_env(tmp_path))
    try:
        assert url.startswith("http://127.0.0.1:")
        monkeypatch.setenv("KUBEIAM_AWS_ENDPOINT_URL", url)
        scale = Scale(service_accounts=6, roles=3, policies=2, nodes=2)
        estate = build(scale, MOTO_ACCOUNT, aws_managed=False)
        seeded = seed(estate, url)
        ev = write_kubernetes(estate, seeded, tmp_path / "ev")
        counter = CallCounter()
        errors = collect(
            CollectRequest(argparse.Namespace(), ev),
            read_kubernetes(Evidence(ev), Inventory(declarations=declarations_of(load_providers()))),
            counter,
        )
        assert errors == []
        iam = json.loads((ev / f"aws/{MOTO_ACCOUNT}/iam.json").read_text())
        assert {r["RoleName"] for r in iam["RoleDetailList"]} >= {r.name for r in estate.roles}
        bound = lower_bound(needs_of(scale, check=False))
        assert counter.total >= bound.total  # the bound is a bound
        assert counter.calls["ec2:DescribeInstances"] == bound.calls["ec2:DescribeInstances"]
        # The middleware pages GetAccountAuthorizationDetails as AWS does (moto alone answers in one page).
        import boto3

        client = boto3.client("iam", endpoint_url=url)
        pages = list(
            client.get_paginator("get_account_authorization_details").paginate(PaginationConfig={"PageSize": 3})
        )
        items = [x for p in pages for key in ("RoleDetailList", "Policies") for x in p.get(key, [])]
        roles = client.list_roles()["Roles"]
        policies = client.list_policies(Scope="Local")["Policies"]
        assert len(items) == len(roles) + len(policies) == scale.roles + 1 + scale.policies
        assert len(pages) == -(-len(items) // 3)
        assert len({x.get("Arn") for x in items}) == len(items)
    finally:
        server.terminate()
        server.wait(timeout=10)
