"""Live AWS collection: from the Kubernetes inventory to the AWS files of the evidence directory.

Order (each step needs the one before): EKS per cluster (cluster, node groups, Pod Identity) ->
EC2 per account and region (instances, launch templates) -> IAM per account (roles reached by
IRSA, Pod Identity, node groups and instance profiles; their policies; OIDC providers) -> files.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from kubeiam.pipeline.progress import progress_of
from kubeiam.pipeline.providers import CollectRequest
from kubeiam.vocabulary.model import CoverageError, Inventory
from kubeiam_aws.live.clients import AwsCallFailed, CallCounter, Clients, call, check_profiles
from kubeiam_aws.live.coverage import NODE_TEMPLATE_RULES, Dependent, node_subject
from kubeiam_aws.live.ec2 import describe_instances, instance_profiles, launch_template_versions
from kubeiam_aws.live.eks import EksLookup, collect_cluster
from kubeiam_aws.live.iam import AccountIam, AccountResult
from kubeiam_aws.live.organization import OrgOptions, Reached, org_options, reach
from kubeiam_aws.live.plan import Scope, build_scope, parse_role_arn
from kubeiam_aws.live.usage import ANALYZER, LAST_ACCESSED, collect_usage
from kubeiam_aws.live.writer import write_json

Needs = dict[str, dict[str, set[Dependent]]]
"""account -> role (or instance profile) ARN -> who depends on it."""


def collect(request: CollectRequest, inventory: Inventory, counter: CallCounter | None = None) -> list[CoverageError]:
    """Fetch what `inventory`'s ServiceAccounts and nodes need from AWS into `request.output`."""
    counter = counter or getattr(request.options, "aws_call_counter", None) or CallCounter()
    try:
        import boto3  # noqa: F401  (the [aws] extra: reading evidence needs no SDK)
        from botocore.exceptions import BotoCoreError
    except ImportError:
        if not build_scope(request, inventory, None).clusters:
            return []
        return [_nothing_read("boto3", "boto3 is not installed (pip install 'kubeiam[aws]')")]
    profile = getattr(request.options, "aws_profile", None)
    account_profiles = _account_profiles(getattr(request.options, "aws_account_profiles", None))
    check_options(request.options)  # a mistyped profile is a usage error (exit 2)
    clients = Clients(
        profile=profile,
        region=getattr(request.options, "aws_region", None),
        counter=counter,
        account_profiles=account_profiles,
    )
    try:
        default_region = clients.default_region()
    except BotoCoreError as exc:  # an unreadable AWS config file
        if not build_scope(request, inventory, None).clusters:
            return []
        return [_nothing_read("aws session", " ".join(str(exc).split()))]
    scope = build_scope(request, inventory, default_region)
    if not scope.clusters:
        return []
    try:
        errors = _Run(request, inventory, scope, clients, org_options(request.options)).run()
    finally:
        clients.close()
    first = clients.first_failure
    if clients.answered == 0 and first is not None:
        # Nothing was read (unreachable, credentials refused, every call denied): the run must not pass
        # as clean. The per-subject entries stay: they say what each ServiceAccount is missing.
        errors.insert(0, _nothing_read(first.location, first.reason))
    return errors


def check_options(options: Any) -> None:
    """InputError (exit 2) for options that name what does not exist (a profile), before any call: the
    pipeline may call it before any provider collects."""
    try:
        import boto3  # noqa: F401
    except ImportError:
        return  # said by `collect` (nothing of AWS can be read)
    check_profiles(
        getattr(options, "aws_profile", None), _account_profiles(getattr(options, "aws_account_profiles", None))
    )
    org_options(options)  # --aws-accounts without --aws-org, or not account ids


class _Run:
    def __init__(
        self, request: CollectRequest, inventory: Inventory, scope: Scope, clients: Clients, org: OrgOptions | None
    ) -> None:
        self.request = request
        self.inventory = inventory
        self.scope = scope
        self.clients = clients
        self.org = org
        self.progress = progress_of(request)
        self.errors: list[CoverageError] = []
        self._caller: tuple[str, str] | None = None
        self._caller_error: AwsCallFailed | None = None

    def run(self) -> list[CoverageError]:
        clusters = self._eks()
        accounts = self._ec2_and_roles(clusters)
        self._iam(accounts)
        return self.errors

    # -- EKS ---------------------------------------------------------------------------------

    def _eks(self) -> list[EksLookup]:
        task = self.progress.task("aws: EKS clusters", total=len(self.scope.clusters))
        out = []
        for cs in self.scope.clusters:  # one at a time: each cluster's own calls already run in parallel
            if not cs.region:
                self.errors.append(
                    CoverageError("aws", f"cluster {cs.name}", "no AWS region: pass --aws-region", cs.name)
                )
                out.append(EksLookup(cs, ""))
                continue
            found = collect_cluster(self.clients, self.scope, cs, lambda: (self._caller_identity() or (None,))[0])
            self.errors += found.errors
            out.append(found)
            task.advance()
        task.done()
        return out

    def _account_of(self, cluster: EksLookup) -> str | None:
        if cluster.account:
            return cluster.account
        caller = self._caller_identity()
        if caller is None and self._caller_error is not None:
            exc = self._caller_error
            self.errors.append(CoverageError("aws", exc.location, f"{exc.reason}: account unknown", cluster.scope.name))
        return caller[0] if caller else None

    def _caller_identity(self) -> tuple[str, str] | None:
        """(account, partition) of the credentials, asked of STS only when neither EKS nor the kubeconfig told."""
        if self._caller is None and self._caller_error is None:
            try:
                arn = call(
                    self.clients.client("sts", self.clients.default_region() or "us-east-1"),
                    "get_caller_identity",
                    "sts:GetCallerIdentity",
                )["Arn"]
            except AwsCallFailed as exc:
                self._caller_error = exc
                return None
            parts = arn.split(":")
            self._caller = (parts[4], parts[1])
        return self._caller

    # -- EC2 and the set of roles ------------------------------------------------------------

    def _ec2_and_roles(self, clusters: list[EksLookup]) -> dict[str, AccountIam]:
        """Write the EC2 and EKS files; return, per account, the roles and instance profiles needed."""
        needs: Needs = defaultdict(lambda: defaultdict(set))
        profiles: Needs = defaultdict(lambda: defaultdict(set))
        home: dict[str, str] = {}  # account -> partition, for the accounts we hold credentials for
        issuers: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))  # account -> issuer -> clusters
        instances: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)  # (account, region) -> id -> subject
        templates: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        for c in clusters:
            cs = c.scope
            for arn, subjects in cs.irsa.items():
                needs[arn.split(":")[4]][arn].update(Dependent(s) for s in subjects)
            account = self._account_of(c) if cs.region else None
            if account is None or cs.region is None:
                continue
            home[account] = c.partition or (self._caller or ("", "aws"))[1]
            base = f"aws/{account}/{cs.region}"
            issuer = (c.cluster or {}).get("cluster", {}).get("identity", {}).get("oidc", {}).get("issuer")
            if issuer or cs.cluster.issuer:
                issuers[account][issuer or cs.cluster.issuer or ""].add(cs.name)
            if c.cluster is not None:
                write_json(self.request.output, f"{base}/eks/{cs.name}/cluster.json", c.cluster)
            if c.nodegroups is not None:
                write_json(self.request.output, f"{base}/eks/{cs.name}/nodegroups.json", {"nodegroups": c.nodegroups})
                for ng in c.nodegroups:
                    if role := ng.get("nodeRole"):
                        needs[role.split(":")[4]][role].add(Dependent(role))
                    if ng.get("launchTemplate"):
                        templates[(account, cs.region)].append((cs.name, ng["launchTemplate"]))
            if self.scope.single is None:
                self._node_classes(cs.name, account, home[account], needs, profiles)
            if c.access_entries is not None:
                write_json(self.request.output, f"{base}/eks/{cs.name}/access-entries.json", c.access_entries)
            if c.associations is not None:
                write_json(
                    self.request.output,
                    f"{base}/eks/{cs.name}/pod-identity-associations.json",
                    {"associations": c.associations},
                )
                # The roles of the in-scope ServiceAccounts only: the others' associations are there to
                # tell who else shares a role (AWS-006), which needs no role of theirs.
                in_scope = set(cs.subjects())
                for a in c.associations:
                    who = f"{cs.name}/{a.get('namespace')}/{a.get('serviceAccount')}"
                    for key in ("roleArn", "targetRoleArn") if who in in_scope else ():
                        if parse_role_arn(a.get(key) or ""):
                            needs[a[key].split(":")[4]][a[key]].add(Dependent(who))
            nodes = cs.node_of_instance()
            for region, ids in cs.instances().items():
                for i in ids:
                    instances[(account, region)][i] = node_subject(cs.name, nodes[i].name)
        task = self.progress.task("aws: EC2 instances and launch templates", total=len(instances) + len(templates))
        for (account, region), by_instance in sorted(instances.items()):
            found, failures = describe_instances(self.clients, region, sorted(by_instance))
            for f in failures:
                self.errors += [
                    CoverageError("aws", f.location, f.reason, s) for s in sorted(set(by_instance.values()))
                ]
            # Why not write what we have: a file lacking an instance would say that node is gone;
            # without the file its nodes are unchecked, which is the truth.
            if not failures:
                write_json(self.request.output, f"aws/{account}/{region}/ec2-instances.json", found)
            for instance, profile in instance_profiles(found).items():
                profiles[profile.split(":")[4]][profile].add(Dependent(by_instance[instance]))
            task.advance()
        for (account, region), used in sorted(templates.items()):
            found, failures = launch_template_versions(self.clients, region, [t for _, t in used])
            for f in failures:  # the node groups of these clusters start nodes from templates not read
                self.errors += [
                    CoverageError("aws", f.location, f.reason, c, NODE_TEMPLATE_RULES)
                    for c in sorted({c for c, _ in used})
                ]
            if not failures:
                write_json(self.request.output, f"aws/{account}/{region}/launch-template-versions.json", found)
            task.advance()
        task.done()
        return self._accounts(needs, profiles, home, issuers)

    def _node_classes(self, cluster: str, account: str, partition: str, needs: Needs, profiles: Needs) -> None:
        """Karpenter EC2NodeClasses name the node role (or instance profile) of nodes yet to start."""
        view = self.inventory.views.get("kubernetes")
        for nc in view.of_kind(cluster, "EC2NodeClass") if view is not None else ():
            spec = nc.get("spec") or {}
            role = str(spec.get("role") or "")
            if role:  # a name (Karpenter's usual form) or an ARN
                arn = role if role.startswith("arn:") else f"arn:{partition}:iam::{account}:role/{role}"
                if parse_role_arn(arn):
                    needs[arn.split(":")[4]][arn].add(Dependent(arn))
            if spec.get("instanceProfile"):
                arn = f"arn:{partition}:iam::{account}:instance-profile/{spec['instanceProfile']}"
                profiles[account][arn].add(Dependent(cluster, NODE_TEMPLATE_RULES))

    def _accounts(
        self, needs: Needs, profiles: Needs, home: dict[str, str], issuers: dict[str, dict[str, set[str]]]
    ) -> dict[str, AccountIam]:
        if not home and (needs or profiles):  # no EKS cluster told us whose credentials these are
            caller = self._caller_identity()
            if caller:
                home[caller[0]] = caller[1]
        out: dict[str, AccountIam] = {}
        held = ", ".join(f"{a} ({p})" for a, p in sorted(home.items())) or "none"
        org = self._org(needs, profiles, home)
        for account in sorted(set(needs) | set(profiles)):
            profile = None if account in home else self.clients.account_profiles.get(account)
            arns = needs.get(account, {})
            partition = home.get(account) or next((a.split(":")[1] for a in sorted(arns)), "aws")
            if profile is None and account in org.keys:  # a role assumed in the organisation's partition
                profile, partition = org.keys[account], next(iter(home.values()))
            reachable = {}
            for arn, dependents in sorted(arns.items()):
                if (account in home or profile) and arn.split(":")[1] == partition:
                    reachable[arn] = set(dependents)
                    continue
                # Why not try anyway: GetRole takes only a name and answers for the caller's own
                # account, so asking would read a same-named role of the wrong account.
                reason = (
                    f"the role is in account {account} ({arn.split(':')[1]}); the credentials in use are for {held}"
                    f" (to read it, map a profile to that account: --aws-account-profile {account}=PROFILE, or"
                    " assume a role there: --aws-org ROLE_NAME)"
                )
                if account in org.unreached and arn.split(":")[1] == partition:
                    reason = org.unreached[account]
                if not home and self._caller_error is not None:
                    reason = f"account of the credentials unknown: {self._caller_error.reason}"
                self.errors += [CoverageError("aws", f"iam:GetRole {arn}", reason, *d) for d in sorted(dependents)]
            if account not in home and not profile:
                continue
            acct = AccountIam(self.clients, account, partition, profile)
            acct.roles = reachable
            acct.instance_profiles = {a: set(s) for a, s in profiles.get(account, {}).items()}
            acct.issuers = {i: set(c) for i, c in issuers.get(account, {}).items()}
            out[account] = acct
        return out

    def _org(self, needs: Needs, profiles: Needs, home: dict[str, str]) -> Reached:
        """`--aws-org`: a role assumed in each needed account that is neither home nor mapped to a profile."""
        if self.org is None or not home:  # (no home: whose organisation, and which partition, is unknown)
            return Reached()
        partition = next(iter(home.values()))
        others = {
            a
            for a in set(needs) | set(profiles)
            if a not in home
            and a not in self.clients.account_profiles
            and any(arn.split(":")[1] == partition for arn in [*needs.get(a, {}), *profiles.get(a, {})])
        }
        if not others:  # (no Organizations call either)
            return Reached()
        task = self.progress.task("aws: roles assumed in other accounts (--aws-org)", total=len(others))
        found = reach(self.clients, self.org, others, partition, self.clients.default_region() or "us-east-1")
        self.errors += found.errors
        task.advance(len(others))
        task.done()
        return found

    # -- IAM ---------------------------------------------------------------------------------

    def _iam(self, accounts: dict[str, AccountIam]) -> None:
        task = self.progress.task("aws: IAM roles and policies", total=len(accounts))
        results: dict[str, AccountResult] = {}
        for account, acct in accounts.items():
            result: AccountResult = acct.collect()
            self.errors += result.errors
            if result.iam is not None:
                write_json(self.request.output, f"aws/{account}/iam.json", result.iam)
            if result.oidc is not None:
                write_json(self.request.output, f"aws/{account}/oidc-providers.json", result.oidc)
            results[account] = result
            task.advance()
        task.done()
        if getattr(self.request.options, "aws_usage", True):
            self._usage(accounts, results)

    def _usage(self, accounts: dict[str, AccountIam], results: dict[str, AccountResult]) -> None:
        """Usage data (AWS-024) of the roles the in-scope ServiceAccounts take and that were read."""
        in_scope = {s for cs in self.scope.clusters for s in cs.subjects()}
        regions = sorted({cs.region for cs in self.scope.clusters if cs.region})
        work = {}
        for account, acct in accounts.items():
            read = {r.get("Arn") for r in (results[account].iam or {}).get("RoleDetailList", [])}
            roles = [a for a, deps in acct.roles.items() if a in read and any(d.subject in in_scope for d in deps)]
            if roles:
                work[account] = (acct, roles)
        task = self.progress.task("aws: usage (service last accessed)", total=len(work))
        for account, (acct, roles) in work.items():
            found = collect_usage(self.clients, account, acct.profile, acct.iam, roles, regions)
            self.errors += found.errors
            if found.last_accessed:
                write_json(self.request.output, f"aws/{account}/{LAST_ACCESSED}", found.last_accessed)
            for region, analyzer in found.analyzer.items():
                write_json(self.request.output, f"aws/{account}/{region}/{ANALYZER}", analyzer)
            task.advance()
        task.done()


def _account_profiles(value: Any) -> dict[str, str]:
    """`ACCOUNT=PROFILE` strings (repeatable option, or one comma-separated string) -> {account: profile}."""
    if not value:
        return {}
    items = value.split(",") if isinstance(value, str) else list(value)
    out = {}
    for item in items:
        account, sep, profile = str(item).partition("=")
        if sep and account.strip().isdigit() and profile.strip():
            out[account.strip()] = profile.strip()
    return out


def _nothing_read(location: str, reason: str) -> CoverageError:
    """Nothing of AWS could be read: said before the findings, and the run exits 3."""
    return CoverageError("aws", location, reason, None, whole=True)
