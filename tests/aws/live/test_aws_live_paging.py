"""Per-role or bulk, against AWS-like paging of GetAccountAuthorizationDetails (real boto3, moto, the
front server's `aws_paging`): the choice by the pages the account needs, and the switch to per-role
reads when pages come back smaller than asked."""

from __future__ import annotations

import math
from collections import Counter

import boto3
import kubeiam_aws.live.iam as live_iam
import pytest
from aws_live_harness import LiveAws, Run
from test_aws_live_collect import ACCOUNT, BASE, NEEDED_ROLES, access_entry_calls, force

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence

GAAD = "iam:GetAccountAuthorizationDetails"
PER_ROLE_OPS = ("iam:GetRole", "iam:ListRolePolicies", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies")


FILTERS = ["Role", "LocalManagedPolicy", "AWSManagedPolicy"]


def _iam(live_aws: LiveAws) -> object:
    return boto3.client("iam", region_name="eu-west-1", endpoint_url=live_aws.front.url)


def _gaad_pages(live_aws: LiveAws, size: int) -> list[dict]:
    """The pages the collector's own request gets, asked of the front server with the real SDK."""
    paginator = _iam(live_aws).get_paginator("get_account_authorization_details")
    return list(paginator.paginate(Filter=FILTERS, PaginationConfig={"PageSize": size}))


def _first_page(live_aws: LiveAws) -> dict:
    return _iam(live_aws).get_account_authorization_details(Filter=FILTERS, MaxItems=1000)


def _roles_of(pages: list[dict]) -> set[str]:
    return {r["RoleName"] for p in pages for r in p.get("RoleDetailList", [])}


def _account_items(live_aws: LiveAws) -> tuple[int, int]:
    """(items the bulk read returns, items GetAccountSummary counts): roles + policies in use."""
    pages = _gaad_pages(live_aws, 1000)
    assert len(pages) == 1
    items = len(pages[0]["RoleDetailList"]) + len(pages[0]["Policies"])
    summary = boto3.client("iam", region_name="eu-west-1", endpoint_url=live_aws.moto_url).get_account_summary()
    return items, summary["SummaryMap"]["Roles"] + summary["SummaryMap"]["Policies"]


def _fingerprints(run: Run) -> set[str]:
    from kubeiam_aws import PROVIDER as AWS
    from kubeiam_kubernetes import PROVIDER as KUBERNETES

    return {f.fingerprint for f in audit(Evidence(run.output), providers=(KUBERNETES, AWS)).findings}


def _comparable(run: Run, names: set[str] = NEEDED_ROLES) -> dict[str, dict]:
    """What the audit reads of each needed role and policy, whichever way it was fetched."""
    iam = run.load(f"{BASE}/iam.json")
    roles = {
        r["RoleName"]: (
            r["AssumeRolePolicyDocument"],
            sorted((p["PolicyName"], str(p["PolicyDocument"])) for p in r["RolePolicyList"]),
            sorted(p["PolicyArn"] for p in r["AttachedManagedPolicies"]),
            r.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn"),
            sorted(p["Arn"] for p in r["InstanceProfileList"]),
        )
        for r in iam["RoleDetailList"]
        if r["RoleName"] in names
    }
    used = {arn for _, _, attached, boundary, _ in roles.values() for arn in [*attached, boundary] if arn}
    policies = {
        p["Arn"]: [str(v["Document"]) for v in p["PolicyVersionList"] if v["IsDefaultVersion"]]
        for p in iam["Policies"]
        if p["Arn"] in used
    }
    return {"roles": roles, "policies": policies}


def test_pages_left_is_at_least_one_while_truncated() -> None:
    assert live_iam.pages_left(1401, 0, 1000) == 2  # the benchmark's account: 1,001 roles + 300 + 100
    assert live_iam.pages_left(1401, 100, 100) == 14  # after a first page of 100
    assert live_iam.pages_left(1401, 1400, 1000) == 1
    assert live_iam.pages_left(100, 500, 100) == 1  # estimate too low, but the page said "more"


@pytest.mark.parametrize("page", [5, 6, 12, 25])
def test_check_reads_in_bulk_when_the_pages_are_fewer_than_the_per_role_calls(
    live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch, page: int
) -> None:
    """`check` of one role (2 managed, 1 inline policy): per role estimated at 5 calls; bulk at
    ceil(items / page) pages, exact here (the AWS managed policies in use are counted, not estimated)."""
    with live_aws.front.aws_paging():
        items, counted = _account_items(live_aws)
    monkeypatch.setattr(live_iam, "AWS_MANAGED_ESTIMATE", items - counted)
    monkeypatch.setattr(live_iam, "GAAD_PAGE_SIZE", page)
    with live_aws.front.aws_paging(page):
        run = live_aws.collect(service_account=("orders", "api"))
    assert run.errors == []
    pages = math.ceil(items / page)
    if pages < live_iam.PER_ROLE_CALLS:  # e.g. page 12: 2 pages, as in the benchmark's account
        assert run.calls[GAAD] == pages and not set(PER_ROLE_OPS) & set(run.calls)
        assert "iam:GetPolicy" not in run.calls
        # EKS 2, GetAccountSummary, the pages, the OIDC provider; and the cluster's access entries (K8S-006)
        assert run.total == 4 + pages + sum(access_entry_calls(live_aws).values()), run.calls
    else:  # the role one by one (its policies by pages or one by one, whichever is estimated cheaper)
        assert all(run.calls[op] == 1 for op in PER_ROLE_OPS), run.calls
    orders = {r["RoleName"]: r for r in run.load(f"{BASE}/iam.json")["RoleDetailList"]}["orders-api"]
    policies = {p["Arn"] for p in run.load(f"{BASE}/iam.json")["Policies"]}
    assert {p["PolicyArn"] for p in orders["AttachedManagedPolicies"]} <= policies
    assert [p["PolicyName"] for p in orders["RolePolicyList"]] == ["orders-table"]


def test_check_in_one_aws_page_makes_five_calls_and_reads_the_access_entries(live_aws: LiveAws) -> None:
    with live_aws.front.aws_paging(1000):
        run = live_aws.collect(service_account=("orders", "api"))
    assert run.errors == []
    assert run.calls == {
        "eks:DescribeCluster": 1,
        "eks:ListPodIdentityAssociations": 1,
        "iam:GetAccountSummary": 1,
        GAAD: 1,
        "iam:GetOpenIDConnectProvider": 1,
        **access_entry_calls(live_aws),  # who else is mapped into the cluster (K8S-006), at its lower bound
    }


@pytest.mark.parametrize("sa", [("orders", "api"), ("web", "backend")])
def test_a_short_first_page_switches_to_per_role_and_keeps_what_it_gave(
    live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch, sa: tuple[str, str]
) -> None:
    """1000 items asked, 4 given: 28 more pages estimated, against at most 5 calls per role."""
    with live_aws.front.aws_paging(4):
        first = _roles_of([_first_page(live_aws)])
        run = live_aws.collect(service_account=sa)
    force(monkeypatch, "per-role")
    per_role = live_aws.collect(service_account=sa)
    role = {"orders": "orders-api", "web": "frontend-only"}[sa[0]]
    # moto pages roles in creation order: orders-api is on the first page, frontend-only (fifth) not.
    assert (role in first) == (sa[0] == "orders"), "moto's GAAD order changed: pick other ServiceAccounts"
    assert run.errors == per_role.errors == []
    assert run.calls[GAAD] == 1  # the one page that taught the page size
    if role in first:
        # The page gave the role: only its two managed policies are asked for, one by one (the
        # policy-only bulk read is judged with the learned page size too: 26 pages, not 1).
        assert not set(PER_ROLE_OPS) & set(run.calls)
        assert run.calls["iam:GetPolicy"] == run.calls["iam:GetPolicyVersion"] == 2
        assert run.total < per_role.total
    else:  # one page wasted, no more
        assert run.total == per_role.total + 1
        assert {op: n for op, n in run.calls.items() if op != GAAD} == per_role.calls
    assert _comparable(run, {role})["roles"] == _comparable(per_role, {role})["roles"] != {}


def test_whole_cluster_with_short_pages_reads_each_role_once_and_audits_the_same(
    live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    with live_aws.front.aws_paging(4):
        pages = _gaad_pages(live_aws, 1000)
        mixed = live_aws.collect()
    force(monkeypatch, "per-role")
    per_role = live_aws.collect()
    n = mixed.calls[GAAD]
    assert 1 <= n < len(pages)  # stopped before the last page...
    given = _roles_of(pages[:n])
    seen = Counter(mixed.operations)
    # ...and asked one by one only for what those pages did not give.
    assert seen["iam:GetRole"] == len((NEEDED_ROLES | {"does-not-exist"}) - given)
    assert seen["iam:ListAttachedRolePolicies"] == len(NEEDED_ROLES - given)
    assert seen["iam:GetInstanceProfile"] == len({"demo-eks-node", "karpenter-node"} - given)
    assert mixed.total < per_role.total
    assert mixed.errors == per_role.errors
    assert _comparable(mixed) == _comparable(per_role)
    assert _fingerprints(mixed) == _fingerprints(per_role) != set()


def test_bulk_denied_after_its_first_page_keeps_the_page_and_loses_nothing(
    live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pages of 12 asked and given (no switch on size): the second page is denied.
    monkeypatch.setattr(live_iam, "GAAD_PAGE_SIZE", 12)
    with live_aws.front.aws_paging(12):
        given = _roles_of(_gaad_pages(live_aws, 12)[:1])
    with live_aws.front.aws_paging(12, deny_after={GAAD: 1}):
        run = live_aws.collect()
    assert run.operations.count(GAAD) == 2  # one page, one denial
    assert not [e for e in run.errors if GAAD in e.location]  # read per role instead: nothing unchecked
    assert run.operations.count("iam:GetRole") == len((NEEDED_ROLES | {"does-not-exist"}) - given)
    force(monkeypatch, "per-role")
    per_role = live_aws.collect()
    assert run.errors == per_role.errors
    assert _comparable(run) == _comparable(per_role)
    assert f"arn:aws:iam::{ACCOUNT}:policy/orders-s3-read" in _comparable(run)["policies"]
