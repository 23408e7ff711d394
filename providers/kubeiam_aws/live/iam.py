"""IAM: the roles kubeiam needs (IRSA, Pod Identity, node roles), their policies, the OIDC providers.

Two ways to read one account, chosen by count (see docs/aws-live.md, "Per-role or bulk"):

- per role: GetRole (trust, boundary), ListRolePolicies + GetRolePolicy, ListAttachedRolePolicies,
  then GetPolicy + GetPolicyVersion once per distinct managed policy;
- bulk: GetAccountAuthorizationDetails (roles, customer managed policies, attached AWS managed
  policies, all in pages), cheaper as soon as the needed roles are more than a few percent of the
  account;
- bulk, then per role: the pages read made finishing one by one no dearer than the pages left
  (pages smaller than asked, or what is needed already read); what they gave is kept, only the rest
  is asked for.

Either way the result is written as one `get-account-authorization-details` document, so the reader
never knows which way it was fetched.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from kubeiam.vocabulary.model import CoverageError
from kubeiam_aws.live.clients import AwsCallFailed, Clients, call, pages
from kubeiam_aws.live.coverage import IRSA_TRUST_RULES, Dependent
from kubeiam_aws.live.iam_documents import federated, fold, partition_of_region, policy_refs

# Why 1000: it is what we ask for (MaxItems' maximum), so it is the estimate until a page says
# otherwise. AWS may return fewer items than asked: each truncated page re-estimates (`_bulk`).
GAAD_PAGE_SIZE = 1000
_GAAD_LISTS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")
_POLICY_FILTER = ("LocalManagedPolicy", "AWSManagedPolicy")
# Attached AWS managed policies are not counted by GetAccountSummary; accounts typically attach a
# few dozen to a few hundred. Over-estimating only makes us choose per-role calls a bit earlier.
AWS_MANAGED_ESTIMATE = 100
# Per needed role: GetRole + ListRolePolicies + ListAttachedRolePolicies + ~1 GetRolePolicy +
# ~1 managed policy (GetPolicy + GetPolicyVersion, shared between roles, so counted as one call).
PER_ROLE_CALLS = 5
# Per needed managed policy: GetPolicy + GetPolicyVersion.
PER_POLICY_CALLS = 2
# Per needed instance profile: GetInstanceProfile.
PER_PROFILE_CALLS = 1
_PARTITION_REGION = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}
_ROLE_KEYS = (
    "Path",
    "RoleName",
    "RoleId",
    "Arn",
    "CreateDate",
    "AssumeRolePolicyDocument",
    "PermissionsBoundary",
    "Tags",
    "RoleLastUsed",
)


@dataclass
class AccountResult:
    account: str
    iam: dict[str, Any] | None = None
    """`get-account-authorization-details` shape: RoleDetailList and Policies."""
    oidc: dict[str, Any] | None = None
    """{"OpenIDConnectProviderList": [...]}"""
    errors: list[CoverageError] = field(default_factory=list)
    mode: str = ""
    """`bulk`, `per-role` or `bulk, then per-role`: which way the roles were read."""


@dataclass
class AccountIam:
    clients: Clients
    account: str
    partition: str
    profile: str | None
    roles: dict[str, set[Dependent]] = field(default_factory=dict)
    """role ARN -> who depends on it."""
    instance_profiles: dict[str, set[Dependent]] = field(default_factory=dict)
    """instance profile ARN -> who (nodes, node classes) depends on it."""
    issuers: dict[str, set[str]] = field(default_factory=dict)
    """The OIDC issuers of the clusters in this account -> those clusters (their providers are always described)."""

    def __post_init__(self) -> None:
        default = self.clients.session(self.profile).region_name
        same_partition = default and partition_of_region(default) == self.partition
        region = default if same_partition else _PARTITION_REGION.get(self.partition, "us-east-1")
        self.iam = self.clients.client("iam", region, self.profile)
        self.result = AccountResult(self.account)
        self._roles: dict[str, dict[str, Any]] = {}
        self._folded: dict[str, dict[str, Any]] = {}
        """The roles read, by case-folded name: IAM role names are case-insensitive (the reader folds too)."""
        self._policies: dict[str, dict[str, Any]] = {}
        self._profile_docs: dict[str, dict[str, Any]] = {}
        self._profiles_seen: set[str] = set()
        """Instance profiles whose role a bulk page gave (no GetInstanceProfile needed for them)."""
        self._page_items = GAAD_PAGE_SIZE
        """Items per GetAccountAuthorizationDetails page: as asked, until a truncated page shows fewer."""

    # -- entry point -------------------------------------------------------------------------

    def collect(self) -> AccountResult:
        summary = self._summary()
        complete = False
        if summary is not None:
            items = summary.get("Roles", 0) + summary.get("Policies", 0) + AWS_MANAGED_ESTIMATE
            if pages_left(items, 0, self._page_items) < self._per_role_cost():
                try:
                    complete = self._bulk(["Role", *_POLICY_FILTER], items, self._per_role_cost)
                except AwsCallFailed:
                    # Denied, or failed after some pages: keep what was read, finish one by one (nothing
                    # lost), and do not ask the bulk API again for the policies.
                    summary = None
        partial = self._roles or self._policies
        self.result.mode = "bulk" if complete else "bulk, then per-role" if partial else "per-role"
        if not complete:
            self._per_role()
        self._missing_policies(summary, complete)
        # Only what is needed is written: a bulk page also gives roles nobody here uses, whose policies
        # may be on pages never read, and a role written without its policies would be reported as such.
        needed = {r["Arn"]: r for a in self.roles if (r := self._role_read(a)) is not None}
        used = {ref for role in needed.values() for ref in policy_refs(role)} & self._policies.keys()
        self.result.iam = {
            "RoleDetailList": [needed[a] for a in sorted(needed)],
            "Policies": [self._policies[a] for a in sorted(used)],
        }
        self.result.oidc = self._oidc_providers()
        return self.result

    # -- choosing ----------------------------------------------------------------------------

    def _summary(self) -> dict[str, int] | None:
        try:
            summary: dict[str, int] = call(self.iam, "get_account_summary", "iam:GetAccountSummary").get(
                "SummaryMap", {}
            )
            return summary
        except AwsCallFailed:
            return None  # not a coverage loss: we simply read role by role

    def _per_role_cost(self) -> int:
        """Calls to read, one by one, what is needed and not read yet (estimated as in the docs).

        With nothing read it is the per-role estimate of the first choice; after bulk pages, the roles
        they gave cost nothing more, but their managed policies not read yet do (2 calls each).
        """
        read = [r for a in self.roles if (r := self._role_read(a)) is not None]
        policies = {ref for role in read for ref in policy_refs(role)} - self._policies.keys()
        return (
            PER_ROLE_CALLS * (len(self.roles) - len(read))
            + PER_POLICY_CALLS * len(policies)
            + PER_PROFILE_CALLS * len(self.instance_profiles.keys() - self._profiles_seen)
        )

    # -- bulk --------------------------------------------------------------------------------

    def _bulk(self, filters: list[str], items: int, rest_cost: Callable[[], int]) -> bool:
        """Read GetAccountAuthorizationDetails; False if it stopped before the last page because
        reading the rest one by one (`rest_cost()` calls) became no dearer than the pages left.

        Why re-estimate after every truncated page: AWS may return fewer items than MaxItems asks,
        and a page is the only way to learn how many. Re-judged with what each page taught, pages
        smaller than asked cost, by the same estimates, at most the one page that revealed them
        (docs/aws-live.md, "Per-role or bulk").
        """
        loc = f"iam:GetAccountAuthorizationDetails {self.account}"
        read = 0
        for n, page in enumerate(
            pages(
                self.iam,
                "get_account_authorization_details",
                loc,
                Filter=filters,
                PaginationConfig={"PageSize": GAAD_PAGE_SIZE},
            ),
            start=1,
        ):
            read += sum(len(page.get(k, [])) for k in _GAAD_LISTS)
            for role in page.get("RoleDetailList", []):
                self._keep(role)
                for p in role.get("InstanceProfileList", []):
                    if p["Arn"] in self.instance_profiles:  # a node's role: its policies are needed too
                        self._profiles_seen.add(p["Arn"])
                        self.roles.setdefault(role["Arn"], set()).update(self.instance_profiles[p["Arn"]])
            for policy in page.get("Policies", []):
                # AWS returns only the AWS managed policies in use; some emulators return them all.
                if ":iam::aws:policy/" in policy["Arn"] and not (
                    policy.get("AttachmentCount") or policy.get("PermissionsBoundaryUsageCount")
                ):
                    continue
                # The API always names the policy; some emulators leave PolicyName out.
                policy.setdefault("PolicyName", policy["Arn"].rsplit("/", 1)[-1])
                self._policies[policy["Arn"]] = policy
            if page.get("IsTruncated"):
                self._page_items = max(1, read // n)
                if rest_cost() <= pages_left(items, read, self._page_items):
                    return False
        return True

    # -- per role ----------------------------------------------------------------------------

    def _per_role(self) -> None:
        """Read one by one the roles (and instance profiles) the bulk pages, if any, did not give."""
        profiles = sorted(self.instance_profiles.keys() - self._profiles_seen)
        profile_roles = self.clients.map("iam", self._instance_profile, profiles)
        for profile_arn, role_arns in zip(profiles, profile_roles, strict=True):
            for role_arn in role_arns:
                self.roles.setdefault(role_arn, set()).update(self.instance_profiles[profile_arn])
        wanted = sorted(a for a in self.roles if self._role_read(a) is None)
        for detail in self.clients.map("iam", self._role, wanted):
            if detail is not None:
                self._keep(detail)

    def _keep(self, role: dict[str, Any]) -> None:
        self._roles[role["Arn"]] = role
        self._folded[fold(role["Arn"])] = role

    def _role_read(self, arn: str) -> dict[str, Any] | None:
        return self._roles.get(arn) or self._folded.get(fold(arn))

    def _instance_profile(self, arn: str) -> list[str]:
        name = arn.rsplit("/", 1)[-1]
        try:
            doc = call(self.iam, "get_instance_profile", f"iam:GetInstanceProfile {arn}", InstanceProfileName=name)
        except AwsCallFailed as exc:
            if not exc.not_found:
                self._fail(exc, self.instance_profiles[arn])
            return []
        profile = doc["InstanceProfile"]
        # Kept whole, as GetAccountAuthorizationDetails' InstanceProfileList entries are.
        self._profile_docs[arn] = profile
        return [r["Arn"] for r in profile.get("Roles", [])]

    def _role(self, arn: str) -> dict[str, Any] | None:
        name = arn.rsplit("/", 1)[-1]
        subjects = self.roles[arn]
        try:
            role = call(self.iam, "get_role", f"iam:GetRole {arn}", RoleName=name)["Role"]
        except AwsCallFailed as exc:
            if not exc.not_found:
                self._fail(exc, subjects)
            return None  # does not exist: absent from the document, the reader reports it missing
        if fold(role.get("Arn", "")) != fold(arn):  # same name, other path: the annotation's role does not exist
            return None
        detail = {k: role[k] for k in _ROLE_KEYS if k in role}
        detail["InstanceProfileList"] = [
            p for _, p in sorted(self._profile_docs.items()) if any(r["Arn"] == role["Arn"] for r in p.get("Roles", []))
        ]
        # A role whose policies could not all be read is still written (its trust was read), and
        # the coverage error says what is missing: its permissions are then a lower bound.
        try:
            names = [
                n
                for page in pages(self.iam, "list_role_policies", f"iam:ListRolePolicies {arn}", RoleName=name)
                for n in page.get("PolicyNames", [])
            ]
            detail["RolePolicyList"] = [self._inline(arn, name, n) for n in sorted(names)]
        except AwsCallFailed as exc:
            self._fail(exc, subjects)
            detail["RolePolicyList"] = []
        try:
            detail["AttachedManagedPolicies"] = [
                {"PolicyName": p["PolicyName"], "PolicyArn": p["PolicyArn"]}
                for page in pages(
                    self.iam, "list_attached_role_policies", f"iam:ListAttachedRolePolicies {arn}", RoleName=name
                )
                for p in page.get("AttachedPolicies", [])
            ]
        except AwsCallFailed as exc:
            self._fail(exc, subjects)
            detail["AttachedManagedPolicies"] = []
        return detail

    def _inline(self, arn: str, role: str, policy: str) -> dict[str, Any]:
        loc = f"iam:GetRolePolicy {arn} {policy}"
        doc = call(self.iam, "get_role_policy", loc, RoleName=role, PolicyName=policy)
        return {"PolicyName": doc["PolicyName"], "PolicyDocument": doc["PolicyDocument"]}

    # -- managed policies --------------------------------------------------------------------

    def _missing_policies(self, summary: dict[str, int] | None, complete: bool) -> None:
        """Fetch every managed policy the needed roles use (attached or as boundary) not read yet."""
        users: dict[str, set[Dependent]] = {}
        for arn, dependents in self.roles.items():
            for ref in policy_refs(self._role_read(arn) or {}):
                users.setdefault(ref, set()).update(dependents)
        wanted = sorted(a for a in users if a not in self._policies)
        if not wanted:
            return
        if summary is not None and not complete:  # the same choice, for the policies alone
            items = summary.get("Policies", 0) + AWS_MANAGED_ESTIMATE
            if pages_left(items, 0, self._page_items) < PER_POLICY_CALLS * len(wanted):
                with contextlib.suppress(AwsCallFailed):  # else the per-policy calls below
                    self._bulk(
                        list(_POLICY_FILTER),
                        items,
                        lambda: PER_POLICY_CALLS * len(set(wanted) - self._policies.keys()),
                    )
                wanted = [a for a in wanted if a not in self._policies]
        for arn, found in zip(wanted, self.clients.map("iam", self._policy, wanted), strict=True):
            if isinstance(found, AwsCallFailed):
                self._fail(found, users[arn])
            elif found is not None:
                self._policies[arn] = found

    def _policy(self, arn: str) -> dict[str, Any] | AwsCallFailed | None:
        try:
            policy: dict[str, Any] = call(self.iam, "get_policy", f"iam:GetPolicy {arn}", PolicyArn=arn)["Policy"]
            loc = f"iam:GetPolicyVersion {arn} {policy['DefaultVersionId']}"
            version = call(self.iam, "get_policy_version", loc, PolicyArn=arn, VersionId=policy["DefaultVersionId"])[
                "PolicyVersion"
            ]
        except AwsCallFailed as exc:
            return None if exc.not_found else exc
        policy.pop("Tags", None)  # not part of get-account-authorization-details' ManagedPolicyDetail
        policy["PolicyVersionList"] = [version]
        return policy

    # -- OIDC providers ----------------------------------------------------------------------

    def _oidc_providers(self) -> dict[str, Any] | None:
        """The providers that decide anything: those the needed roles trust, and those of our clusters'
        issuers, each described by ARN (one call each, no listing).

        Why no ListOpenIDConnectProviders: the ARN of a cluster's provider follows from its issuer, so
        asking for it directly answers "does it exist" (NoSuchEntity: it does not, and it is left out,
        exactly as a listing would leave it out). That saves a call on every `check`.
        """
        prefix = f"arn:{self.partition}:iam::{self.account}:oidc-provider/"
        # provider ARN -> the clusters whose issuer it is (the IRSA trusts of their ServiceAccounts need it)
        ours: dict[str, set[Dependent]] = {}
        for issuer, clusters in self.issuers.items():
            arn = prefix + issuer.removeprefix("https://").rstrip("/")
            ours.setdefault(arn, set()).update(Dependent(c, IRSA_TRUST_RULES) for c in clusters)
        wanted = sorted(self._trusted_providers() | ours.keys())

        def get(arn: str) -> dict[str, Any] | AwsCallFailed:
            try:
                loc = f"iam:GetOpenIDConnectProvider {arn}"
                doc = call(self.iam, "get_open_id_connect_provider", loc, OpenIDConnectProviderArn=arn)
            except AwsCallFailed as exc:
                return exc
            return {"Arn": arn, **doc}

        out = []
        for arn, entry in zip(wanted, self.clients.map("iam", get, wanted), strict=True):
            if isinstance(entry, AwsCallFailed):
                if not entry.not_found:
                    self._fail(entry, self._trusting(arn) | ours.get(arn, set()))
                    out.append({"Arn": arn})  # exists or not, unknown: the error says so in coverage
                continue
            out.append(entry)
        return {"OpenIDConnectProviderList": out}

    def _trusted_providers(self) -> set[str]:
        return {p for arn in self.roles for p in federated(self._role_read(arn) or {})}

    def _trusting(self, provider: str) -> set[Dependent]:
        return {d for arn, ds in self.roles.items() if provider in federated(self._role_read(arn) or {}) for d in ds}

    def _fail(self, exc: AwsCallFailed, dependents: Collection[Dependent]) -> None:
        for d in sorted(dependents):
            self.result.errors.append(CoverageError("aws", exc.location, exc.reason, d.subject, d.rules))


def pages_left(items: int, read: int, page_items: int) -> int:
    """GetAccountAuthorizationDetails pages still to read, `read` of about `items` being read; at
    least one (a truncated page says there is more, whatever the estimate says)."""
    return max(1, math.ceil((items - read) / page_items))
