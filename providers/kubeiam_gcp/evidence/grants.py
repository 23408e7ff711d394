"""A member's grants (its bindings, trust left out, as the model's `Grant`), worked out on first ask, and
the `Gap`s of those whose role's permissions are unknown.

A Google service account also holds what is granted to the principal sets it is in: the groups that
group-memberships.json says hold it (`group:G`), every service account of its project, folder or
organisation (`principalSet://cloudresourcemanager.googleapis.com/.../type/ServiceAccount`), and everyone
(`allAuthenticatedUsers`, `allUsers`); each such grant names the member it came through (`via`). A group
whose members are not in the evidence may hold the account: its sensitive grants are the account's gaps.
(`domain:` members hold users of a Workspace or Cloud Identity domain, never service accounts.)

Why on first ask: an estate binds far more members (users, groups, other projects' accounts) than the
links reach; only those asked about are turned into grants, and a role whose permissions are unknown is
named only for them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from kubeiam.vocabulary.model import Gap, Grant
from kubeiam.vocabulary.policy import Effect, Statement
from kubeiam_gcp.judge.catalogue import load_catalogue
from kubeiam_gcp.judge.profile import classify
from kubeiam_gcp.judge.trust import is_trust
from kubeiam_gcp.view import Binding

from .index import EvidenceIndex


class MemberGrants:
    """The one memo of the read: results depend only on the frozen index."""

    def __init__(self, index: EvidenceIndex) -> None:
        self._index = index
        self._grants: dict[str, tuple[Grant, ...]] = {}
        self._gaps: dict[str, tuple[Gap, ...]] = {}
        self._groups: dict[str, list[str]] | None = None
        self._group_gaps: tuple[Gap, ...] | None = None
        self._sets: dict[str, list[tuple[str, str | None]]] = {}

    def of(self, member: str) -> tuple[Grant, ...]:
        grants = self._grants.get(member)
        if grants is None:
            by_member = self._index.by_member
            found = [(b, via) for m, via in self._through(member) for b in by_member.get(m, ()) if not is_trust(b)]
            perms = [self._index.permissions(b.role) for b, _ in found]
            grants = self._grants[member] = tuple(_grant(b, p, via) for (b, via), p in zip(found, perms, strict=True))
            unknown = {b.role: b for (b, _), p in zip(found, perms, strict=True) if p is None}
            self._gaps[member] = tuple(self._unknown_role(b) for b in unknown.values())
        return grants

    def _through(self, member: str) -> list[tuple[str, str | None]]:
        """The members whose bindings `member` holds: itself, and the sets it is in (each with its name)."""
        out: list[tuple[str, str | None]] = [(member, None)]
        if not member.startswith("serviceAccount:"):
            return out  # a Kubernetes principal is in no Google group (its pool's sets are its own members)
        out += [(m, m) for m in ("allAuthenticatedUsers", "allUsers") if m in self._index.by_member]
        email = member[len("serviceAccount:") :]
        out += [(g, g) for g in self._group_members().get(email.lower(), ())]
        project = self._index.project_of(email)
        out += self._account_sets(project) if project else []
        return out

    def _account_sets(self, project: str) -> list[tuple[str, str | None]]:
        """`principalSet://.../type/ServiceAccount` members naming the project or its ancestors (by id or
        number) that some policy grants to; once per project."""
        found = self._sets.get(project)
        if found is None:
            found = self._sets[project] = []
            for scope in self._index.ancestry(project):
                kind, _, ident = scope.partition("/")
                for name in dict.fromkeys((ident, self._index.numbers.get(ident) if kind == "projects" else None)):
                    m = f"principalSet://cloudresourcemanager.googleapis.com/{kind}/{name}/type/ServiceAccount"
                    if name and m in self._index.by_member:
                        found.append((m, m))
        return found

    def _group_members(self) -> dict[str, list[str]]:
        """Member email -> the `group:` members (as the policies spell them) whose groups hold it."""
        if self._groups is None:
            self._groups = {}
            for m in self._index.by_member:
                if m.startswith("group:"):
                    for email in self._index.groups.get(m[len("group:") :].lower(), ()):
                        self._groups.setdefault(email, []).append(m)
        return self._groups

    def group_gaps(self) -> tuple[Gap, ...]:
        """Sensitive grants to groups whose members are not in the evidence: any service account may be
        in them (the same for every account; named on each linked identity)."""
        if self._group_gaps is None:
            gaps: list[Gap] = []
            for m, bindings in self._index.by_member.items():
                group = m[len("group:") :].lower() if m.startswith("group:") else None
                if group is None or group in self._index.groups:
                    continue
                sensitive = [b for b in bindings if _sensitive(b, self._index.permissions(b.role))]
                if not sensitive:
                    continue
                unread = self._index.groups_unread.get(group)
                why = unread.describe() if unread else "group-memberships.json is not in the evidence"
                more = f" (and {len(sensitive) - 1} more grants)" if len(sensitive) > 1 else ""
                reason = f"{m} holds {sensitive[0].role}{more}; whether the account is a member is unknown: {why}"
                gaps.append(Gap(sensitive[0].source, sensitive[0].grant_source, reason))
            self._group_gaps = tuple(gaps)
        return self._group_gaps

    def gaps_of(self, member: str) -> tuple[Gap, ...]:
        """The member's grants whose role's permissions are unknown (never read as "no permissions")."""
        self.of(member)
        return self._gaps[member]

    def _unknown_role(self, b: Binding) -> Gap:
        unread = self._index.unread
        if b.role in unread.roles:
            u = unread.roles[b.role]
            return Gap(u.file, u.item, f"{b.role}: {u.reason}")
        reason = (
            f"role {b.role} is neither in the predefined-role catalogue ({load_catalogue().date}) nor in "
            "custom-roles.json: its permissions are unknown"
        )
        project = b.role.split("/")[1] if b.role.startswith("projects/") else None
        note = unread.list_note(unread.role_lists, project)
        return Gap(b.source, b.grant_source, reason + (f" (the list may hold it: {note})" if note else ""))


def _sensitive(b: Binding, perms: frozenset[str] | None) -> bool:
    """A grant a rule would report: unknown permissions, admin, escalation, data, or a write role above a project."""
    if perms is None:
        return True
    profile = classify(b.role, perms)
    return profile.sensitive or (b.scope_level in ("folder", "organization") and not profile.read_only)


def _grant(b: Binding, perms: frozenset[str] | None, via: str | None = None) -> Grant:
    statements = (_statement(b.role, perms),) if perms else ()
    cond = b.condition or {}
    document = b.document()
    if via:
        document["via"] = via
    return Grant(
        source=b.grant_source + (f" via {via}" if via else ""),
        kind="role-binding",
        statements=statements,
        role=b.role,
        scope=b.scope,
        scope_level=b.scope_level,
        condition=cond.get("expression") or (cond.get("title") if cond else None),
        document=document,
    )


_STATEMENTS: dict[tuple[str, frozenset[str]], Statement] = {}


def _statement(role: str, perms: frozenset[str]) -> Statement:
    # Memoised per role across reads: roles/editor carries ~12,000 permissions; build its statement once.
    key = (role, perms)
    st = _STATEMENTS.get(key)
    if st is None:
        st = _STATEMENTS[key] = Statement(Effect.ALLOW, actions=tuple(sorted(perms)), sid=role)
    return st


class AccountGrants(Mapping[str, tuple[Grant, ...]]):
    """GSA email -> its grants, worked out on first ask (a chain reaches few of an estate's accounts)."""

    def __init__(self, grants: MemberGrants, emails: Iterable[str]) -> None:
        self._grants = grants
        self._emails = frozenset(emails)

    def __getitem__(self, email: str) -> tuple[Grant, ...]:
        if email not in self._emails:
            raise KeyError(email)
        return self._grants.of(f"serviceAccount:{email}")

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._emails))

    def __len__(self) -> int:
        return len(self._emails)
