"""Policies outside a role's own that cut its grants down: AWS Organizations SCPs and RCPs along the account's
path, and the session policy of an EKS Pod Identity association (pure).

An SCP level (the root, each OU, the account) and a session policy are allow-lists: an action is usable only
if every one of them allows it (they intersect with the role's policies, as the permissions boundary does).
An RCP only denies. A Deny in any of them removes the grant, as one in the role's own policies does. What
the evidence does not hold cuts nothing: a grant is judged as if no guardrail stopped it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kubeiam.vocabulary.policy import Statement

SCP = "scp"
RCP = "rcp"
SESSION_POLICY = "session-policy"


@dataclass(frozen=True, slots=True)
class Guardrail:
    """One allow-list (or deny-only set) of statements that applies to every session of a role."""

    kind: str
    """`scp` (one level of the organization: its SCPs together), `rcp`, `session-policy`."""
    name: str
    """What a person looks up: `SCPs on ou-ab12-34cd5678 (FullAWSAccess, DenyIam)`, `session policy of ...`."""
    statements: tuple[Statement, ...]
    source: str = ""
    """The evidence file it comes from."""
    allow_list: bool = True
    """Its Allow statements intersect with the role's (an SCP level, a session policy); False: only its Denies
    count (RCPs, whose one Allow is RCPFullAWSAccess; a level of SCPs one of which was not understood)."""


@dataclass(frozen=True, slots=True)
class PodSession:
    """What one EKS Pod Identity association puts into its role session."""

    subject: str
    """`cluster/ns/sa` of the association."""
    tags: Mapping[str, str] | None = None
    """The session tags EKS sets that a policy can test (`kubernetes-namespace`, ...); None when the
    association disables them."""
    policy: Guardrail | None = None
    """The association's session policy (`association.policy`), when it has one."""


# The session tags EKS Pod Identity sets that are the same for every pod of an association (the pod's name and
# uid are not: conditions on them stay undecided).
POD_IDENTITY_TAGS = ("eks-cluster-arn", "eks-cluster-name", "kubernetes-namespace", "kubernetes-service-account")


def principal_tag_keys(statements: Iterable[Statement]) -> bool:
    """Whether a condition of the statements tests one of the Pod Identity session tags as a principal tag."""
    keys = {f"aws:principaltag/{t}" for t in POD_IDENTITY_TAGS}
    return any(c.key_lower in keys for s in statements for c in s.conditions)
