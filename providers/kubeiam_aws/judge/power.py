"""What one IAM role can do, in one word, for other providers' rules (`Declarations.powers["aws"]`).

Who can become a Kubernetes ServiceAccount matters as much as what its role can do: the Kubernetes
provider's takeover rule asks here, through the inventory's declarations (never by import). The answer
comes from the role's one memoised analysis (`judge/profile.py`), so asking costs nothing more.

Levels: `admin` (`*` on `*`, or every IAM permissions-management action), `escalation` (a known path to
more), `data` (secrets, KMS decryption, every S3 object), `write` (broad writes, or any write at all),
`read`, `none` (no allow), `unknown` (the role or some of its policies are not in the evidence, and
nothing stronger was found).
"""

from __future__ import annotations

from kubeiam.vocabulary.model import CloudIdentity, IdentityPower, Inventory
from kubeiam_aws.judge.profile import RoleAnalysis, analyse_role
from kubeiam_aws.view import AwsView, Role

SUMMARY = 3
"""At most this many examples in the summary."""
_READS = ("get", "list", "describe", "batchget", "head", "lookup", "view", "search")


def aws_power(inventory: Inventory, identity: CloudIdentity) -> IdentityPower:
    """The role's power, once per role per inventory."""
    memo: dict[str, IdentityPower] = inventory.memo("aws_power", lambda _: {})
    found = memo.get(identity.principal)
    if found is None:
        found = memo[identity.principal] = _judge(inventory, identity)
    return found


def _judge(inventory: Inventory, identity: CloudIdentity) -> IdentityPower:
    view = inventory.views.get("aws")
    role = view.role(identity.principal) if isinstance(view, AwsView) else None
    if role is None or not isinstance(view, AwsView):
        return IdentityPower("unknown", (f"{identity.principal} is not in the IAM evidence",))
    return power_of_role(role, analyse_role(view, role))


def power_of_role(role: Role, a: RoleAnalysis) -> IdentityPower:
    if a.admin:
        return IdentityPower("admin", _names(a.admin))
    if a.iam_admin:
        return IdentityPower("admin", ("every IAM permissions-management action", *_names(a.iam_admin)))
    if a.escalations:
        return IdentityPower(
            "escalation", tuple(f"{e.name} ({' + '.join(e.actions)})" for e in a.escalations[:SUMMARY])
        )
    missing = tuple(f"policy not in the evidence: {p}" for p in a.incomplete[:SUMMARY])
    if a.sensitive_reads:
        return IdentityPower("data", tuple(g.action for g in a.sensitive_reads[:SUMMARY]) + missing)
    if missing:
        return IdentityPower("unknown", missing)
    if a.broad_writes:
        return IdentityPower("write", tuple(x for w in a.broad_writes for x in w.actions)[:SUMMARY])
    actions = [p for g in role.grants for s in g.statements if s.is_allow for p in (s.actions or ("NotAction",))]
    if not actions:
        return IdentityPower("none", ("no policy allows anything",))
    writes = [p for p in actions if not _read(p)]
    if writes:
        return IdentityPower("write", tuple(writes[:SUMMARY]))
    return IdentityPower("read", tuple(actions[:SUMMARY]))


def _read(pattern: str) -> bool:
    action = pattern.split(":", 1)[-1].lower()
    return action != "*" and action.startswith(_READS)


def _names(sources: tuple[str, ...]) -> tuple[str, ...]:
    """`AdministratorAccess`, `role/NAME:inline`: the last part of each policy ARN."""
    return tuple(s.rsplit("/", 1)[-1] if s.startswith("arn:") else s for s in sources[:SUMMARY])
