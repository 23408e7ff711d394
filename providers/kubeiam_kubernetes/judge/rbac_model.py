"""The frozen vocabulary of Kubernetes RBAC, as read from `kubectl get ... -o json`."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

SA_USER_PREFIX = "system:serviceaccount:"
SA_GROUP_ALL = "system:serviceaccounts"
SA_GROUP_PREFIX = "system:serviceaccounts:"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
# Groups whose membership is not a list someone wrote but a property of how one authenticated:
# a grant to them reaches every ServiceAccount of a namespace, every identity, or anyone at all.
BROAD_GROUPS = frozenset({AUTHENTICATED, UNAUTHENTICATED, SA_GROUP_ALL})

SUBJECT_KINDS = ("User", "Group", "ServiceAccount")


@dataclass(frozen=True)
class Problem:
    """Something that could not be understood: named by file and item path, never dropped."""

    source: str
    path: str  # e.g. "items[12].rules[0].verbs"
    message: str
    namespace: str | None = None  # where it matters: None = cluster-wide (or unknown)
    kind: str = "unreadable"  # unreadable | invalid | unresolved-role | skipped-kind

    def __str__(self) -> str:
        return f"{self.source}: {self.path}: {self.message}"


@dataclass(frozen=True)
class Rule:
    """One PolicyRule. `resource_names` None means "any name" (the field empty or absent)."""

    verbs: frozenset[str]
    api_groups: frozenset[str]
    resources: frozenset[str]
    resource_names: frozenset[str] | None = None
    non_resource_urls: frozenset[str] = frozenset()
    index: int = 0  # position in the role's own `rules` (aggregated rules keep their origin's)
    origin: str = ""  # "ClusterRole/name" the rule came from when it was aggregated, else ""


@dataclass(frozen=True)
class LabelRequirement:
    key: str
    operator: str  # In | NotIn | Exists | DoesNotExist | Equals (from matchLabels)
    values: frozenset[str] = frozenset()


@dataclass(frozen=True)
class LabelSelector:
    """A metav1.LabelSelector; no requirements selects everything (as Kubernetes does)."""

    requirements: tuple[LabelRequirement, ...] = ()


@dataclass(frozen=True)
class Role:
    kind: str  # Role | ClusterRole
    name: str
    namespace: str | None  # None for a ClusterRole
    rules: tuple[Rule, ...]
    labels: tuple[tuple[str, str], ...] = ()
    aggregation: tuple[LabelSelector, ...] | None = None  # None: no aggregationRule
    source: str = ""
    path: str = ""

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"


@dataclass(frozen=True, order=True)
class Subject:
    """A binding subject. A ServiceAccount always carries its namespace (defaulted as the API
    server does: to the RoleBinding's namespace when the subject leaves it out)."""

    kind: str  # User | Group | ServiceAccount
    name: str
    namespace: str | None = None

    @property
    def username(self) -> str | None:
        """The name the authenticator gives this subject, for a User or ServiceAccount."""
        if self.kind == "ServiceAccount":
            return f"{SA_USER_PREFIX}{self.namespace}:{self.name}"
        return self.name if self.kind == "User" else None

    @cached_property  # looked up for every grant; frozen dataclasses keep a __dict__ for it
    def principal(self) -> str:
        """One spelling per identity: a User named system:serviceaccount:NS:N is that ServiceAccount."""
        if self.kind == "Group":
            return f"group:{self.name}"
        sa = service_account_of(self.username or "")
        if sa:
            return f"serviceaccount:{sa[0]}/{sa[1]}"
        return f"user:{self.name}"

    @property
    def broad(self) -> bool:
        """A group anyone of a kind belongs to, rather than people someone chose."""
        return self.kind == "Group" and (self.name in BROAD_GROUPS or self.name.startswith(SA_GROUP_PREFIX))

    def __str__(self) -> str:
        if self.kind == "ServiceAccount":
            return f"ServiceAccount {self.namespace}/{self.name}"
        return f"{self.kind} {self.name}"


def service_account_of(username: str) -> tuple[str, str] | None:
    """(namespace, name) for a `system:serviceaccount:NS:NAME` username, else None."""
    if not username.startswith(SA_USER_PREFIX):
        return None
    rest = username[len(SA_USER_PREFIX) :].split(":")
    if len(rest) != 2 or not rest[0] or not rest[1]:
        return None
    return rest[0], rest[1]


@dataclass(frozen=True)
class RoleRef:
    kind: str  # Role | ClusterRole
    name: str


@dataclass(frozen=True)
class Binding:
    kind: str  # RoleBinding | ClusterRoleBinding
    name: str
    namespace: str | None  # None for a ClusterRoleBinding
    role_ref: RoleRef
    subjects: tuple[Subject, ...]
    source: str = ""
    path: str = ""

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"

    def role_key(self) -> tuple[str, str | None, str]:
        """The role it points at: a Role lives in the binding's namespace, a ClusterRole nowhere."""
        ns = self.namespace if self.role_ref.kind == "Role" else None
        return (self.role_ref.kind, ns, self.role_ref.name)


@dataclass(frozen=True)
class RbacObjects:
    roles: tuple[Role, ...] = ()
    bindings: tuple[Binding, ...] = ()
    problems: tuple[Problem, ...] = ()

    def __add__(self, other: RbacObjects) -> RbacObjects:
        return RbacObjects(self.roles + other.roles, self.bindings + other.bindings, self.problems + other.problems)


@dataclass(frozen=True)
class Grant:
    """One rule of one role, reaching its subjects through one binding. `rule` is None where what
    matters is the binding itself (a role someone may rewrite because it is bound to them)."""

    binding: Binding
    role: Role | None
    rule: Rule | None = None

    def __str__(self) -> str:
        role = self.role.ref if self.role else f"{self.binding.role_ref.kind}/{self.binding.role_ref.name} (missing)"
        where = f" rules[{self.rule.index}]" if self.rule is not None else ""
        origin = f" (from {self.rule.origin})" if self.rule is not None and self.rule.origin else ""
        return f"{self.binding.ref} -> {role}{where}{origin}"


@dataclass(frozen=True)
class UserInfo:
    """An authenticated identity as the authorizer sees it: a name and its groups."""

    username: str
    groups: frozenset[str] = field(default_factory=frozenset)


def service_account_user(namespace: str, name: str) -> UserInfo:
    """A ServiceAccount's identity, with the groups the token authenticator always adds."""
    return UserInfo(
        f"{SA_USER_PREFIX}{namespace}:{name}",
        frozenset({SA_GROUP_ALL, f"{SA_GROUP_PREFIX}{namespace}", AUTHENTICATED}),
    )
