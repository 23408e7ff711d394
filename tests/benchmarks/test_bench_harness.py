"""Smoke tests of the benchmark harness: lower bounds, the latency server, the comparison, the runners."""

from __future__ import annotations

import dataclasses
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from aws_server import LatencyApp, operation
from compare import cloudsplaining_roles, compare, kubeiam_roles
from lower_bound import Needs, bulk_calls, lower_bound, per_role_calls, wall_bound


def test_lower_bound_of_a_small_estate_picks_per_role_when_the_account_is_big() -> None:
    # 3 roles needed (1 inline each), 2 distinct managed policies, 1 instance profile, 1200 instances,
    # 1 node group; an account of 20000 roles and 900 policies: bulk would be 21 pages, per-role is 17.
    n = Needs(
        roles=3,
        inline_policies=3,
        managed_policies=2,
        instance_profiles=1,
        instances=1200,
        nodegroups=1,
        account_roles=20000,
        account_policies=900,
    )
    b = lower_bound(n)
    assert b.iam_strategy == "per-role"
    assert b.calls == {
        "eks:DescribeCluster": 1,
        "eks:ListPodIdentityAssociations": 1,
        "eks:ListNodegroups": 1,
        "eks:DescribeNodegroup": 1,
        "eks:ListAccessEntries": 1,  # whether anyone is mapped into the cluster (K8S-006): one page, empty
        "ec2:DescribeInstances": 2,
        "iam:GetInstanceProfile": 1,
        "iam:GetRole": 3,
        "iam:ListRolePolicies": 3,
        "iam:GetRolePolicy": 3,
        "iam:ListAttachedRolePolicies": 3,
        "iam:GetPolicy": 2,
        "iam:GetPolicyVersion": 2,
        "iam:GetOpenIDConnectProvider": 1,
    }
    assert b.total == 25
    assert sum(bulk_calls(n).values()) == 21
    # With access entries (2, one STANDARD) and the usage data of the 3 roles (AWS-024): their own calls on top.
    more = lower_bound(dataclasses.replace(n, access_entries=2, standard_access_entries=1, usage_roles=3))
    assert {k: v for k, v in more.calls.items() if b.calls.get(k) != v} == {
        "eks:DescribeAccessEntry": 2,
        "eks:ListAssociatedAccessPolicies": 1,
        "iam:GenerateServiceLastAccessedDetails": 3,
        "iam:GetServiceLastAccessedDetails": 3,
        "accessanalyzer:ListAnalyzers": 1,
    }


def test_lower_bound_switches_to_bulk_and_check_skips_node_groups() -> None:
    full = lower_bound(
        Needs(roles=1001, inline_policies=1001, managed_policies=300, account_roles=1001, account_policies=300)
    )
    assert full.iam_strategy == "bulk"
    assert full.calls["iam:GetAccountAuthorizationDetails"] == 2
    check = lower_bound(Needs(roles=1, inline_policies=1, managed_policies=2, whole_cluster=False, account_roles=1))
    assert "eks:ListNodegroups" not in check.calls
    assert sum(per_role_calls(Needs(roles=1, inline_policies=1, managed_policies=2)).values()) == 8


def test_lower_bound_of_check_follows_the_page_size_aws_returns() -> None:
    # The benchmark's account (1,001 roles, 300 policies), `check` of one role with 2 managed policies.
    n = Needs(
        roles=1,
        inline_policies=1,
        managed_policies=2,
        whole_cluster=False,
        account_roles=1001,
        account_policies=300,
    )
    full = lower_bound(n)  # pages of the 1000 asked: 2 pages beat 8 per-role calls (+ 1 access-entry list)
    assert (full.iam_strategy, full.calls["iam:GetAccountAuthorizationDetails"], full.total) == ("bulk", 2, 6)
    short = lower_bound(dataclasses.replace(n, page_items=100))  # AWS returning 100: 14 pages
    assert bulk_calls(dataclasses.replace(n, page_items=100)) == {"iam:GetAccountAuthorizationDetails": 14}
    assert (short.iam_strategy, short.total) == ("per-role", 12)


def test_wall_bound_spreads_calls_over_the_concurrency_limit() -> None:
    calls = {"eks:DescribeCluster": 1, "iam:GetRole": 8, "iam:GetPolicy": 1, "ec2:DescribeInstances": 1}
    # eks: max(1, 1) ; iam: ceil(9/4)=3 ; ec2: 1  -> 5 latencies
    assert wall_bound(calls, 0.02, {"iam": 4, "eks": 4, "ec2": 4}, "per-role") == pytest.approx(0.10)
    bulk = {"iam:GetAccountAuthorizationDetails": 3, "iam:GetOpenIDConnectProvider": 2}
    # pages follow markers: 3 in a row, then the 2 providers in parallel
    assert wall_bound(bulk, 0.02, {"iam": 4}, "bulk") == pytest.approx(0.08)
    mixed = {"iam:GetAccountAuthorizationDetails": 1, "iam:GetRole": 1, "iam:GetPolicy": 2, "iam:GetPolicyVersion": 2}
    # the page, then the per-role reads: 5 calls over 4 workers, but 3 deep
    assert wall_bound(mixed, 0.02, {"iam": 4}, "bulk, then per-role") == pytest.approx(0.08)


def _wsgi(app: Any, path: str, body: bytes = b"", auth: str = "", query: str = "") -> tuple[str, bytes]:
    seen: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"] = status

    environ = {
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "HTTP_AUTHORIZATION": auth,
    }
    return seen.get("status", ""), b"".join(app(environ, start_response)) or b""


def _auth(service: str) -> str:
    return f"AWS4-HMAC-SHA256 Credential=testing/20260101/eu-west-1/{service}/aws4_request, SignedHeaders=host"


def test_latency_app_counts_forwards_and_stubs_pod_identity() -> None:
    forwarded: list[bytes] = []

    def backend(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        forwarded.append(environ["wsgi.input"].read())
        start_response("200 OK", [])
        return [b"<ok/>"]

    app = LatencyApp(backend, latency=0)
    _, out = _wsgi(app, "/", b"Action=GetRole&RoleName=x", _auth("iam"))
    assert out == b"<ok/>" and forwarded == [b"Action=GetRole&RoleName=x"]  # body still readable downstream
    _, out = _wsgi(app, "/clusters/bench/pod-identity-associations", auth=_auth("eks"))
    assert json.loads(out) == {"associations": []} and len(forwarded) == 1
    _wsgi(app, "/clusters/bench", auth=_auth("eks"))
    _, stats = _wsgi(app, "/__bench__/latency", query="ms=20")
    assert json.loads(stats) == {
        "latency_ms": 20.0,
        "gaad_max": 0,
        "calls": {"eks:DescribeCluster": 1, "eks:ListPodIdentityAssociations": 1, "iam:GetRole": 1},
    }
    _, stats = _wsgi(app, "/__bench__/reset")
    assert json.loads(stats)["calls"] == {}


def test_latency_app_caps_gaad_pages_below_max_items() -> None:
    ns = "https://iam.amazonaws.com/doc/2010-05-08/"
    roles = "".join(f"<member><RoleName>r{i}</RoleName></member>" for i in range(5))
    answer = (
        f'<GetAccountAuthorizationDetailsResponse xmlns="{ns}"><GetAccountAuthorizationDetailsResult>'
        f"<RoleDetailList>{roles}</RoleDetailList><Policies/><IsTruncated>false</IsTruncated>"
        "</GetAccountAuthorizationDetailsResult></GetAccountAuthorizationDetailsResponse>"
    ).encode()

    def backend(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/xml")])
        return [answer]

    app = LatencyApp(backend, latency=0)

    def page(marker: str = "") -> tuple[list[str], str | None]:
        body = b"Action=GetAccountAuthorizationDetails&MaxItems=1000" + (
            f"&Marker={marker}".encode() if marker else b""
        )
        result = ET.fromstring(_wsgi(app, "/", body, _auth("iam"))[1]).find(
            f"{{{ns}}}GetAccountAuthorizationDetailsResult"
        )
        assert result is not None
        names = [e.text or "" for e in result.iter(f"{{{ns}}}RoleName")]
        return names, result.findtext(f"{{{ns}}}Marker")

    assert page() == (["r0", "r1", "r2", "r3", "r4"], None)  # as asked: one page
    _, stats = _wsgi(app, "/__bench__/gaad", query="max=2")
    assert json.loads(stats)["gaad_max"] == 2
    assert page() == (["r0", "r1"], "2")  # fewer than asked, as AWS may answer
    assert page("4") == (["r4"], None)


def test_operation_reads_the_query_action_from_the_url_too() -> None:
    env = {"HTTP_AUTHORIZATION": _auth("ec2"), "QUERY_STRING": "Action=DescribeInstances&Version=2016-11-15"}
    assert operation(env, b"") == "ec2:DescribeInstances"


def test_compare_matches_roles_and_actions(tmp_path: Path) -> None:
    role_a, role_b = "arn:aws:iam::1:role/a", "arn:aws:iam::1:role/b"
    results = {
        "roles": {
            "A": {"arn": role_a, "inline_policies": {"p1": "inline"}, "customer_managed_policies": {"m1": "m"}},
            "B": {"arn": role_b, "inline_policies": {}, "customer_managed_policies": {"m1": "m"}},
        },
        "inline_policies": {
            "p1": {
                "DataExfiltration": {"findings": ["s3:GetObject"]},
                "PrivilegeEscalation": {
                    "findings": [{"type": "CreateEC2WithExistingIP", "actions": ["iam:passrole", "ec2:runinstances"]}]
                },
            }
        },
        "customer_managed_policies": {"m1": {"InfrastructureModification": {"findings": ["sqs:SendMessage"]}}},
    }
    assert cloudsplaining_roles(results)[role_a]["PrivilegeEscalation"] == {"ec2:runinstances+iam:passrole"}
    report = {
        "findings": [
            {
                "principal": role_a,
                "category": "data-access",
                "rule_id": "AWS-015",
                "evidence": {"action": "s3:GetObject"},
            },
            {
                "principal": role_a,
                "category": "privilege-escalation",
                "rule_id": "AWS-014",
                "evidence": {"path": "ec2-001", "actions": ["iam:PassRole", "ec2:RunInstances"]},
            },
            {
                "principal": role_a,
                "category": "wildcard-resource",
                "rule_id": "AWS-013",
                "evidence": {"actions": ["x"]},
            },
            {"principal": None, "category": "imds-exposure", "rule_id": "AWS-020", "evidence": {}},
        ]
    }
    assert set(kubeiam_roles(report)) == {role_a}
    (tmp_path / "cs.json").write_text(json.dumps(results))
    (tmp_path / "ki.json").write_text(json.dumps(report))
    out = compare(tmp_path / "cs.json", tmp_path / "ki.json")
    rows = {r["category"]: r for r in out["rows"]}
    assert rows["DataExfiltration"]["cloudsplaining_roles"] == 1 and rows["DataExfiltration"]["also_kubeiam"] == 1
    infra = rows["InfrastructureModification"]
    assert (infra["cloudsplaining_roles"], infra["also_kubeiam"], infra["missed_count"]) == (2, 1, 1)
    assert out["actions"]["PrivilegeEscalation"] == {
        "pairs": 1,
        "covered": 1,
        "missed_actions": {},
        "kubeiam_only_actions": {},
    }
