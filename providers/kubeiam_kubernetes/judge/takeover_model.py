"""What the takeover analysis takes (targets) and gives (who can become each, and how)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from kubeiam_kubernetes.judge.rbac_model import Grant, Problem, Subject, service_account_of


@dataclass(frozen=True)
class ExpectedSubject:
    """A subject that may act as ServiceAccounts by design. Patterns are `fnmatch` (case-sensitive).

    `principal` is matched against `Subject.principal` ("user:NAME", "group:NAME",
    "serviceaccount:NS/NAME"); `binding` against the name of every binding the takeover goes
    through, so a bootstrap controller stays expected only through its bootstrap binding: a
    cluster-admin binding someone added for it is still a finding.
    """

    principal: str
    binding: str = "*"
    why: str = ""


@dataclass(frozen=True)
class PodRef:
    """A pod running as the target. `node` None: not known (then named nodes/proxy grants count)."""

    name: str
    node: str | None = None


@dataclass(frozen=True)
class Target:
    """A ServiceAccount to judge, with what the caller knows about it.

    `pods`: its running pods (exec/attach/patch and nodes/proxy need one). `legacy_token_secrets`:
    names of its `kubernetes.io/service-account-token` Secrets (from metadata only). `token_secrets_known`:
    whether the cluster's token Secrets were listed whole, so that no name here means none exists; when
    False (live collection never reads Secrets) one may exist, and whoever may read the namespace's Secrets
    takes it over through it (`Takeover.secret_unknown`). `own_controllers`: principals
    ("serviceaccount:NS/NAME", "user:NAME") that manage this workload and are expected to.
    """

    namespace: str
    name: str
    pods: tuple[PodRef, ...] = ()
    legacy_token_secrets: tuple[str, ...] = ()
    own_controllers: tuple[str, ...] = ()
    token_secrets_known: bool = True

    @property
    def principal(self) -> str:
        return f"serviceaccount:{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Takeover:
    """One way one subject can act as the target: the technique, and the grants that make it.

    `grants[0]` is the binding to narrow first; composite techniques (bind, escalate, impersonate a
    user who can) list every grant they need. The same object is shared by every target it reaches.
    """

    technique: str
    subject: Subject
    grants: tuple[Grant, ...]
    detail: str
    expected: ExpectedSubject | None = None
    secret_unknown: bool = False
    """It goes through a legacy token Secret of the target that is not known to exist (the cluster's
    Secrets were not listed): a takeover only if one does."""

    @property
    def broad(self) -> bool:
        return self.subject.broad

    @property
    def bindings(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(g.binding.ref for g in self.grants))

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(g.role.ref for g in self.grants if g.role is not None))


@dataclass(frozen=True)
class TargetTakeover:
    """Who can become one ServiceAccount. `findings`: not expected; `expected`: by design (each
    says why); `unchecked`: problems in the RBAC input that could hide more (namespace or cluster)."""

    target: Target
    findings: tuple[Takeover, ...]
    expected: tuple[Takeover, ...]
    unchecked: tuple[Problem, ...]

    def by_subject(self) -> dict[Subject, tuple[Takeover, ...]]:
        """Findings grouped per subject: one finding per (ServiceAccount, subject)."""
        grouped: dict[Subject, list[Takeover]] = defaultdict(list)
        for t in self.findings:
            grouped[t.subject].append(t)
        return {s: tuple(ts) for s, ts in sorted(grouped.items())}

    @property
    def complete(self) -> bool:
        return not self.unchecked


def is_the_target(subject: Subject, target: Target) -> bool:
    if subject.kind == "Group":
        return False
    if subject.kind == "ServiceAccount":
        return subject.namespace == target.namespace and subject.name == target.name
    return service_account_of(subject.name) == (target.namespace, target.name)
