"""`kubernetes/<cluster>/openid-configuration.json`: the cluster's ServiceAccount token issuer.

What `kubectl get --raw /.well-known/openid-configuration` prints; cloud providers check identity
trust against its `issuer`.
"""

from __future__ import annotations

from kubeiam.errors import InputError
from kubeiam.pipeline.evidence import Evidence


def load_issuer(evidence: Evidence, relative: str) -> str | None:
    """The issuer, None when the file is absent; a file without a string `issuer` is unreadable input."""
    doc = evidence.load_object(relative)
    if doc is None:
        return None
    issuer = doc.get("issuer")
    if not isinstance(issuer, str):
        raise InputError(f"{relative}: missing field 'issuer'")
    return issuer
