"""Parse the EKS files of one account and region: `eks/<cluster>/cluster.json` (describe-cluster),
`nodegroups.json` and `pod-identity-associations.json` (the describe-* objects, gathered).

The `list-*` commands print names or summaries, not what the rules need: such a file is refused with
the one command to run instead. An item that cannot be read is a coverage error naming the file, the
item and the ServiceAccount (or cluster) it leaves unchecked; a file that is absent while the cluster's
other files are there is one too (coverage.py), since what it would hold decides findings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubeiam.errors import InputError
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import CoverageError
from kubeiam_aws.evidence.network import VpcCni, read_vpc_cni
from kubeiam_aws.evidence.shapes import kind, mapping, one_page, text

# What Pod Identity associations decide: which role a ServiceAccount takes, so every per-ServiceAccount rule.
POD_IDENTITY_RULES = (
    "AWS-004", "AWS-006", "AWS-007", "AWS-010", "AWS-011", "AWS-012", "AWS-013", "AWS-014", "AWS-015", "AWS-016",
)  # fmt: skip
NODEGROUP_RULES = ("AWS-022",)
NODEGROUPS, ASSOCIATIONS = "nodegroups.json", "pod-identity-associations.json"
# Keys of describe-pod-identity-association's object that list-pod-identity-associations' summaries lack.
_DESCRIBED = frozenset({"roleArn", "targetRoleArn", "createdAt", "modifiedAt", "tags", "disableSessionTags"})


@dataclass(frozen=True, slots=True)
class Association:
    namespace: str
    service_account: str
    role_arn: str
    target_role_arn: str | None = None
    session_tags: bool = True
    policy: Any = None
    """`policy`: the association's session policy (a JSON string), None when it has none."""
    item: str = ""
    """Where in the file: `associations[3]`."""


@dataclass(frozen=True, slots=True)
class Nodegroup:
    name: str
    launch_template: Mapping[str, str] | None = None
    """`{"id"?, "name"?, "version"?}` of the launch template, when the node group has one."""
    node_role: str | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """An item that could not be read; its subject is worked out once the cluster is matched."""

    error: CoverageError
    service_account: tuple[str, str] | None = None
    """(namespace, name) when the item names one: the error is about that ServiceAccount only."""


@dataclass(frozen=True, slots=True)
class EksFiles:
    """One EKS cluster's files, as read (the reader matches it to a Kubernetes evidence cluster)."""

    account: str
    region: str
    name: str
    arn: str | None = None
    issuer: str | None = None
    nodegroups: tuple[Nodegroup, ...] = ()
    associations: tuple[Association, ...] = ()
    base: str = ""
    absent: tuple[str, ...] = ()
    """Files of the cluster not in the evidence (`nodegroups.json`, `pod-identity-associations.json`)."""
    problems: tuple[Problem, ...] = ()
    vpc_cni: VpcCni | None = None
    """The vpc-cni add-on (`addon-vpc-cni.json`): whether its network policy agent is on."""


_LIST_HINTS = {
    "clusters": "is `aws eks list-clusters` output: write `aws eks describe-cluster --name {name}` here",
    "nodegroup": 'is one `aws eks describe-nodegroup` output: write {{"nodegroups": [<.nodegroup of each>]}}',
    "association": "is one `aws eks describe-pod-identity-association` output: write "
    '{{"associations": [<.association of each>]}}',
}


def _refuse(relative: str, data: Any, expected: str, name: str) -> None:
    """The one-line error for a neighbouring command's output (top-level shape)."""
    if isinstance(data, dict) and expected not in data:
        hint = next((h for k, h in _LIST_HINTS.items() if k in data), None)
        raise InputError(f"{relative}: " + (hint.format(name=name) if hint else f"missing field '{expected}'"))


def _items(relative: str, data: Any, key: str) -> list[Any]:
    items = data.get(key) if isinstance(data, dict) else data
    if not isinstance(items, list):
        where = f"field '{key}'" if isinstance(data, dict) else "top level"
        raise InputError(f"{relative}: {where} must be a list, found {kind(items)}")
    return items


def _nodegroups(relative: str, data: Any, name: str, problems: list[Problem]) -> tuple[Nodegroup, ...]:
    _refuse(relative, data, "nodegroups", name)
    items = _items(relative, data, "nodegroups")
    if items and all(isinstance(n, str) for n in items):
        raise InputError(
            f"{relative}: is `aws eks list-nodegroups` output (names only): write "
            f'{{"nodegroups": [<aws eks describe-nodegroup --cluster-name {name} --nodegroup-name NAME '
            "--query nodegroup> for each name]}"
        )
    out = []
    for i, ng in enumerate(items):
        ng_name = text(mapping(ng).get("nodegroupName"))
        lt = mapping(ng).get("launchTemplate")
        if ng_name is None or (lt is not None and not isinstance(lt, Mapping)):
            what = f"nodegroups[{i}] has no 'nodegroupName' or a 'launchTemplate' that is not an object"
            problems.append(Problem(CoverageError("aws", relative, what, rules=NODEGROUP_RULES)))
            continue
        template = {k: str(v) for k, v in lt.items() if k in ("id", "name", "version") and v} if lt else None
        out.append(Nodegroup(ng_name, template or None, text(ng.get("nodeRole"))))
    page = one_page(relative, data, "aws eks list-nodegroups", None, NODEGROUP_RULES)
    problems += [Problem(page)] if page else []
    return tuple(out)


def _associations(relative: str, data: Any, name: str, problems: list[Problem]) -> tuple[Association, ...]:
    _refuse(relative, data, "associations", name)
    items = _items(relative, data, "associations")
    summaries = [a for a in items if isinstance(a, Mapping) and "associationId" in a and not _DESCRIBED.intersection(a)]
    if summaries and len(summaries) == len(items):
        raise InputError(
            f"{relative}: is `aws eks list-pod-identity-associations` output (summaries, no roleArn): write "
            f'{{"associations": [<aws eks describe-pod-identity-association --cluster-name {name} '
            "--association-id ID --query association> for each associationId]}"
        )
    out = []
    for i, a in enumerate(items):
        raw = mapping(a)
        ns, sa, role = text(raw.get("namespace")), text(raw.get("serviceAccount")), text(raw.get("roleArn"))
        target = raw.get("targetRoleArn")
        fields = {"namespace": ns, "serviceAccount": sa, "roleArn": role}
        missing = next((k for k, v in fields.items() if v is None), None)
        if missing is None and target is not None and text(target) is None:
            missing = "targetRoleArn"
        if missing is not None or ns is None or sa is None or role is None:
            what = f"associations[{i}] has no readable '{missing}': the role it gives is not checked"
            error = CoverageError("aws", relative, what, rules=POD_IDENTITY_RULES)
            problems.append(Problem(error, (ns, sa) if ns and sa else None))
            continue
        tags = raw.get("disableSessionTags") is not True
        out.append(Association(ns, sa, role, text(target), tags, raw.get("policy"), f"associations[{i}]"))
    page = one_page(relative, data, "aws eks list-pod-identity-associations", None, POD_IDENTITY_RULES)
    problems += [Problem(page)] if page else []
    return tuple(out)


def _cluster(relative: str, doc: Any, name: str, problems: list[Problem]) -> tuple[str | None, str | None]:
    """(ARN, issuer) of describe-cluster's `cluster` object."""
    _refuse(relative, doc, "cluster", name)
    cluster = doc.get("cluster") if isinstance(doc, dict) else None
    if not isinstance(cluster, Mapping):
        raise InputError(f"{relative}: field 'cluster' must be an object, found {kind(cluster)}")
    arn = text(cluster.get("arn"))
    issuer_raw = mapping(mapping(cluster.get("identity")).get("oidc")).get("issuer")
    issuer = text(issuer_raw)
    for field, value, ok in (("arn", cluster.get("arn"), arn), ("identity.oidc.issuer", issuer_raw, issuer)):
        if value is not None and ok is None:
            what = f"cluster.{field} is {kind(value)}: taken from the other evidence"
            problems.append(Problem(CoverageError("aws", relative, what)))
    return arn, issuer


def read_eks(evidence: Evidence, account: str, region: str) -> list[EksFiles]:
    out = []
    for name in evidence.children(f"aws/{account}/{region}/eks"):
        base = f"aws/{account}/{region}/eks/{name}"
        problems: list[Problem] = []
        doc = evidence.load(f"{base}/cluster.json")
        raw_nodegroups = evidence.load(f"{base}/{NODEGROUPS}")
        raw_associations = evidence.load(f"{base}/{ASSOCIATIONS}")
        if doc is None and raw_nodegroups is None and raw_associations is None:
            continue
        arn, issuer = _cluster(f"{base}/cluster.json", doc, name, problems) if doc is not None else (None, None)
        nodegroups = (
            _nodegroups(f"{base}/{NODEGROUPS}", raw_nodegroups, name, problems) if raw_nodegroups is not None else ()
        )
        associations = (
            _associations(f"{base}/{ASSOCIATIONS}", raw_associations, name, problems)
            if raw_associations is not None
            else ()
        )
        absent = tuple(f for f, raw in ((NODEGROUPS, raw_nodegroups), (ASSOCIATIONS, raw_associations)) if raw is None)
        addon_errors: list[CoverageError] = []
        vpc_cni = read_vpc_cni(evidence, base, addon_errors, name)
        problems += [Problem(e) for e in addon_errors]
        out.append(
            EksFiles(
                account, region, name, arn, issuer, nodegroups, associations, base, absent, tuple(problems), vpc_cni
            )
        )
    return out
