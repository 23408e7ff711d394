"""Live AWS collection against moto (real boto3, real wire protocol) and the Pod Identity front server."""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from pathlib import Path

import boto3
import kubeiam_aws.live.iam as live_iam
import pytest
from aws_live_harness import LiveAws
from kubeiam_aws.live.coverage import POD_IDENTITY_RULES

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence

ACCOUNT = "123456789012"
BASE = f"aws/{ACCOUNT}"
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+00:00$")
NEEDED_ROLES = {
    "orders-api",
    "payments-api",
    "reports-wildcard",
    "legacy-aud-only",
    "frontend-only",
    "billing-worker",
    "ebs-csi-driver",
    "demo-eks-node",
    "karpenter-node",
    "karpenter-spot",  # named only by a Karpenter EC2NodeClass (no node runs it yet)
}


ACCESS_ENTRY_CALLS = ("eks:ListAccessEntries", "eks:DescribeAccessEntry", "eks:ListAssociatedAccessPolicies")


def access_entry_calls(live_aws: LiveAws) -> dict[str, int]:
    """What reading the cluster's access entries costs at the lower bound (docs/aws-live.md): the list's pages,
    one description per entry, and the pages of each STANDARD entry's access policies (nodes have none)."""
    entries, page = live_aws.estate.access_entries, live_aws.front.page_size
    standard = [e for e in entries if e["type"] == "STANDARD"]
    return {
        "eks:ListAccessEntries": max(1, -(-len(entries) // page)),
        "eks:DescribeAccessEntry": len(entries),
        "eks:ListAssociatedAccessPolicies": sum(
            max(1, -(-len(e["associatedAccessPolicies"]) // page)) for e in standard
        ),
    }


def force(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    """Force the per-role or the bulk path (the count-based choice is tested on its own)."""
    weight = 10**6 if mode == "bulk" else 0
    monkeypatch.setattr(live_iam, "PER_ROLE_CALLS", weight)
    monkeypatch.setattr(live_iam, "PER_POLICY_CALLS", weight)
    monkeypatch.setattr(live_iam, "PER_PROFILE_CALLS", weight)


@pytest.fixture(params=["auto", "per-role"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param != "auto":
        force(monkeypatch, request.param)
    return request.param


def _roles(run) -> dict[str, dict]:
    return {r["RoleName"]: r for r in run.load(f"{BASE}/iam.json")["RoleDetailList"]}


def _policies(run) -> dict[str, dict]:
    return {p["Arn"]: p for p in run.load(f"{BASE}/iam.json")["Policies"]}


def test_full_collection_writes_the_evidence_shapes(live_aws: LiveAws, mode: str) -> None:
    run = live_aws.collect()
    roles = _roles(run)
    # Only what the cluster references, read in bulk or not: a bulk read also gives the account's other
    # roles, whose policies are not read (and a role written without its policies would be reported).
    assert set(roles) == NEEDED_ROLES
    orders = roles["orders-api"]
    # Policy documents stay JSON objects, as the CLI prints them; timestamps are ISO strings.
    assert orders["AssumeRolePolicyDocument"]["Statement"][0]["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert ISO.match(orders["CreateDate"])
    assert [p["PolicyName"] for p in orders["RolePolicyList"]] == ["orders-table"]
    assert isinstance(orders["RolePolicyList"][0]["PolicyDocument"], dict)
    assert {p["PolicyName"] for p in orders["AttachedManagedPolicies"]} == {"orders-s3-read", "AmazonSQSReadOnlyAccess"}
    assert roles["payments-api"]["PermissionsBoundary"]["PermissionsBoundaryArn"].endswith(":policy/payments-boundary")
    node_profiles = [p["InstanceProfileName"] for p in roles["karpenter-node"]["InstanceProfileList"]]
    assert node_profiles == ["karpenter-node-profile"]

    policies = _policies(run)
    orders_policy = policies[f"arn:aws:iam::{ACCOUNT}:policy/orders-s3-read"]
    default = [v for v in orders_policy["PolicyVersionList"] if v["IsDefaultVersion"]]
    assert orders_policy["DefaultVersionId"] == "v2" and [v["VersionId"] for v in default] == ["v2"]
    assert isinstance(default[0]["Document"], dict)
    for arn in (
        f"arn:aws:iam::{ACCOUNT}:policy/payments-boundary",  # a boundary is fetched like an attached policy
        "arn:aws:iam::aws:policy/AdministratorAccess",
        "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
    ):
        assert policies[arn]["PolicyName"] == arn.rsplit("/", 1)[-1]
    assert "arn:aws:iam::aws:policy/ReadOnlyAccess" not in policies  # attached to nothing

    oidc = {p["Arn"]: p for p in run.load(f"{BASE}/oidc-providers.json")["OpenIDConnectProviderList"]}
    ours = live_aws.estate.issuer.removeprefix("https://")
    assert oidc[f"arn:aws:iam::{ACCOUNT}:oidc-provider/{ours}"]["ClientIDList"] == ["sts.amazonaws.com"]
    # Another cluster's provider, trusted by none of our roles and not our issuer: not asked about.
    assert [arn for arn in oidc if ours not in arn] == []
    assert all(ISO.match(p["CreateDate"]) for p in oidc.values() if "CreateDate" in p)

    instances = {
        i["InstanceId"]: i
        for r in run.load(f"{BASE}/eu-west-1/ec2-instances.json")["Reservations"]
        for i in r["Instances"]
    }
    ids = live_aws.estate.instances
    assert set(instances) == {ids["INSTANCE_1"], ids["INSTANCE_2"]}  # the stale node's instance is gone
    assert instances[ids["INSTANCE_1"]]["MetadataOptions"]["HttpTokens"] == "optional"
    assert instances[ids["INSTANCE_1"]]["MetadataOptions"]["HttpPutResponseHopLimit"] == 2
    assert instances[ids["INSTANCE_2"]]["MetadataOptions"]["HttpTokens"] == "required"
    assert ISO.match(instances[ids["INSTANCE_1"]]["LaunchTime"])

    versions = run.load(f"{BASE}/eu-west-1/launch-template-versions.json")["LaunchTemplateVersions"]
    assert [(v["VersionNumber"], v["DefaultVersion"]) for v in versions] == [(1, True), (2, False)]
    assert versions[0]["LaunchTemplateData"]["MetadataOptions"]["HttpTokens"] == "optional"
    assert "UserData" not in versions[1]["LaunchTemplateData"]  # a bootstrap script may hold a token

    eks = f"{BASE}/eu-west-1/eks/demo-eks"
    cluster = run.load(f"{eks}/cluster.json")["cluster"]
    assert cluster["arn"] == f"arn:aws:eks:eu-west-1:{ACCOUNT}:cluster/demo-eks"
    assert cluster["identity"]["oidc"]["issuer"] == live_aws.estate.issuer
    nodegroups = run.load(f"{eks}/nodegroups.json")["nodegroups"]
    assert [(n["nodegroupName"], n["nodeRole"].rsplit("/", 1)[-1]) for n in nodegroups] == [
        ("default", "demo-eks-node")
    ]
    associations = run.load(f"{eks}/pod-identity-associations.json")["associations"]
    assert [(a["namespace"], a["serviceAccount"]) for a in associations] == [
        ("billing", "worker"),
        ("kube-system", "ebs-csi-controller-sa"),
        ("payments", "api"),
    ]  # three associations over two pages of the list
    assert all(ISO.match(a["createdAt"]) and a["roleArn"].startswith("arn:aws:iam::") for a in associations)
    # Access entries as describe-access-entry prints them, a STANDARD one with its access policies (K8S-006).
    entries = {e["principalArn"]: e for e in run.load(f"{eks}/access-entries.json")["accessEntries"]}
    seeded = {e["principalArn"]: e for e in live_aws.estate.access_entries}
    assert set(entries) == set(seeded) and len(entries) >= 2
    for arn, entry in entries.items():
        assert (entry["type"], entry["username"], entry["kubernetesGroups"]) == (
            seeded[arn]["type"],
            seeded[arn]["username"],
            seeded[arn]["kubernetesGroups"],
        )
        assert ISO.match(entry["createdAt"])
        if entry["type"] == "STANDARD":
            policies = [(p["policyArn"], p["accessScope"]) for p in entry["associatedAccessPolicies"]]
            assert policies == [(p["policyArn"], p["accessScope"]) for p in seeded[arn]["associatedAccessPolicies"]]
        else:
            assert "associatedAccessPolicies" not in entry  # a node's entry takes no access policy

    # What cannot be reached is said, per ServiceAccount: another account, another partition.
    unreachable = {(e.subject, e.location) for e in run.errors}
    assert unreachable == {
        ("demo-eks/partner/sync", "iam:GetRole arn:aws:iam::210987654321:role/partner-sync"),
        ("demo-eks/china/app", f"iam:GetRole arn:aws-cn:iam::{ACCOUNT}:role/cn-app"),
    }
    assert "does-not-exist" not in roles  # absent: the reader reports the binding broken


def test_per_role_and_bulk_write_the_same_roles(live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch) -> None:
    force(monkeypatch, "per-role")
    per_role = live_aws.collect()
    force(monkeypatch, "bulk")
    bulk = live_aws.collect()
    assert "iam:GetAccountAuthorizationDetails" not in per_role.calls
    assert bulk.calls["iam:GetAccountAuthorizationDetails"] == 1 and "iam:GetRole" not in bulk.calls

    def comparable(run, name: str) -> dict:
        role = _roles(run)[name]
        return {
            "trust": role["AssumeRolePolicyDocument"],
            "inline": sorted((p["PolicyName"], str(p["PolicyDocument"])) for p in role["RolePolicyList"]),
            "attached": sorted(p["PolicyArn"] for p in role["AttachedManagedPolicies"]),
            "boundary": role.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn"),
            "profiles": sorted(p["Arn"] for p in role["InstanceProfileList"]),
        }

    for name in NEEDED_ROLES:
        assert comparable(per_role, name) == comparable(bulk, name), name
    for arn, policy in _policies(per_role).items():
        default = [v["Document"] for v in policy["PolicyVersionList"] if v["IsDefaultVersion"]]
        bulk_default = [v["Document"] for v in _policies(bulk)[arn]["PolicyVersionList"] if v["IsDefaultVersion"]]
        assert default == bulk_default, arn
    # And the audit cannot tell them apart.
    from kubeiam_aws import PROVIDER as AWS
    from kubeiam_kubernetes import PROVIDER as KUBERNETES

    def fingerprints(run) -> set[str]:
        report = audit(Evidence(run.output), providers=(KUBERNETES, AWS))
        return {f.fingerprint for f in report.findings}

    assert fingerprints(per_role) == fingerprints(bulk) != set()


def test_each_role_and_policy_is_fetched_once_and_every_call_is_counted(
    live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    force(monkeypatch, "per-role")
    run = live_aws.collect()
    seen = Counter(run.operations)
    # The counter agrees with what the server saw (IAM and EKS pass through the front server).
    for op, n in seen.items():
        assert run.calls[op] == n, op
    assert seen["iam:GetRole"] == len(NEEDED_ROLES) + 1  # + the annotated role that does not exist
    distinct_policies = len(_policies(run))
    assert seen["iam:GetPolicy"] == seen["iam:GetPolicyVersion"] == distinct_policies
    assert seen["iam:GetInstanceProfile"] == 2  # one per distinct instance profile of the nodes
    assert run.calls["ec2:DescribeInstances"] <= 2  # one batch (plus one retry without the stale id)
    assert run.calls["ec2:DescribeLaunchTemplateVersions"] == 1


def test_check_of_one_irsa_service_account_makes_six_calls_and_reads_the_access_entries(live_aws: LiveAws) -> None:
    """At most 6 calls for the ServiceAccount's own identity, plus the cluster's access entries at their lower bound
    (who else can act as it, K8S-006, may be any IAM principal mapped into the cluster)."""
    run = live_aws.collect(service_account=("orders", "api"))
    assert run.errors == []
    entries = access_entry_calls(live_aws)
    assert {op: run.calls[op] for op in ACCESS_ENTRY_CALLS} == entries
    assert run.total - sum(entries.values()) <= 6, run.calls
    orders = _roles(run)["orders-api"]
    assert len(orders["RolePolicyList"]) == 1 and len(orders["AttachedManagedPolicies"]) == 2
    policies = _policies(run)
    assert {p["PolicyArn"] for p in orders["AttachedManagedPolicies"]} <= set(policies)
    associations = run.load(f"{BASE}/eu-west-1/eks/demo-eks/pod-identity-associations.json")["associations"]
    assert associations == []  # asked for this ServiceAccount only
    assert not (run.output / BASE / "eu-west-1" / "ec2-instances.json").exists()  # no pods, no nodes


def test_check_per_role_fetches_only_that_role(live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch) -> None:
    force(monkeypatch, "per-role")
    run = live_aws.collect(service_account=("orders", "api"))
    assert set(_roles(run)) == {"orders-api"}
    assert run.calls["iam:GetRole"] == 1 and run.calls["iam:GetRolePolicy"] == 1
    assert run.calls["iam:GetPolicy"] == 2 and run.calls["iam:GetPolicyVersion"] == 2


def test_access_denied_becomes_a_coverage_error(live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch) -> None:
    force(monkeypatch, "per-role")
    with live_aws.front.faults(deny={"iam:GetRole", "eks:ListPodIdentityAssociations"}):
        run = live_aws.collect(namespace="payments")
    denied = [e for e in run.errors if e.location == f"iam:GetRole arn:aws:iam::{ACCOUNT}:role/payments-api"]
    assert [e.subject for e in denied] == ["demo-eks/payments/api"]
    assert denied[0].reason == "AccessDenied (iam:GetRole)" and denied[0].source == "aws"
    pod_identity = [e for e in run.errors if e.location.startswith("eks:ListPodIdentityAssociations")]
    assert {e.subject for e in pod_identity} == {"demo-eks/payments/api"}
    assert pod_identity[0].rules == POD_IDENTITY_RULES and "Pod Identity not read" in pod_identity[0].reason
    assert not (run.output / BASE / "eu-west-1/eks/demo-eks/pod-identity-associations.json").exists()
    # The node role of the node the payments pod runs on was denied too: said, not dropped.
    assert any(e.subject and e.subject.startswith("demo-eks/node/") for e in run.errors if "GetRole" in e.location)


def test_denied_bulk_read_falls_back_to_per_role_calls(live_aws: LiveAws) -> None:
    with live_aws.front.faults(deny={"iam:GetAccountAuthorizationDetails"}):
        run = live_aws.collect(service_account=("orders", "api"))
    assert run.errors == []
    assert set(_roles(run)) == {"orders-api"} and run.calls["iam:GetRole"] == 1


def test_throttling_past_retries_becomes_a_coverage_error(live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEIAM_AWS_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("KUBEIAM_AWS_RETRY_MODE", "standard")
    force(monkeypatch, "per-role")
    with live_aws.front.faults(throttle={"iam:GetPolicyVersion"}):
        run = live_aws.collect(service_account=("orders", "api"))
    throttled = [e for e in run.errors if e.location.startswith("iam:GetPolicyVersion")]
    assert len(throttled) == 2 and all("throttled" in e.reason for e in throttled)
    assert {e.subject for e in throttled} == {"demo-eks/orders/api"}
    assert live_aws.front.log.count("iam:GetPolicyVersion") == 4  # 2 policies x 2 attempts


def test_cluster_found_by_issuer_when_names_differ(live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch) -> None:
    force(monkeypatch, "per-role")  # (moto's bulk read is slow: it returns every AWS managed policy)
    root = live_aws.evidence("renamed")
    (root / "kubernetes" / "demo-eks").rename(root / "kubernetes" / "prod-eu")
    run = live_aws.collect(root=root, service_account=("billing", "worker"))
    cluster = run.load(f"{BASE}/eu-west-1/eks/prod-eu/cluster.json")["cluster"]
    assert cluster["name"] == "demo-eks"
    assert run.calls["eks:ListClusters"] == 1
    associations = run.load(f"{BASE}/eu-west-1/eks/prod-eu/pod-identity-associations.json")["associations"]
    # The ServiceAccount has an association: every other one of the cluster is read too (who else takes
    # its role, AWS-006), but only its own role is.
    assert [(a["namespace"], a["roleArn"].rsplit("/", 1)[-1]) for a in associations] == [
        ("billing", "billing-worker"),
        ("kube-system", "ebs-csi-driver"),
        ("payments", "billing-worker"),
    ]
    assert set(_roles(run)) == {"billing-worker", "demo-eks-node"}  # (and the role of its pod's node)


def test_region_comes_from_the_option_before_the_nodes(live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch) -> None:
    force(monkeypatch, "per-role")
    run = live_aws.collect(service_account=("orders", "api"), aws_region="us-east-2")
    # No such cluster in us-east-2: said once for the cluster, and IAM (global) is still read.
    assert [e.location for e in run.errors if e.subject == "demo-eks"] == ["eks:DescribeCluster demo-eks (us-east-2)"]
    assert "orders-api" in _roles(run)


def test_no_credentials_is_a_coverage_error_not_a_crash(live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key)
    run = live_aws.collect(service_account=("orders", "api"))
    assert run.errors and all(e.source == "aws" for e in run.errors)
    assert any(e.subject == "demo-eks/orders/api" for e in run.errors)
    assert "NoCredentialsError" in " ".join(e.reason for e in run.errors)
    # Nothing was read: one entry says so for the whole source (the run then exits 3).
    assert [e.whole for e in run.errors].count(True) == 1 and run.errors[0].subject is None
    # Each later call stops at once (no retries against credentials that are not there): one call in all.
    assert run.calls == {"eks:DescribeCluster": 1}


def test_progress_is_reported_per_stage(live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch) -> None:
    force(monkeypatch, "per-role")
    events: list[tuple[str, str, int | None]] = []

    class Task:
        def __init__(self, name: str) -> None:
            self.name = name

        def advance(self, amount: int = 1) -> None:
            events.append(("advance", self.name, amount))

        def done(self) -> None:
            events.append(("done", self.name, None))

    class Progress:
        def task(self, description: str, total: int | None = None) -> Task:
            events.append(("task", description, total))
            return Task(description)

    live_aws.collect(namespace="payments", progress=Progress())
    started = [(d, t) for kind, d, t in events if kind == "task"]
    assert [d for d, _ in started] == [
        "aws: EKS clusters",
        "aws: EC2 instances and launch templates",
        "aws: IAM roles and policies",
    ]
    assert all(("done", d, None) in events for d, _ in started)
    for description, total in started:
        assert sum(n for kind, d, n in events if kind == "advance" and d == description) == total


def _profiles(tmp: Path, monkeypatch: pytest.MonkeyPatch, creds: dict[str, tuple[str, str, str]]) -> None:
    """Write an AWS config naming each profile (region eu-west-1) with its credentials."""
    config, credentials = tmp / "aws-config", tmp / "aws-credentials"
    config.write_text("".join(f"[profile {p}]\nregion = eu-west-1\n" for p in creds))
    credentials.write_text(
        "".join(
            f"[{p}]\naws_access_key_id = {k}\naws_secret_access_key = {s}\naws_session_token = {t}\n"
            for p, (k, s, t) in creds.items()
        )
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))


def test_aws_profile_is_used(live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    force(monkeypatch, "per-role")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key)
    _profiles(tmp_path, monkeypatch, {"audit": ("AKIAAUDIT", "secret", "token")})
    run = live_aws.collect(service_account=("orders", "api"), aws_profile="audit")
    assert run.errors == [] and set(_roles(run)) == {"orders-api"}


def test_role_in_another_account_is_read_with_that_accounts_profile(
    live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    force(monkeypatch, "per-role")
    partner = "210987654321"
    # moto gives credentials of another account to whoever assumes a role in it.
    sts = boto3.client("sts", region_name="eu-west-1", endpoint_url=live_aws.moto_url)
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{partner}:role/auditor", RoleSessionName="kubeiam")["Credentials"]
    keys = (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    iam = boto3.client(
        "iam",
        region_name="eu-west-1",
        endpoint_url=live_aws.moto_url,
        aws_access_key_id=keys[0],
        aws_secret_access_key=keys[1],
        aws_session_token=keys[2],
    )
    trust = live_aws.estate.spec["trusts"]["ec2"]
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):  # made by an earlier run
        iam.create_role(RoleName="partner-sync", AssumeRolePolicyDocument=json.dumps(trust))
    _profiles(tmp_path, monkeypatch, {"partner": keys})

    run = live_aws.collect(namespace="partner", aws_account_profiles=[f"{partner}=partner"])
    assert run.errors == []
    partner_roles = json.loads((run.output / f"aws/{partner}/iam.json").read_text())["RoleDetailList"]
    assert [r["Arn"] for r in partner_roles] == [f"arn:aws:iam::{partner}:role/partner-sync"]


def test_denied_instances_leave_nodes_unchecked_not_gone(live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch) -> None:
    force(monkeypatch, "per-role")
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", live_aws.front.url)
    with live_aws.front.faults(deny={"ec2:DescribeInstances"}):
        run = live_aws.collect(namespace="reports")
    denied = [e for e in run.errors if e.location.startswith("ec2:DescribeInstances")]
    assert [e.subject for e in denied] == ["demo-eks/node/ip-10-0-2-20.eu-west-1.compute.internal"]
    assert denied[0].reason == "UnauthorizedOperation (ec2:DescribeInstances)"
    assert not (run.output / BASE / "eu-west-1" / "ec2-instances.json").exists()
    assert "reports-wildcard" in _roles(run)  # the rest is still collected


def test_kubeiam_endpoint_variables_override_botocores(live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch) -> None:
    force(monkeypatch, "per-role")
    monkeypatch.setenv("AWS_ENDPOINT_URL_IAM", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("KUBEIAM_AWS_ENDPOINT_URL_IAM", live_aws.front.url)
    run = live_aws.collect(service_account=("orders", "api"))
    assert run.errors == [] and "iam:GetRole" in run.operations
