"""What the Azure rule families share: the view, and each identity's role assignments judged once."""

from __future__ import annotations

from kubeiam.vocabulary.model import CloudIdentity, Inventory
from kubeiam_azure.judge.catalogue import role_definition
from kubeiam_azure.judge.profile import AssignmentVerdict, judge_assignment
from kubeiam_azure.view import AzureView

EVIDENCE_SAMPLE = 20
"""At most this many items of a list in a finding's evidence: a sample keeps reports small."""


def view_of(inv: Inventory) -> AzureView | None:
    view = inv.views.get("azure")
    return view if isinstance(view, AzureView) else None


def verdicts(inv: Inventory, identity: CloudIdentity | None) -> tuple[AssignmentVerdict, ...]:
    """The identity's role assignments judged, by assignment id.

    Memoised per identity: every grant rule asks for every ServiceAccount that shares it."""
    view = view_of(inv)
    if identity is None or view is None:
        return ()
    memo: dict[str, tuple[AssignmentVerdict, ...]] = inv.memo("azure_verdicts", lambda _: {})
    found = memo.get(identity.principal)
    if found is None:
        judged = []
        for grant in identity.grants:
            assignment = view.assignments.get(grant.source)
            if assignment is not None:
                judged.append(judge_assignment(assignment, role_definition(view.roles, assignment.role_id)))
        found = memo[identity.principal] = tuple(sorted(judged, key=lambda v: v.assignment.id))
    return found
