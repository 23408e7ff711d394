"""Load every `azure/<subscription>/...` file into typed objects, one item at a time.

An item that cannot be understood (one assignment, one role definition, one identity, one federated
credential) is kept aside as a `Gap` keyed by what depends on it (a principal, a role, a client id,
an identity), so the reader can leave exactly those identities partly checked and audit the rest.
What cannot be attributed (an assignment without a readable principal, a truncated page) concerns
every identity that could depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import Gap
from kubeiam_azure.evidence.aks import Problem, parse_aks
from kubeiam_azure.evidence.assignments import parse_role_assignment, principal_of
from kubeiam_azure.evidence.definitions import parse_role_definition, role_id_of
from kubeiam_azure.evidence.fields import Page, Unreadable, kind, page_of
from kubeiam_azure.evidence.graph import APP_ROLES, MEMBERSHIPS, load_app_roles, load_memberships
from kubeiam_azure.evidence.identities import keys_of, parse_federated_credential, parse_identity
from kubeiam_azure.view import (
    AksCluster,
    AppRole,
    FederatedCredential,
    ManagedIdentity,
    Membership,
    RoleAssignment,
    RoleDefinition,
)


@dataclass(frozen=True)
class UnreadIdentity:
    """An identity listed in identities.json that could not be read."""

    gap: Gap
    resource_id: str | None


@dataclass
class Files:
    """Everything read from `azure/<subscription>/...`, merged over subscriptions (filled by `load`,
    read-only afterwards)."""

    subscriptions: list[str] = field(default_factory=list)
    roles: dict[str, RoleDefinition] = field(default_factory=dict)
    role_gaps: dict[str, list[Gap]] = field(default_factory=dict)
    """By role GUID: parts of that role definition (or all of it) not understood."""
    unread_roles: list[Gap] = field(default_factory=list)
    """Role definitions whose GUID could not be read, and truncated listings: any role not found may be there."""
    assignments: dict[str, RoleAssignment] = field(default_factory=dict)
    assignment_subs: set[str] = field(default_factory=set)
    """Subscriptions (lower-cased) whose role-assignments.json was read."""
    assignment_gaps: dict[str, list[Gap]] = field(default_factory=dict)
    """By principal (object id): its assignments that could not be read."""
    unread_assignments: list[Gap] = field(default_factory=list)
    """Assignments of no readable principal, and truncated listings: they may be anyone's."""
    identities: dict[str, ManagedIdentity] = field(default_factory=dict)
    identity_gaps: dict[str, list[Gap]] = field(default_factory=dict)
    """By identity id: fields of a readable identity that could not be read (its tenant)."""
    unread_identities: dict[str, UnreadIdentity] = field(default_factory=dict)
    """By client id: identities that could not be read."""
    unlisted_identities: list[Gap] = field(default_factory=list)
    """Identities without a readable client id, and truncated listings: any client id not found may be there."""
    identity_subs: set[str] = field(default_factory=set)
    """Subscriptions (lower-cased) whose identities.json was read."""
    federated: dict[str, tuple[FederatedCredential, ...]] = field(default_factory=dict)
    """By identity id, the credentials that could be read; an identity absent here was not collected."""
    federated_gaps: dict[str, list[Gap]] = field(default_factory=dict)
    """By identity id: its credentials that could not be read (or a listing cut short)."""
    federated_subs: set[str] = field(default_factory=set)
    """Subscriptions (lower-cased) whose federated-credentials.json was read."""
    aks: list[AksCluster] = field(default_factory=list)
    aks_problems: dict[str, tuple[Problem, ...]] = field(default_factory=dict)
    """By AKS file: settings that could not be read."""
    memberships: dict[str, tuple[Membership, ...]] = field(default_factory=dict)
    """By principal object id (`group-memberships.json`); a principal absent here was not collected."""
    membership_gaps: dict[str, list[Gap]] = field(default_factory=dict)
    membership_files: list[str] = field(default_factory=list)
    app_roles: dict[str, tuple[AppRole, ...]] = field(default_factory=dict)
    """By principal object id (`app-roles.json`); a principal absent here was not collected."""
    app_role_gaps: dict[str, list[Gap]] = field(default_factory=dict)
    app_role_files: list[str] = field(default_factory=list)


def _page(doc: object, path: str, unattributed: list[Gap]) -> Page:
    """The file's listing; one page of several leaves a gap for whatever may be on the others."""
    page = page_of(doc, path)
    if page.next_link:
        unattributed.append(Gap(path, "nextLink", page.missing_pages()))
    return page


def load(evidence: Evidence) -> Files:
    files = Files()
    for sub in evidence.children("azure"):
        base, low = f"azure/{sub}", sub.lower()
        files.subscriptions.append(sub)
        _role_definitions(evidence, f"{base}/role-definitions.json", files)
        _role_assignments(evidence, f"{base}/role-assignments.json", files, low)
        _identities(evidence, f"{base}/identities.json", files, low)
        _federated(evidence, f"{base}/federated-credentials.json", files, low)
        if load_memberships(evidence, f"{base}/{MEMBERSHIPS}", files.memberships, files.membership_gaps):
            files.membership_files.append(f"{base}/{MEMBERSHIPS}")
        if load_app_roles(evidence, f"{base}/{APP_ROLES}", files.app_roles, files.app_role_gaps):
            files.app_role_files.append(f"{base}/{APP_ROLES}")
        for rg in evidence.children(f"{base}/aks"):
            for name in evidence.files(f"{base}/aks/{rg}"):
                path = f"{base}/aks/{rg}/{name}"
                aks, problems = parse_aks(evidence.load_object(path), path, low)
                files.aks.append(aks)
                if problems:
                    files.aks_problems[path] = problems
    return files


def _role_definitions(evidence: Evidence, path: str, files: Files) -> None:
    doc = evidence.load(path)
    if doc is None:
        return
    page = _page(doc, path, files.unread_roles)
    for i, raw in enumerate(page.items):
        try:
            role, gaps = parse_role_definition(raw, page.path(i), path)
        except Unreadable as exc:
            guid = role_id_of(raw)
            gap = Gap(path, exc.item, exc.reason)
            (files.role_gaps.setdefault(guid, []) if guid else files.unread_roles).append(gap)
            continue
        files.roles[role.id] = role
        if gaps:
            files.role_gaps.setdefault(role.id, []).extend(Gap(path, g.item, g.reason) for g in gaps)


def _role_assignments(evidence: Evidence, path: str, files: Files, sub: str) -> None:
    doc = evidence.load(path)
    if doc is None:
        return
    files.assignment_subs.add(sub)
    page = _page(doc, path, files.unread_assignments)
    for i, raw in enumerate(page.items):
        try:
            a = parse_role_assignment(raw, page.path(i), path)
        except Unreadable as exc:
            principal = principal_of(raw)
            gap = Gap(path, exc.item, exc.reason)
            (files.assignment_gaps.setdefault(principal, []) if principal else files.unread_assignments).append(gap)
            continue
        files.assignments.setdefault(a.id, a)  # inherited ones repeat in every subscription


def _identities(evidence: Evidence, path: str, files: Files, sub: str) -> None:
    doc = evidence.load(path)
    if doc is None:
        return
    files.identity_subs.add(sub)
    page = _page(doc, path, files.unlisted_identities)
    for i, raw in enumerate(page.items):
        try:
            mi, gaps = parse_identity(raw, page.path(i), sub, path)
        except Unreadable as exc:
            client, rid = keys_of(raw)
            gap = Gap(path, exc.item, exc.reason)
            if client:
                files.unread_identities[client] = UnreadIdentity(gap, rid)
            else:
                files.unlisted_identities.append(gap)
            continue
        files.identities[mi.id] = mi
        if gaps:
            files.identity_gaps[mi.id] = [Gap(path, g.item, g.reason) for g in gaps]


def _federated(evidence: Evidence, path: str, files: Files, sub: str) -> None:
    by_identity = evidence.load_object(path)
    if by_identity is None:
        return
    files.federated_subs.add(sub)
    for key, value in by_identity.items():
        identity = key.lower()
        gaps = files.federated_gaps.setdefault(identity, [])
        item = f"[{key!r}]"
        if not isinstance(value, list) and not (isinstance(value, dict) and isinstance(value.get("value"), list)):
            # One identity's entry unreadable: that identity is unchecked, the others are read.
            gaps.append(Gap(path, item, f"must be a list of federated credentials, found {kind(value)}"))
            files.federated[identity] = ()
            continue
        page = page_of(value, path)
        if page.next_link:
            gaps.append(Gap(path, f"{item}.nextLink", page.missing_pages()))
        creds = []
        for i, raw in enumerate(page.items):
            try:
                where = f"{item}.{page.path(i)}" if page.prefix else f"{item}{page.path(i)}"
                creds.append(parse_federated_credential(raw, where, path))
            except Unreadable as exc:
                gaps.append(Gap(path, exc.item, exc.reason))
        files.federated[identity] = tuple(creds)
        if not gaps:
            del files.federated_gaps[identity]
