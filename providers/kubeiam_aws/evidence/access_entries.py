"""EKS access entries and the `aws-auth` ConfigMap: IAM principals mapped into a cluster, as the Kubernetes RBAC
objects the API server would hold for them (`ExternalRbac`), for the Kubernetes provider's takeover rule.

- `aws/<account>/<region>/eks/<cluster>/access-entries.json`: `{"accessEntries": [<describe-access-entry
  .accessEntry> + "associatedAccessPolicies": <list-associated-access-policies .associatedAccessPolicies>]}`.
  Each associated access policy becomes a binding to User `<entry username>`: a ClusterRoleBinding for
  `accessScope.type` `cluster`, a RoleBinding per namespace for `namespace` (patterns such as `dev-*` are
  matched against the namespaces in the evidence). The policy is a synthetic ClusterRole modelled on the
  upstream role it resembles (cluster-admin, admin, edit, view; AdminView: read everything): approximated,
  and said so. `kubernetesGroups` map the principal into groups the cluster's own bindings name.
  Non-STANDARD entries (EC2_LINUX, FARGATE_LINUX, ...) are nodes: group `system:nodes`.
- `kube-system/aws-auth` (in `kubernetes/<cluster>/resources.json`, the Kubernetes view): `mapRoles` /
  `mapUsers` give an ARN a username and groups; nothing synthetic, only who stands behind them.

The cluster's `accessConfig.authenticationMode` (cluster.json) decides which applies: CONFIG_MAP (aws-auth
only), API (access entries only), API_AND_CONFIG_MAP (both; an access entry wins for the same ARN).
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from kubeiam.errors import InputError
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import CoverageError, ExternalRbac, Inventory
from kubeiam_aws.evidence.shapes import kind, mapping, one_page, text
from kubeiam_aws.view import EksCluster

ACCESS_ENTRIES = "access-entries.json"
TAKEOVER_RULES = ("K8S-006",)
POLICY_PREFIX = "arn:aws:eks::aws:cluster-access-policy/"
ITEM, REMEDIATION = "kubeiam.io/item", "kubeiam.io/remediation"
RBAC = "rbac.authorization.k8s.io"
_AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"
_EVERYTHING = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, {"nonResourceURLs": ["*"], "verbs": ["*"]}]
# Access policy -> the ClusterRole it is modelled on: rules, or the upstream aggregation label it mirrors.
POLICIES: Mapping[str, Mapping[str, Any]] = {
    "AmazonEKSClusterAdminPolicy": {"rules": _EVERYTHING},
    "AmazonEKSAdminPolicy": {"aggregate": "admin"},
    "AmazonEKSEditPolicy": {"aggregate": "edit"},
    "AmazonEKSViewPolicy": {"aggregate": "view"},
    "AmazonEKSAdminViewPolicy": {
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}],
    },
}
NOTE = (
    "EKS access policies are modelled on the upstream ClusterRoles they resemble (ClusterAdmin: cluster-admin, "
    "Admin: admin, Edit: edit, View: view, AdminView: read everything, Secrets included); namespace patterns "
    "are matched against the namespaces in the evidence, and future namespaces match too"
)
_MODES = ("CONFIG_MAP", "API", "API_AND_CONFIG_MAP")
_TOP = re.compile(r"^(mapRoles|mapUsers)$")  # top-level keys are case-sensitive (aws-iam-authenticator)


@dataclass(frozen=True)
class _Mapping:
    arn: str
    username: str | None
    groups: tuple[str, ...]
    item: str


def access_entries_rbac(
    evidence: Evidence, inventory: Inventory, eks: Sequence[EksCluster]
) -> tuple[tuple[ExternalRbac, ...], tuple[CoverageError, ...]]:
    """Every matched EKS cluster's access entries and aws-auth mappings, and what could not be read."""
    out: list[ExternalRbac] = []
    errors: list[CoverageError] = []
    for cluster in eks:
        if cluster.k8s_cluster is None:
            continue
        base = cluster.source.rsplit("/", 1)[0]
        mode, mode_errors = _mode(evidence, cluster)
        errors += mode_errors
        relative = f"{base}/{ACCESS_ENTRIES}"
        raw = evidence.load(relative)
        entries: list[tuple[int, Mapping[str, Any]]] = []
        if raw is not None and mode != "CONFIG_MAP":
            entries, entry_errors = _entries(relative, raw, cluster)
            errors += entry_errors
        elif raw is None and mode in ("API", "API_AND_CONFIG_MAP"):
            errors.append(_absent(relative, cluster, mode))
        namespaces = _namespaces(inventory, cluster.k8s_cluster)
        by_arn: set[str] = set()
        policies: dict[str, Mapping[str, Any]] = {}
        for i, entry in entries:
            made = _entry_rbac(relative, cluster, i, entry, namespaces, policies, errors)
            if made is not None:
                out.append(made)
                by_arn.add(str(entry["principalArn"]))
        if policies:
            out.append(ExternalRbac(cluster.k8s_cluster, relative, tuple(policies.values()), note=NOTE))
        if mode != "API":
            found, auth_errors = _aws_auth(inventory, cluster, mode)
            errors += auth_errors
            for m in found:
                if m.arn not in by_arn:  # an access entry wins for the same principal
                    out.append(_mapping_rbac(cluster.k8s_cluster, m))
    return tuple(out), tuple(errors)


# -- the authentication mode ------------------------------------------------------------------------


def _mode(evidence: Evidence, cluster: EksCluster) -> tuple[str | None, list[CoverageError]]:
    doc = evidence.load(cluster.source)
    if doc is None:
        return None, []
    raw = mapping(mapping(mapping(doc).get("cluster")).get("accessConfig")).get("authenticationMode")
    if raw is None or raw in _MODES:
        return raw, []
    what = (
        f"cluster.accessConfig.authenticationMode is {kind(raw)} {str(raw)[:40]!r}: "
        "both aws-auth and access entries are read"
    )
    return None, [CoverageError("aws", cluster.source, what, subject=cluster.k8s_cluster, rules=TAKEOVER_RULES)]


def _absent(relative: str, cluster: EksCluster, mode: str) -> CoverageError:
    return CoverageError(
        "aws",
        relative,
        f"absent while the cluster's authenticationMode is {mode}: IAM principals its access entries map into the "
        "cluster are unchecked (aws eks list-access-entries, then describe-access-entry and "
        "list-associated-access-policies for each)",
        subject=cluster.k8s_cluster,
        rules=TAKEOVER_RULES,
    )


# -- access entries -----------------------------------------------------------------------------------


def _entries(
    relative: str, raw: Any, cluster: EksCluster
) -> tuple[list[tuple[int, Mapping[str, Any]]], list[CoverageError]]:
    if not isinstance(raw, dict) or "accessEntries" not in raw:
        if isinstance(raw, dict) and "accessEntry" in raw:
            raise InputError(
                f"{relative}: is one `aws eks describe-access-entry` output: write "
                '{"accessEntries": [<.accessEntry of each> + "associatedAccessPolicies": [...]]}'
            )
        raise InputError(f"{relative}: missing field 'accessEntries'")
    items = raw["accessEntries"]
    if not isinstance(items, list):
        raise InputError(f"{relative}: field 'accessEntries' must be a list, found {kind(items)}")
    if items and all(isinstance(i, str) for i in items):
        raise InputError(
            f"{relative}: is `aws eks list-access-entries` output (ARNs only): write "
            f'{{"accessEntries": [<aws eks describe-access-entry --cluster-name {cluster.name} --principal-arn ARN '
            '--query accessEntry> + "associatedAccessPolicies": <aws eks list-associated-access-policies ... '
            "--query associatedAccessPolicies>]}"
        )
    errors: list[CoverageError] = []
    page = one_page(relative, raw, "aws eks list-access-entries", cluster.k8s_cluster, TAKEOVER_RULES)
    errors += [page] if page else []
    out = []
    for i, entry in enumerate(items):
        if not isinstance(entry, Mapping) or text(entry.get("principalArn")) is None:
            errors.append(_item_error(relative, f"accessEntries[{i}]", "has no readable 'principalArn'", cluster))
            continue
        out.append((i, entry))
    return out, errors


def _entry_rbac(
    relative: str,
    cluster: EksCluster,
    i: int,
    entry: Mapping[str, Any],
    namespaces: Sequence[str],
    policies: dict[str, Mapping[str, Any]],
    errors: list[CoverageError],
) -> ExternalRbac | None:
    arn = str(entry["principalArn"])
    where = f"accessEntries[{i}]"
    username = text(entry.get("username")) or arn
    if entry.get("username") is not None and text(entry.get("username")) is None:
        errors.append(_item_error(relative, f"{where}.username", "is not a user name: taken as the ARN", cluster))
    entry_type = text(entry.get("type")) or "STANDARD"
    groups = entry.get("kubernetesGroups") or []
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        errors.append(_item_error(relative, f"{where}.kubernetesGroups", "is not a list of group names", cluster))
        groups = []
    principals = {f"user:{username}": arn, **{f"group:{g}": arn for g in groups}}
    if entry_type != "STANDARD":
        principals["group:system:nodes"] = arn  # node entries: the Node authorizer's group
        return ExternalRbac(str(cluster.k8s_cluster), relative, (), principals, f"{entry_type} access entry (nodes)")
    associated = entry.get("associatedAccessPolicies")
    if associated is None:
        errors.append(
            _item_error(
                relative,
                f"{where}.associatedAccessPolicies",
                "absent: the access policies associated with the entry are unchecked "
                "(aws eks list-associated-access-policies)",
                cluster,
            )
        )
        associated = []
    elif not isinstance(associated, list):
        what = f"is {kind(associated)}, not a list: the access policies associated with the entry are unchecked"
        errors.append(_item_error(relative, f"{where}.associatedAccessPolicies", what, cluster))
        associated = []
    objects: list[Mapping[str, Any]] = []
    for j, assoc in enumerate(associated):
        item = f"{where}.associatedAccessPolicies[{j}]"
        objects += _association(relative, cluster, arn, username, item, assoc, namespaces, policies, errors)
    return ExternalRbac(str(cluster.k8s_cluster), relative, tuple(objects), principals, NOTE if objects else "")


def _association(
    relative: str,
    cluster: EksCluster,
    arn: str,
    username: str,
    item: str,
    assoc: Any,
    namespaces: Sequence[str],
    policies: dict[str, Mapping[str, Any]],
    errors: list[CoverageError],
) -> list[Mapping[str, Any]]:
    policy_arn = text(mapping(assoc).get("policyArn"))
    scope = mapping(mapping(assoc).get("accessScope"))
    scope_type = scope.get("type")
    if policy_arn is None or scope_type not in ("cluster", "namespace"):
        errors.append(_item_error(relative, item, "has no readable 'policyArn' or 'accessScope.type'", cluster))
        return []
    name = policy_arn.removeprefix(POLICY_PREFIX)
    model = POLICIES.get(name)
    if model is None:
        why = f"access policy {name} is not one kubeiam models: what it grants {username} is unchecked"
        errors.append(_item_error(relative, item, why, cluster))
        return []
    role = f"eks-access-policy:{name}"
    policies.setdefault(name, _policy_role(role, model, relative))
    digest = hashlib.sha256(arn.encode()).hexdigest()[:8]
    binding = f"eks-access-entry:{digest}:{name}"
    hint = (
        f"Disassociate {name} from the EKS access entry of {arn} (aws eks disassociate-access-policy --cluster-name "
        f"{cluster.name} --principal-arn {arn} --policy-arn {policy_arn}), or narrow its accessScope to namespaces "
        "without ServiceAccounts that hold cloud identities"
    )
    annotations = {ITEM: item, REMEDIATION: hint}
    subject = [{"apiGroup": RBAC, "kind": "User", "name": username}]
    ref = {"apiGroup": RBAC, "kind": "ClusterRole", "name": role}
    if scope_type == "cluster":
        meta = {"name": binding, "annotations": annotations}
        return [
            {
                "apiVersion": f"{RBAC}/v1",
                "kind": "ClusterRoleBinding",
                "metadata": meta,
                "roleRef": ref,
                "subjects": subject,
            }
        ]
    patterns = scope.get("namespaces")
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        errors.append(_item_error(relative, f"{item}.accessScope.namespaces", "is not a list of names", cluster))
        return []
    out: list[Mapping[str, Any]] = []
    for ns in _expand(patterns, namespaces):
        meta = {"name": binding, "namespace": ns, "annotations": annotations}
        out.append(
            {"apiVersion": f"{RBAC}/v1", "kind": "RoleBinding", "metadata": meta, "roleRef": ref, "subjects": subject}
        )
    return out


def _policy_role(name: str, model: Mapping[str, Any], relative: str) -> Mapping[str, Any]:
    meta = {"name": name, "annotations": {ITEM: f"access policy {name.split(':', 1)[1]} (modelled)"}}
    role: dict[str, Any] = {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": meta}
    if "rules" in model:
        role["rules"] = model["rules"]
    else:
        label = {f"{_AGGREGATE}{model['aggregate']}": "true"}
        role["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": label}]}
        role["rules"] = None
    return role


def _expand(patterns: Iterable[str], namespaces: Sequence[str]) -> list[str]:
    out: dict[str, None] = {}
    for p in patterns:
        if any(c in p for c in "*?["):
            out.update((ns, None) for ns in namespaces if fnmatch.fnmatchcase(ns, p))
        else:
            out[p] = None
    return list(out)


def _namespaces(inventory: Inventory, cluster: str) -> list[str]:
    names = {n.name for n in inventory.namespaces if n.cluster == cluster}
    names |= {sa.namespace for sa in inventory.service_accounts if sa.cluster == cluster}
    return sorted(names)


def _item_error(relative: str, item: str, what: str, cluster: EksCluster) -> CoverageError:
    return CoverageError("aws", f"{relative}: {item}", what, subject=cluster.k8s_cluster, rules=TAKEOVER_RULES)


# -- aws-auth -----------------------------------------------------------------------------------------


def _aws_auth(
    inventory: Inventory, cluster: EksCluster, mode: str | None
) -> tuple[list[_Mapping], list[CoverageError]]:
    view = inventory.views.get("kubernetes")
    k8s = inventory.cluster(str(cluster.k8s_cluster))
    where = k8s.source if k8s is not None else f"kubernetes/{cluster.k8s_cluster}/resources.json"
    objects = view.of_kind(cluster.k8s_cluster, "ConfigMap") if view is not None else ()
    found = next(
        (o for o in objects if mapping(o.get("metadata")).get("name") == "aws-auth"
         and mapping(o.get("metadata")).get("namespace") == "kube-system"),
        None,
    )  # fmt: skip
    if found is None:
        if mode == "CONFIG_MAP":
            why = (
                "the kube-system/aws-auth ConfigMap is not in the evidence while the cluster's authenticationMode is "
                "CONFIG_MAP: IAM principals it maps into the cluster are unchecked "
                "(kubectl get configmap aws-auth -n kube-system -o json)"
            )
            return [], [CoverageError("aws", where, why, subject=cluster.k8s_cluster, rules=TAKEOVER_RULES)]
        return [], []
    return parse_aws_auth(found.get("data"), f"{where}: ConfigMap kube-system/aws-auth", str(cluster.k8s_cluster))


def parse_aws_auth(data: Any, where: str, cluster: str) -> tuple[list[_Mapping], list[CoverageError]]:
    """`mapRoles` / `mapUsers` as aws-iam-authenticator reads them: top-level keys case-sensitive, inner keys
    not; a value that is not YAML text or an entry without an ARN is a coverage error naming it."""
    out: list[_Mapping] = []
    errors: list[CoverageError] = []

    def error(item: str, what: str) -> None:
        errors.append(CoverageError("aws", f"{where}: {item}", what, subject=cluster, rules=TAKEOVER_RULES))

    for key, value in mapping(data).items():
        if not _TOP.match(str(key)):
            continue
        if not isinstance(value, str):
            error(f"data.{key}", f"is {kind(value)}, not YAML text: the mappings in it are unchecked")
            continue
        try:
            entries = yaml.safe_load(value) or []
        except yaml.YAMLError:
            error(f"data.{key}", "is not YAML: the mappings in it are unchecked")
            continue
        if not isinstance(entries, list):
            error(f"data.{key}", "is not a list of mappings: the mappings in it are unchecked")
            continue
        arn_key = "rolearn" if key == "mapRoles" else "userarn"
        for i, raw in enumerate(entries):
            entry = {str(k).lower(): v for k, v in raw.items()} if isinstance(raw, dict) else {}
            arn, groups = text(entry.get(arn_key)), entry.get("groups") or []
            if arn is None or not isinstance(groups, list):
                error(f"data.{key}[{i}]", f"has no readable '{arn_key}' or 'groups': the mapping is unchecked")
                continue
            username = text(entry.get("username"))
            out.append(_Mapping(arn, username, tuple(str(g) for g in groups), f"data.{key}[{i}]"))
    return out, errors


def _mapping_rbac(cluster: str, m: _Mapping) -> ExternalRbac:
    principals = {f"group:{g}": m.arn for g in m.groups}
    if m.username:
        principals[f"user:{m.username}"] = m.arn
    return ExternalRbac(cluster, f"kubernetes/{cluster}/resources.json", (), principals, f"aws-auth {m.item}")
