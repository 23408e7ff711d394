"""`azure/<subscription>/identities.json` (user-assigned managed identities) and
`federated-credentials.json` (each identity's federated credentials, by identity id)."""

from __future__ import annotations

from typing import Any

from kubeiam.errors import InputError
from kubeiam_azure.evidence.fields import flat, last_segment, strings, text
from kubeiam_azure.view import FederatedCredential, ManagedIdentity


def parse_identity(raw: Any, where: str, subscription: str, source: str) -> ManagedIdentity:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: an identity must be an object")
    obj = flat(raw)
    rid = str(text(obj, "id", where))
    return ManagedIdentity(
        id=rid.lower(),
        name=str(obj.get("name") or last_segment(rid)),
        client_id=str(text(obj, "clientId", where)).lower(),
        principal_id=str(text(obj, "principalId", where)).lower(),
        tenant_id=(text(obj, "tenantId", where, required=False) or "").lower() or None,
        subscription=subscription,
        source=source,
    )


def parse_federated_credential(raw: Any, where: str, source: str) -> FederatedCredential:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: a federated credential must be an object")
    obj = flat(raw)
    expr = obj.get("claimsMatchingExpression")
    expression = expr.get("value") if isinstance(expr, dict) else None
    subject = text(obj, "subject", where, required=expression is None)
    audiences = strings(obj, "audiences", where)
    if "audiences" not in obj:
        raise InputError(f"{where}: missing field 'audiences'")
    return FederatedCredential(
        id=str(obj.get("id") or "").lower(),
        name=str(obj.get("name") or ""),
        issuer=str(text(obj, "issuer", where)),
        subject=subject,
        audiences=audiences,
        claims_expression=expression if isinstance(expression, str) else None,
        source=source,
    )
