"""Two optional files that cut a grant down or widen who holds it (docs/gcp.md, "Guardrails and groups"):

- `deny-policies.json`: the IAM deny policies attached to the project, its folders and its organisation,
  each as `gcloud iam policies get ID --attachment-point=ATTACHMENT --kind=denypolicies --format=json`
  prints it, merged with `jq -s` (a list), or one page of `gcloud iam policies list` / the REST
  `policies.list` (`{"policies": [...]}`). `list` prints no rules: such a policy is named unread.
- `group-memberships.json`: `{"GROUP_EMAIL": <gcloud identity groups memberships
  search-transitive-memberships --group-email=GROUP_EMAIL --format=json>}` for the groups the policies
  name (transitive: members of nested groups included).

Deny rules only take access away, so a deny item that cannot be read cuts nothing (the wider reading)
and is named; a group whose members cannot be read leaves its grants unattributed, and is named too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from kubeiam.pipeline.evidence import Evidence

from .json_checks import Unread, fail, kind_of, load_object

DENY = "deny"
"""An item of deny-policies.json: what it denies is not applied (the wider reading)."""
GROUP = "group"
"""A group of group-memberships.json whose members cannot be read."""
_GROUPS_COMMAND = (
    '{"GROUP_EMAIL": gcloud identity groups memberships search-transitive-memberships '
    "--group-email=GROUP_EMAIL --format=json}"
)
_DENY_COMMAND = "gcloud iam policies get ID --attachment-point=ATTACHMENT --kind=denypolicies --format=json"


@dataclass(frozen=True, slots=True)
class DenyRule:
    attachment: str
    """`projects/ID-OR-NUMBER`, `folders/N`, `organizations/N`."""
    policy: str
    """The policy's name, for evidence."""
    denied_principals: tuple[str, ...]
    exception_principals: tuple[str, ...]
    denied_permissions: tuple[str, ...]
    """`SERVICE_FQDN/RESOURCE.ACTION`, `*` wildcards allowed."""
    exception_permissions: tuple[str, ...]
    condition: str | None
    """The denial condition's CEL text (None: unconditional)."""
    source: str


@dataclass(frozen=True)
class DenyFile:
    rules: tuple[DenyRule, ...]
    unread: tuple[Unread, ...] = ()


@dataclass(frozen=True)
class GroupsFile:
    members: Mapping[str, frozenset[str]]
    """Group email (lower case) -> member emails (lower case), transitive."""
    unread: tuple[Unread, ...] = field(default=())


def read_deny_policies(evidence: Evidence, base: str) -> DenyFile | None:
    file = f"{base}/deny-policies.json"
    value = evidence.load(file)
    if value is None:
        return None
    if isinstance(value, dict) and "policies" in value:
        value = value["policies"] or []
    elif isinstance(value, dict) and ("rules" in value or "name" in value):
        value = [value]  # one policy as `gcloud iam policies get` prints it
    if not isinstance(value, list):
        raise fail(
            file,
            f"top level must be the list of deny policies (`{_DENY_COMMAND}` merged with jq -s), "
            f"found {kind_of(value)}",
        )
    rules: list[DenyRule] = []
    unread: list[Unread] = []
    for i, policy in enumerate(value):
        _policy(policy, f"[{i}]", file, rules, unread)
    return DenyFile(tuple(rules), tuple(unread))


def _policy(policy: Any, at: str, file: str, rules: list[DenyRule], unread: list[Unread]) -> None:
    name = policy.get("name") if isinstance(policy, dict) else None
    attachment = attachment_of(name) if isinstance(name, str) else None
    if attachment is None:
        found_kind = kind_of(name if isinstance(policy, dict) else policy)
        reason = (
            f"expected a deny policy 'name' naming its attachment point, found {found_kind}: its rules are not applied"
        )
        unread.append(Unread(DENY, file, f"{at}.name", reason))
        return
    found = policy.get("rules")
    if not isinstance(found, list):
        why = (
            "no rules (`gcloud iam policies list` does not print them: use `get`)"
            if found is None
            else f"expected a list of rules, found {kind_of(found)}"
        )
        unread.append(Unread(DENY, file, f"{at}.rules", f"{name}: {why}: what it denies is not applied"))
        return
    for j, rule in enumerate(found):
        deny = rule.get("denyRule") if isinstance(rule, dict) else None
        parsed = _rule(deny, attachment, str(name), file) if isinstance(deny, dict) else None
        if parsed is None:
            reason = f"{name}: expected a denyRule with lists of principals and permissions: it is not applied"
            unread.append(Unread(DENY, file, f"{at}.rules[{j}]", reason))
            continue
        rules.append(parsed)


def _rule(deny: Mapping[str, Any], attachment: str, policy: str, file: str) -> DenyRule | None:
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("deniedPrincipals", "exceptionPrincipals", "deniedPermissions", "exceptionPermissions"):
        value = deny.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return None
        lists[key] = tuple(value)
    condition = deny.get("denialCondition")
    expression = condition.get("expression") if isinstance(condition, dict) else None
    if condition is not None and not isinstance(expression, str):
        return None  # a condition that cannot be read: the rule may not apply, so it is not applied
    return DenyRule(
        attachment,
        policy,
        lists["deniedPrincipals"],
        lists["exceptionPrincipals"],
        lists["deniedPermissions"],
        lists["exceptionPermissions"],
        expression or None,
        file,
    )


def attachment_of(name: str) -> str | None:
    """`projects/123` of `policies/cloudresourcemanager.googleapis.com%2Fprojects%2F123/denypolicies/NAME`."""
    text = unquote(name)
    if not text.startswith("policies/") or "/denypolicies/" not in text:
        return None
    point = text[len("policies/") : text.index("/denypolicies/")]
    point = point.removeprefix("//").removeprefix("cloudresourcemanager.googleapis.com/")
    kind, _, ident = point.partition("/")
    return point if kind in ("projects", "folders", "organizations") and ident and "/" not in ident else None


def read_group_memberships(evidence: Evidence, base: str) -> GroupsFile | None:
    file = f"{base}/group-memberships.json"
    doc = load_object(
        evidence,
        file,
        _GROUPS_COMMAND,
    )
    if doc is None:
        return None
    members: dict[str, frozenset[str]] = {}
    unread: list[Unread] = []
    for group, value in doc.items():
        items = value.get("memberships") if isinstance(value, dict) else value
        if not isinstance(items, list):
            reason = f"expected the group's list of memberships, found {kind_of(value)}: who is in it is unknown"
            unread.append(Unread(GROUP, file, group, reason))
            continue
        found: set[str] = set()
        for i, m in enumerate(items):
            email = _member_email(m)
            if email is None:
                reason = (
                    f"expected a membership with preferredMemberKey.id, found {kind_of(m)}: who is in it is unknown"
                )
                unread.append(Unread(GROUP, file, f"{group}[{i}]", reason))
                break
            found.add(email.lower())
        else:
            members[group.lower()] = frozenset(found)
    return GroupsFile(members, tuple(unread))


def _member_email(m: Any) -> str | None:
    if not isinstance(m, dict):
        return None
    key = m.get("preferredMemberKey") or m.get("memberKey")
    if isinstance(key, list):  # search-transitive-memberships prints a list of entity keys
        key = key[0] if key else None
    ident = key.get("id") if isinstance(key, dict) else None
    return ident if isinstance(ident, str) and ident else None
