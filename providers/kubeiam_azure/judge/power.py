"""What one Azure identity can do, in one word, for other providers' rules (`Declarations.powers["azure"]`).

The Kubernetes provider's takeover rule asks here through the inventory's declarations (never by import).
Each role assignment of the identity is judged once (`judge_assignment`, memoised).

Levels: `admin` (Owner anywhere, Contributor-like at subscription or management group), `escalation`
(role assignments, role definitions or federated credentials it may write), `data` (blobs, secrets, keys,
storage keys), `write`, `read`, `none` (no assignment), `unknown` (a role definition not in the evidence
or the catalogue, or assignments not read, and nothing stronger).
"""

from __future__ import annotations

from kubeiam.vocabulary.model import CloudIdentity, IdentityPower, Inventory
from kubeiam_azure.judge.catalogue import role_definition
from kubeiam_azure.judge.profile import AssignmentVerdict, judge_assignment, scope_label
from kubeiam_azure.view import AzureView

SUMMARY = 3


def azure_power(inventory: Inventory, identity: CloudIdentity) -> IdentityPower:
    """The identity's power, once per identity per inventory."""
    memo: dict[str, IdentityPower] = inventory.memo("azure_power", lambda _: {})
    found = memo.get(identity.principal)
    if found is None:
        found = memo[identity.principal] = _judge(inventory, identity)
    return found


def _verdicts(inventory: Inventory, identity: CloudIdentity) -> list[AssignmentVerdict]:
    view = inventory.views.get("azure")
    if not isinstance(view, AzureView):
        return []
    out = []
    for grant in identity.grants:
        assignment = view.assignments.get(grant.source)
        if assignment is not None:
            out.append(judge_assignment(assignment, role_definition(view.roles, assignment.role_id)))
    return sorted(out, key=lambda v: v.assignment.id)


def _judge(inventory: Inventory, identity: CloudIdentity) -> IdentityPower:
    verdicts = _verdicts(inventory, identity)

    def label(v: AssignmentVerdict) -> str:
        return f"{v.role_name} on {scope_label(v.assignment.scope)}"

    admin = [label(v) for v in verdicts if v.admin]
    if admin:
        return IdentityPower("admin", tuple(admin[:SUMMARY]))
    escalation = [f"{a} ({label(v)})" for v in verdicts for a in v.escalation]
    if escalation:
        return IdentityPower("escalation", tuple(escalation[:SUMMARY]))
    data = [f"{a} ({label(v)})" for v in verdicts if v.profile for a in v.profile.sensitive_data]
    if data:
        return IdentityPower("data", tuple(data[:SUMMARY]))
    unknown = [f"role {v.assignment.role_id} not known ({v.assignment.id})" for v in verdicts if v.profile is None]
    unknown += [g.describe() for g in identity.gaps]
    if unknown:
        return IdentityPower("unknown", tuple(unknown[:SUMMARY]))
    if not verdicts:
        view = inventory.views.get("azure")
        read = getattr(view, "assignment_subscriptions", None)
        mi = view.identities.get(identity.principal) if isinstance(view, AzureView) else None
        if read is not None and mi is not None and mi.subscription.lower() not in read:
            return IdentityPower("unknown", (f"role assignments of subscription {mi.subscription} not read",))
        return IdentityPower("none", ("no role assignment",))
    writes = [label(v) for v in verdicts if v.profile and not v.profile.read_only]
    if writes:
        return IdentityPower("write", tuple(writes[:SUMMARY]))
    return IdentityPower("read", tuple(label(v) for v in verdicts[:SUMMARY]))
