"""Many accounts from one place (`--aws-org ROLE_NAME`, `--aws-accounts`): against moto's Organizations and STS.

The organisation (made once per moto server): the estate's account 123456789012 is its management account,
with members team-a (a role a ServiceAccount takes, read through the org role), team-b (its org role refuses
the auditor: the front server answers its AssumeRole AccessDenied), team-c (nobody's role: never assumed)
and a closed account (SUSPENDED). The estate's `partner/sync` names a role in 210987654321, outside it.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import kubeiam_aws.live.organization as organization
import pytest
from aws_live_estate import fill
from aws_live_harness import LiveAws, Run, enforcing, readonly_policy

from kubeiam.errors import InputError
from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence

HOME = "123456789012"
OUTSIDE = "210987654321"  # partner/sync's role: an account of no organisation here
ROLE = "kubeiam-audit"
REGION = "eu-west-1"
ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


@dataclass(frozen=True)
class Org:
    a: str
    b: str
    c: str
    closed: str

    def role(self, account: str, name: str = ROLE) -> str:
        return f"arn:aws:iam::{account}:role/{name}"


def _client(live: LiveAws, service: str, creds: dict[str, str] | None = None) -> Any:
    keys = (
        {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }
        if creds
        else {}
    )
    return boto3.client(service, region_name=REGION, endpoint_url=live.moto_url, **keys)


def _as(live: LiveAws, account: str) -> dict[str, str]:
    """Credentials in `account` (moto gives them to whoever assumes a role there)."""
    sts = _client(live, "sts")
    return sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/setup", RoleSessionName="setup")["Credentials"]  # type: ignore[no-any-return]


@pytest.fixture
def org(live_aws: LiveAws, monkeypatch: pytest.MonkeyPatch) -> Org:
    """The organisation (made on the first use of this worker's moto), and STS and Organizations through the
    front server (fault injection, and its log of who was assumed)."""
    orgs = _client(live_aws, "organizations")
    try:
        orgs.describe_organization()
    except orgs.exceptions.AWSOrganizationsNotInUseException:
        orgs.create_organization(FeatureSet="ALL")
    names = {a["Name"]: a for a in orgs.list_accounts()["Accounts"]}
    for name in ("team-a", "team-b", "team-c", "closed"):
        if name not in names:
            status = orgs.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
            names[name] = {"Id": status["AccountId"], "Status": "ACTIVE"}
    if names["closed"]["Status"] == "ACTIVE":
        orgs.close_account(AccountId=names["closed"]["Id"])
    found = Org(names["team-a"]["Id"], names["team-b"]["Id"], names["team-c"]["Id"], names["closed"]["Id"])
    issuer = live_aws.estate.issuer
    for account, sa, role, policy in (
        (found.a, "team-a", "team-a-app", ADMIN),
        (found.b, "team-b", "team-b-app", None),
        (found.closed, "closed", "closed-app", None),
    ):
        # Cross-account IRSA: the cluster's issuer registered in the role's account, the role trusting it.
        values = {**live_aws.estate.values(), "ACCOUNT": account, "SERVICE_ACCOUNT": f"partner:{sa}"}
        trust = fill(json.dumps(live_aws.estate.spec["trusts"]["irsa"]), values)
        iam = _client(live_aws, "iam", _as(live_aws, account))
        try:
            iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
        except iam.exceptions.EntityAlreadyExistsException:
            continue
        iam.create_open_id_connect_provider(Url=issuer, ClientIDList=["sts.amazonaws.com"], ThumbprintList=["0" * 40])
        if policy:  # inline: moto loads AWS managed policies into the seeded account only
            iam.put_role_policy(RoleName=role, PolicyName="admin", PolicyDocument=json.dumps(policy))
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", live_aws.front.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_ORGANIZATIONS", live_aws.front.url)
    monkeypatch.setattr(live_aws.front, "deny_roles", {found.role(found.b)})
    monkeypatch.setattr(organization, "PAGE_SIZE", 2)  # 5 accounts (management + 4): 3 pages
    return found


def _evidence(live: LiveAws, org: Org, name: str) -> Path:
    """The estate's Kubernetes half, plus ServiceAccounts in `partner` naming roles in the org's accounts."""
    root = live.evidence(name)
    path = root / "kubernetes" / live.estate.cluster / "resources.json"
    doc = json.loads(path.read_text())
    for sa, account, role in (
        ("team-a", org.a, "team-a-app"),
        ("team-b", org.b, "team-b-app"),
        ("closed", org.closed, "closed-app"),
    ):
        annotations = {"eks.amazonaws.com/role-arn": f"arn:aws:iam::{account}:role/{role}"}
        meta = {"name": sa, "namespace": "partner", "annotations": annotations}
        doc["items"].append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta})
    path.write_text(json.dumps(doc))
    return root


def _collect(live: LiveAws, org: Org, name: str, **options: Any) -> Run:
    return live.collect(namespace="partner", root=_evidence(live, org, name), **options)


def _by_subject(run: Run) -> dict[str | None, list[tuple[str, str]]]:
    out: dict[str | None, list[tuple[str, str]]] = {}
    for e in run.errors:
        out.setdefault(e.subject, []).append((e.location, e.reason))
    return out


def _roles(run: Run, account: str) -> set[str]:
    return {r["RoleName"] for r in run.load(f"aws/{account}/iam.json")["RoleDetailList"]}


def test_org_reads_the_needed_accounts_through_the_role(live_aws: LiveAws, org: Org) -> None:
    run = _collect(live_aws, org, "org", aws_org=ROLE)

    # Only the accounts a ServiceAccount names, only the ACTIVE ones: team-c and the closed account never.
    assumed = [op for op in run.operations if op == "sts:AssumeRole"]
    assert len(assumed) == 2 and run.calls["sts:AssumeRole"] == 2
    assert run.calls["organizations:ListAccounts"] == 3  # 5 accounts, 2 a page
    assert _roles(run, org.a) == {"team-a-app"}
    assert not (run.output / f"aws/{org.b}").exists() and not (run.output / f"aws/{org.c}").exists()

    errors = _by_subject(run)
    # The refused account: one entry naming it and the role, and the role its ServiceAccount takes unread.
    assert errors[org.b] == [
        (f"sts:AssumeRole {org.role(org.b)}", f"AccessDenied (sts:AssumeRole): account {org.b} not read")
    ]
    assert errors["demo-eks/partner/team-b"] == [
        (
            f"iam:GetRole {org.role(org.b, 'team-b-app')}",
            f"account {org.b} not read (sts:AssumeRole {org.role(org.b)}: AccessDenied (sts:AssumeRole))",
        )
    ]
    assert errors["demo-eks/partner/closed"] == [
        (
            f"iam:GetRole {org.role(org.closed, 'closed-app')}",
            f"account {org.closed} is SUSPENDED in the organisation (--aws-org reads ACTIVE accounts only)",
        )
    ]
    [(location, reason)] = errors["demo-eks/partner/sync"]
    assert location == f"iam:GetRole arn:aws:iam::{OUTSIDE}:role/partner-sync"
    assert reason.startswith(f"account {OUTSIDE} is not in the organisation")
    assert "demo-eks/partner/team-a" not in errors
    assert set(errors) == {org.b, "demo-eks/partner/team-b", "demo-eks/partner/closed", "demo-eks/partner/sync"}

    # The audit judges team-a's role from its own account's evidence; team-b's is unchecked, never clean.
    from kubeiam_aws import PROVIDER as AWS
    from kubeiam_kubernetes import PROVIDER as KUBERNETES

    report = audit(Evidence(run.output), providers=(KUBERNETES, AWS), namespace="partner")
    subjects = {f.subject for f in report.findings if f.rule_id.startswith("AWS-")}
    assert "demo-eks/partner/team-a" in subjects
    assert "demo-eks/partner/team-b" not in subjects
    unchecked = {e.get("subject") for e in report.coverage["errors"]}
    assert {"demo-eks/partner/team-b", org.b} <= unchecked


def test_default_run_calls_neither_organizations_nor_assume_role(live_aws: LiveAws, org: Org) -> None:
    run = _collect(live_aws, org, "default")
    assert not [c for c in run.calls if c.startswith("organizations:") or c == "sts:AssumeRole"]
    assert not [op for op in run.operations if op.startswith(("organizations:", "sts:"))]
    [(_, reason)] = _by_subject(run)["demo-eks/partner/team-a"]
    assert f"--aws-account-profile {org.a}=PROFILE" in reason and "--aws-org ROLE_NAME" in reason
    assert not (run.output / f"aws/{org.a}").exists()


def test_given_accounts_replace_organizations(live_aws: LiveAws, org: Org) -> None:
    run = _collect(live_aws, org, "given", aws_org=ROLE, aws_accounts=[f"{org.a},{org.c}"])
    assert "organizations:ListAccounts" not in run.calls
    assert run.calls["sts:AssumeRole"] == 1  # team-a only: team-c is given but nobody's
    assert _roles(run, org.a) == {"team-a-app"}
    [(location, reason)] = _by_subject(run)["demo-eks/partner/team-b"]
    assert location == f"iam:GetRole {org.role(org.b, 'team-b-app')}"
    assert reason.startswith(f"account {org.b} is not among the accounts given with --aws-accounts")
    assert org.b not in _by_subject(run)  # no AssumeRole was tried there


def test_list_accounts_denied_leaves_home_and_profiles_read(
    live_aws: LiveAws, org: Org, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    creds = _as(live_aws, org.a)
    _profiles(tmp_path, monkeypatch, {"team-a": creds})
    with live_aws.front.faults(deny={"organizations:ListAccounts"}):
        run = _collect(live_aws, org, "denied", aws_org=ROLE, aws_account_profiles=[f"{org.a}=team-a"])
    assert "sts:AssumeRole" not in run.calls
    assert _roles(run, org.a) == {"team-a-app"}  # the explicit profile still reads its account
    assert (run.output / f"aws/{HOME}/{REGION}/eks/demo-eks/cluster.json").is_file()  # and home is read
    errors = _by_subject(run)
    denied = "AccessDeniedException (organizations:ListAccounts)"
    for account in (org.b, org.closed, OUTSIDE):
        assert errors[account] == [
            (
                "organizations:ListAccounts",
                f"{denied}: the organisation's accounts are unknown, no role assumed through --aws-org",
            )
        ]
    assert errors["demo-eks/partner/team-b"] == [
        (
            f"iam:GetRole {org.role(org.b, 'team-b-app')}",
            f"account {org.b} not read (organizations:ListAccounts refused: {denied})",
        )
    ]
    assert org.a not in errors and "demo-eks/partner/team-a" not in errors


def test_explicit_profile_wins_over_the_org_role(
    live_aws: LiveAws, org: Org, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    through_org = _collect(live_aws, org, "through-org", aws_org=ROLE)
    _profiles(tmp_path, monkeypatch, {"team-a": _as(live_aws, org.a)})
    run = _collect(live_aws, org, "profile", aws_org=ROLE, aws_account_profiles=[f"{org.a}=team-a"])
    assert run.calls["sts:AssumeRole"] == 1  # team-b's only
    assert "demo-eks/partner/team-a" not in _by_subject(run)
    # The same account's evidence whichever credentials read it.
    assert run.load(f"aws/{org.a}/iam.json") == through_org.load(f"aws/{org.a}/iam.json")


def test_assumed_credentials_are_botocores_refreshable_ones(live_aws: LiveAws, org: Org) -> None:
    from kubeiam_aws.live.clients import CallCounter, Clients

    clients = Clients(profile=None, region=REGION, counter=CallCounter())
    key = clients.assume_role(org.role(org.a))
    credentials = clients.session(key).get_credentials()
    assert credentials.method == "assume-role" and hasattr(credentials, "refresh_needed")
    identity = clients.client("sts", REGION, key).get_caller_identity()
    assert identity["Account"] == org.a and identity["Arn"].endswith(f":assumed-role/{ROLE}/kubeiam")
    clients.client("iam", None, key).get_role(RoleName="team-a-app")
    assert clients.counter.calls["sts:AssumeRole"] == 1  # fetched once, then kept


def test_aws_org_through_the_cli(live_aws: LiveAws, org: Org, kube_api: Any, run_cli: Any, tmp_path: Path) -> None:
    source = _evidence(live_aws, org, "cli-source")
    api = kube_api(source / "kubernetes" / live_aws.estate.cluster, max_page=3)
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", context="demo", cluster=live_aws.estate.cluster_arn)
    args = ["audit", "--kubeconfig", str(kubeconfig), "--namespace", "partner", "--format", "json"]
    code, out, err = run_cli(*args, "--aws-org", ROLE)
    report = json.loads(out)
    assert code == 1, err  # team-a's administrator role: one refused account does not end the run
    assert {e.get("subject") for e in report["coverage"]["errors"]} >= {org.b, "demo-eks/partner/team-b"}
    admin = [(f["service_account"], f["principal"]) for f in report["findings"] if f["category"] == "admin-access"]
    assert admin == [("team-a", org.role(org.a, "team-a-app"))]  # critical, read through the org role
    # Usage errors are said before any call.
    code, _, err = run_cli(*args, "--aws-accounts", org.a)
    assert code == 2 and "--aws-accounts" in err and "--aws-org" in err
    code, _, err = run_cli(*args, "--aws-org", ROLE, "--aws-accounts", "12345")
    assert code == 2 and "'12345' is not a 12-digit AWS account id" in err


def test_account_ids() -> None:
    assert organization.account_ids(["111111111111,222222222222", "111111111111"]) == ("111111111111", "222222222222")
    assert organization.account_ids(None) == ()
    with pytest.raises(InputError, match="not a 12-digit"):
        organization.account_ids(["11111111111a"])


def _profiles(tmp: Path, monkeypatch: pytest.MonkeyPatch, creds: dict[str, dict[str, str]]) -> None:
    config, credentials = tmp / "aws-config", tmp / "aws-credentials"
    config.write_text("".join(f"[profile {p}]\nregion = {REGION}\n" for p in creds))
    credentials.write_text(
        "".join(
            f"[{p}]\naws_access_key_id = {c['AccessKeyId']}\naws_secret_access_key = {c['SecretAccessKey']}\n"
            f"aws_session_token = {c['SessionToken']}\n"
            for p, c in creds.items()
        )
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))


def test_the_documented_org_statement_is_enough(live_aws: LiveAws, org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto enforcing IAM: the auditor holds the shipped policy plus docs/aws-live.md's --aws-org statement,
    team-a's `kubeiam-audit` role the shipped policy; then nothing is refused but team-b's role (the front
    server's trust refusal). Without the statement, ListAccounts is refused and said."""
    text = (Path(__file__).resolve().parents[3] / "docs" / "aws-live.md").read_text()
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.S)]
    [statement] = [b for b in blocks if b != readonly_policy() and "Sid" in b["Statement"][0]]
    iam = _client(live_aws, "iam", _as(live_aws, org.a))
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": HOME}, "Action": "*"}]}
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName=ROLE, PolicyName="kubeiam-readonly", PolicyDocument=json.dumps(readonly_policy()))
    document = {**readonly_policy(), "Statement": readonly_policy()["Statement"] + statement["Statement"]}
    root = _evidence(live_aws, org, "enforced")
    with enforcing(live_aws, monkeypatch, document):
        run = live_aws.collect(namespace="partner", root=root, aws_org=ROLE)
    refused = {(e.subject, e.location) for e in run.errors if e.reason.startswith("AccessDenied")}
    assert refused == {(org.b, f"sts:AssumeRole {org.role(org.b)}")}
    assert _roles(run, org.a) == {"team-a-app"}
    assert run.load(f"aws/{org.a}/oidc-providers.json")  # its issuer's provider, read through the role

    with enforcing(live_aws, monkeypatch, readonly_policy()):
        run = live_aws.collect(namespace="partner", root=_evidence(live_aws, org, "unlisted"), aws_org=ROLE)
    assert {e.location for e in run.errors if e.subject == org.a} == {"organizations:ListAccounts"}
    assert "sts:AssumeRole" not in run.calls
