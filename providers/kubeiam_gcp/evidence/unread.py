"""The items of the GCP files that could not be read, indexed by what depends on them.

- a binding whose members can be read: those members (`by_member`): each identity among them is
  audited on the rest and carries a `Gap`;
- an item of one service account (an entry field, a key, a binding of its own policy): that account
  (`by_account`); a binding of its own policy also leaves its trust uncertain (`trust`);
- its whole policy or key list: `account_policy`, `account_keys`;
- a custom role whose permissions cannot be read: `roles`;
- an entry of the account list or the role list that names nothing readable, or missing pages:
  `account_lists` / `role_lists`, by project (any account or role not found may be on them);
- a binding whose members cannot be read, pages of the asset search: `by_project`: everything
  granted in that project is uncertain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from kubeiam.vocabulary.model import Gap
from kubeiam_gcp.judge.trust import parse_member

from .guardrail_files import DENY
from .json_checks import (
    ACCOUNT,
    ACCOUNT_KEYS,
    ACCOUNT_POLICY,
    ACCOUNTS,
    BINDING,
    KEY,
    PAGES,
    ROLE,
    ROLES,
    Unread,
)
from .project_folder import ProjectFiles


@dataclass
class UnreadIndex:
    by_member: dict[str, list[Unread]] = field(default_factory=dict)
    by_account: dict[str, list[Unread]] = field(default_factory=dict)
    trust: dict[str, list[Unread]] = field(default_factory=dict)
    account_policy: dict[str, Unread] = field(default_factory=dict)
    account_keys: dict[str, Unread] = field(default_factory=dict)
    roles: dict[str, Unread] = field(default_factory=dict)
    account_lists: dict[str, list[Unread]] = field(default_factory=dict)
    role_lists: dict[str, list[Unread]] = field(default_factory=dict)
    by_project: dict[str, list[Unread]] = field(default_factory=dict)

    @classmethod
    def of(cls, folders: Iterable[ProjectFiles]) -> UnreadIndex:
        index = cls()
        for p in folders:
            for u in p.unread:
                index._add(p.project, u)
        return index

    def _add(self, project: str, u: Unread) -> None:
        if u.kind == BINDING:
            if u.members is None:
                self.by_project.setdefault(project, []).append(u)
            for m in u.members or ():
                self.by_member.setdefault(m, []).append(u)
            if u.account is not None:
                self.by_account.setdefault(u.account, []).append(u)
                if u.members is None or any(parse_member(m) for m in u.members):
                    self.trust.setdefault(u.account, []).append(u)  # it may be what trusts a ServiceAccount
        elif u.kind in (ACCOUNT, KEY):
            self.by_account.setdefault(u.account or "", []).append(u)
        elif u.kind == ACCOUNT_POLICY:
            self.account_policy[u.account or ""] = u
            self.by_project.setdefault(project, []).append(u)  # who else it lets act as the account: unknown
        elif u.kind == ACCOUNT_KEYS:
            self.account_keys[u.account or ""] = u
        elif u.kind == ROLE:
            self.roles[u.role or ""] = u
        elif u.kind == ACCOUNTS or (u.kind == PAGES and u.file.endswith("/service-accounts.json")):
            self.account_lists.setdefault(project, []).append(u)
        elif u.kind == ROLES or (u.kind == PAGES and u.file.endswith("/custom-roles.json")):
            self.role_lists.setdefault(project, []).append(u)
        elif u.kind in (PAGES, DENY):
            # A deny item not read cuts nothing (the wider reading), and is named with the project.
            self.by_project.setdefault(project, []).append(u)
        # PROJECT (project.json's number, parent): the coverage of the files it leaves unknown says it.

    def gaps_of_member(self, member: str) -> tuple[Gap, ...]:
        return tuple(gap(u) for u in self.by_member.get(member, ()))

    def gaps_of_account(self, email: str) -> tuple[Gap, ...]:
        """The account's own items and the bindings granting to it that could not be read."""
        found = {u: None for u in (*self.by_account.get(email, ()), *self.by_member.get(f"serviceAccount:{email}", ()))}
        return tuple(gap(u) for u in found)

    def list_note(self, lists: dict[str, list[Unread]], project: str | None) -> str | None:
        """Why a name not found in a project's list may still exist (unreadable entries, missing pages)."""
        found = lists.get(project or "")
        if not found:
            return None
        first = found[0]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        return f"{first.describe()}{more}"


def gap(u: Unread) -> Gap:
    return Gap(u.file, u.item, u.reason)
