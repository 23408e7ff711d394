"""`azure/<subscription>/identities.json` (user-assigned managed identities) and
`federated-credentials.json` (each identity's federated credentials, by identity id)."""

from __future__ import annotations

from typing import Any

from kubeiam_azure.evidence.fields import Unreadable, flat, kind, last_segment, obj_of, strings, text
from kubeiam_azure.view import FederatedCredential, ManagedIdentity


def parse_identity(
    raw: Any, item: str, subscription: str, source: str
) -> tuple[ManagedIdentity, tuple[Unreadable, ...]]:
    """An identity and what of it could not be read; `Unreadable` when it cannot be identified and linked."""
    obj = obj_of(raw, item, "an identity")
    rid = str(text(obj, "id", item))
    gaps: tuple[Unreadable, ...] = ()
    try:
        tenant = text(obj, "tenantId", item, required=False)
    except Unreadable as exc:
        # Without a readable tenant the tenant-id annotation cannot be compared: the identity is
        # audited as if it matched (its grants reported), and the gap says the check was not made.
        gaps, tenant = (exc,), None
    name = obj.get("name")
    return (
        ManagedIdentity(
            id=rid.lower(),
            name=name if isinstance(name, str) and name else last_segment(rid),
            client_id=str(text(obj, "clientId", item)).lower(),
            principal_id=str(text(obj, "principalId", item)).lower(),
            tenant_id=tenant.lower() if tenant else None,
            subscription=subscription,
            source=source,
        ),
        gaps,
    )


def keys_of(raw: Any) -> tuple[str | None, str | None]:
    """(client id, resource id) of an unreadable identity, as far as they can be read (lower-cased):
    the ServiceAccounts naming that client id then say which item stopped them."""
    if not isinstance(raw, dict):
        return None, None
    obj = flat(raw)
    found = [obj.get(k) for k in ("clientId", "id")]
    client, rid = (v.strip().lower() if isinstance(v, str) and v.strip() else None for v in found)
    return client, rid


def parse_federated_credential(raw: Any, item: str, source: str) -> FederatedCredential:
    obj = obj_of(raw, item, "a federated credential")
    expr = obj.get("claimsMatchingExpression")
    expression = None
    if expr is not None:
        expression = expr.get("value") if isinstance(expr, dict) else None
        if not isinstance(expression, str) or not expression:
            raise Unreadable(
                f"{item}.claimsMatchingExpression", f"expected an object with a string 'value', found {kind(expr)}"
            )
    subject = text(obj, "subject", item, required=expression is None)
    if "audiences" not in obj:
        raise Unreadable(f"{item}.audiences", "missing field")
    return FederatedCredential(
        id=str(obj.get("id") or "").lower(),
        name=str(obj.get("name") or ""),
        issuer=str(text(obj, "issuer", item)),
        subject=subject,
        audiences=strings(obj, "audiences", item),
        claims_expression=expression,
        source=source,
    )
