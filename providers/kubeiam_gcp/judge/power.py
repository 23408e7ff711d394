"""What one Google identity can do, in one word, for other providers' rules (`Declarations.powers["gcp"]`).

The Kubernetes provider's takeover rule asks here through the inventory's declarations (never by import):
who can become a ServiceAccount matters as much as what its Google service account can do. Built on the
identity's grants as judged once (`judge/grants.py`).

Levels: `admin` (Owner or Editor where it covers a project, folder or organisation), `escalation` (a
permission or method that reaches more, where it applies), `data` (secrets, objects, KMS decryption),
`write`, `read` (metadata and policies only), `none` (no grant), `unknown` (a role whose permissions are
not known, and nothing stronger).
"""

from __future__ import annotations

from kubeiam.vocabulary.model import CloudIdentity, IdentityPower, Inventory

from .grants import BROAD_LEVELS, grant_scope, judged_grants

SUMMARY = 3


def gcp_power(inventory: Inventory, identity: CloudIdentity) -> IdentityPower:
    """The identity's power, once per identity per inventory."""
    memo: dict[int, tuple[CloudIdentity, IdentityPower]] = inventory.memo("gcp_power", lambda _: {})
    hit = memo.get(id(identity))
    if hit is not None and hit[0] is identity:
        return hit[1]
    power = _judge(inventory, identity)
    memo[id(identity)] = (identity, power)
    return power


def _judge(inventory: Inventory, identity: CloudIdentity) -> IdentityPower:
    judged = judged_grants(inventory, identity)
    admin = [g.source for g, p in judged if p.admin and g.scope_level in BROAD_LEVELS]
    if admin:
        return IdentityPower("admin", tuple(admin[:SUMMARY]))
    escalation = [
        f"{perm} ({g.source})" for g, p in judged for perm in p.escalation_on(grant_scope(identity.principal, g))
    ]
    if escalation:
        return IdentityPower("escalation", tuple(escalation[:SUMMARY]))
    data = [f"{perm} ({g.source})" for g, p in judged for perm in p.data]
    if data:
        return IdentityPower("data", tuple(data[:SUMMARY]))
    unknown = tuple(g.describe() for g in identity.gaps[:SUMMARY])
    if unknown:
        return IdentityPower("unknown", unknown)
    if not identity.grants:
        return IdentityPower("none", ("no role is granted to it",))
    writes = [g.source for g, p in judged if not p.read_only]
    if writes:
        return IdentityPower("write", tuple(writes[:SUMMARY]))
    return IdentityPower("read", tuple(g.source for g, _ in judged[:SUMMARY]))
