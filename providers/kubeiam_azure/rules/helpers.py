"""What the Azure rule families share: the view, and each identity's role assignments judged once."""

from __future__ import annotations

import re

from kubeiam.vocabulary.model import CloudIdentity, Inventory
from kubeiam_azure.judge.catalogue import role_definition
from kubeiam_azure.judge.entra import TENANT, graph_read, privileges
from kubeiam_azure.judge.escalation import Hit, identity_methods
from kubeiam_azure.judge.profile import AssignmentVerdict, judge_assignment
from kubeiam_azure.judge.reach import ADMIN, LIST_ADMIN, NONE, POWER, ReachGraph
from kubeiam_azure.view import AzureView

EVIDENCE_SAMPLE = 20
"""At most this many items of a list in a finding's evidence: a sample keeps reports small."""


def view_of(inv: Inventory) -> AzureView | None:
    view = inv.views.get("azure")
    return view if isinstance(view, AzureView) else None


def verdicts(inv: Inventory, identity: CloudIdentity | None) -> tuple[AssignmentVerdict, ...]:
    """The identity's role assignments judged, by assignment id.

    Memoised per identity (by object id when known: two names of one principal, such as a kubelet identity
    also listed in identities.json, share its assignments): every grant rule asks for every ServiceAccount
    that shares it."""
    view = view_of(inv)
    if identity is None or view is None:
        return ()
    memo: dict[str, tuple[AssignmentVerdict, ...]] = inv.memo("azure_verdicts", lambda _: {})
    key = view.object_ids.get(identity.principal, identity.principal)
    found = memo.get(key)
    if found is None:
        judged = []
        for grant in identity.grants:
            assignment = view.assignments.get(grant.source)
            if assignment is not None:
                judged.append(judge_assignment(assignment, role_definition(view.roles, assignment.role_id)))
        found = memo[key] = tuple(sorted(judged, key=lambda v: v.assignment.id))
    return found


_SUBSCRIPTION = re.compile(r"^/subscriptions/([^/]+)", re.IGNORECASE)


def hits(inv: Inventory, identity: CloudIdentity) -> tuple[Hit, ...]:
    """The escalation methods the identity holds (`judge.escalation`), once per identity. The AKS admin
    credential is dropped where its scope is a cluster whose local accounts are disabled."""
    memo: dict[str, tuple[Hit, ...]] = inv.memo("azure_hits", lambda _: {})
    found = memo.get(identity.principal)
    if found is None:
        view = view_of(inv)
        disabled = [a.id for a in view.aks.values() if a.local_accounts_disabled] if view else []

        def door_open(h: Hit) -> bool:
            scope = h.anchor.assignment.scope.strip().rstrip("/").lower()
            return h.method.id != LIST_ADMIN or not any(scope == d or scope.startswith(d + "/") for d in disabled)

        found = memo[identity.principal] = tuple(h for h in identity_methods(verdicts(inv, identity)) if door_open(h))
    return found


def own_level(inv: Inventory, identity: CloudIdentity) -> int:
    """ADMIN, POWER (anything beyond reading, or what is not fully known) or NONE, from its own grants."""
    view = view_of(inv)
    if view is None:
        return POWER
    judged = verdicts(inv, identity)
    oid = view.object_ids.get(identity.principal)
    entra = privileges(view, oid)
    if any(v.admin for v in judged) or any(p.level == TENANT for p in entra):
        return ADMIN
    sub = _SUBSCRIPTION.match(identity.principal)
    unknown = (
        identity.gaps
        or not graph_read(view, oid)
        or (sub is not None and sub.group(1).lower() not in view.assignment_subscriptions)
        or (sub is None and not view.assignment_subscriptions)
    )
    if unknown or entra or hits(inv, identity) or any(v.profile is None or not v.profile.read_only for v in judged):
        return POWER
    return NONE


def reach_graph(inv: Inventory) -> ReachGraph | None:
    """Who can become whom, built once over the whole inventory (`check` judges as `audit` does)."""
    whole = inv.whole
    view = view_of(whole)
    if view is None:
        return None
    return whole.memo(
        "azure_reach", lambda i: ReachGraph(i, view, lambda ident: hits(i, ident), lambda ident: own_level(i, ident))
    )
