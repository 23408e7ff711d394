"""`kubernetes/<cluster>/rbac.json` (`kubectl get roles,rolebindings,clusterroles,clusterrolebindings -A -o json`)
read into the judge's `RbacObjects`, and what of it could not be understood.

Exit 2 only when the file is not a Kubernetes List (or a list of objects) at its top level. Below that,
every item the parser cannot read, every binding whose role is not in the file and every duplicate is a
coverage error naming the file and the item (`items[12].rules[0].verbs`), with the namespace it concerns
(or the cluster) as subject and K8S-006 as the rule it may hide findings of: who can become a
ServiceAccount there is then not fully known, never "nobody".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kubeiam.errors import InputError
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import CoverageError, ServiceAccount
from kubeiam_kubernetes.declarations import KUBERNETES
from kubeiam_kubernetes.judge.rbac_model import Problem, RbacObjects
from kubeiam_kubernetes.judge.rbac_parse import parse_rbac

RBAC_FILE = "rbac.json"
TAKEOVER_RULES = ("K8S-006",)
"""The rules whose findings an RBAC gap may hide (a baseline marks exactly those `not_rechecked`)."""
COMMAND = "kubectl get roles,rolebindings,clusterroles,clusterrolebindings -A -o json"


def load_rbac(evidence: Evidence, relative: str, cluster: str) -> tuple[RbacObjects | None, list[CoverageError]]:
    """The file's RBAC objects and its coverage errors; (None, []) when the file is absent."""
    doc = evidence.load(relative)
    if doc is None:
        return None, []
    if not isinstance(doc, list) and not (isinstance(doc, dict) and ("items" in doc or "kind" in doc)):
        raise InputError(f"{relative}: expected a Kubernetes List ({COMMAND})")
    if isinstance(doc, dict) and "items" in doc and not isinstance(doc["items"], list | None):
        raise InputError(f"{relative}: field 'items' must be a list")
    objects = parse_rbac([(relative, doc)])
    errors = _pages(doc, relative, cluster)
    errors += [
        problem_error(p, cluster) for p in (*objects.problems, *_unresolved(objects)) if p.kind != "skipped-kind"
    ]
    return objects, errors


def problem_error(problem: Problem, cluster: str) -> CoverageError:
    subject = f"{cluster}/{problem.namespace}" if problem.namespace else cluster
    return CoverageError(
        KUBERNETES,
        f"{problem.source}: {problem.path}",
        f"{problem.message}: who can act as the ServiceAccounts it concerns is not fully known",
        subject=subject,
        rules=TAKEOVER_RULES,
    )


def _unresolved(objects: RbacObjects) -> Iterable[Problem]:
    """Bindings to a role the file lacks, and objects listed twice: what they grant is not known.

    Why here and not only in the judge: the judge sees the cluster's RBAC merged with what the clouds
    grant, at rule time; coverage belongs to the reading of the file."""
    keys: set[tuple[str, str | None, str]] = set()
    for role in objects.roles:
        key = (role.kind, role.namespace, role.name)
        if key in keys:
            yield Problem(role.source, role.path, f"duplicate {role.ref}; the first one is used", role.namespace)
        keys.add(key)
    for b in objects.bindings:
        if b.role_key() not in keys:
            yield Problem(
                b.source,
                f"{b.path}.roleRef".lstrip("."),
                f"{b.ref} references {b.role_ref.kind}/{b.role_ref.name}, which is not in the file: what it grants "
                "is unknown",
                b.namespace,
                "unresolved-role",
            )


def _pages(doc: Any, relative: str, cluster: str) -> list[CoverageError]:
    """One page of a longer list (`--chunk-size`, a raw API page): the bindings after it are missing."""
    meta = doc.get("metadata") if isinstance(doc, Mapping) else None
    if not isinstance(meta, Mapping):
        return []
    token, remaining = meta.get("continue"), meta.get("remainingItemCount")
    if not token and not (isinstance(remaining, int) and not isinstance(remaining, bool) and remaining > 0):
        return []
    return [
        CoverageError(
            KUBERNETES,
            f"{relative}: metadata.{'continue' if token else 'remainingItemCount'}",
            "one page of a longer list: the roles and bindings after it were not read, so who can act as the "
            "cluster's ServiceAccounts is not fully known",
            subject=cluster,
            rules=TAKEOVER_RULES,
        )
    ]


def absent_rbac(cluster: str, relative: str, annotated: int) -> CoverageError:
    """No rbac.json while the cluster has ServiceAccounts bound to cloud identities: their takeover is unchecked."""
    return CoverageError(
        KUBERNETES,
        relative,
        f"absent: who else can act as the cluster's {annotated} ServiceAccount(s) with a workload-identity "
        f"annotation (and so hold their cloud identities) was not checked; collect it with `{COMMAND}`",
        subject=cluster,
        rules=TAKEOVER_RULES,
    )


def annotated_service_accounts(sas: Iterable[ServiceAccount], identity_keys: Iterable[str]) -> int:
    """How many ServiceAccounts carry an identity annotation some provider declares (not interpreted here)."""
    keys = frozenset(identity_keys)
    return sum(1 for sa in sas if keys.intersection(sa.annotations))
