"""Legacy ServiceAccount token Secrets, by their metadata only: which ServiceAccount each one holds a token of,
and whether the cluster's list of them is whole.

Since Kubernetes 1.24 no `kubernetes.io/service-account-token` Secret is made automatically, but old
clusters keep theirs and anyone may create one. Whoever can read it holds the ServiceAccount's token
(`read-token-secret`). Only `type` and the annotation `kubernetes.io/service-account.name` are read;
the data is never kept (and the safety redaction blanks it before anything is written anyway).

Absent is not none. Secret items in `resources.json` say which token Secrets exist, not that no other does;
only `token-secrets.json` (`kubectl get secrets -A --field-selector type=kubernetes.io/service-account-token
-o json`, data stripped) declares the cluster's list read, even when it is empty. Without it, whether a
ServiceAccount has a token Secret is unknown, and K8S-006 counts whoever may read Secrets in its namespace
as a possible takeover (live collection never asks for Secrets, so a live run is always in that case).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import CoverageError
from kubeiam_kubernetes.declarations import KUBERNETES
from kubeiam_kubernetes.evidence.items import load_items
from kubeiam_kubernetes.evidence.rbac import TAKEOVER_RULES
from kubeiam_kubernetes.view import ServiceAccountKey

TOKEN_TYPE = "kubernetes.io/service-account-token"
OWNER_ANNOTATION = "kubernetes.io/service-account.name"
TOKEN_SECRETS_FILE = "token-secrets.json"
COMMAND = f"kubectl get secrets -A --field-selector type={TOKEN_TYPE} -o json"


def token_secrets(cluster: str, secrets: Iterable[Mapping[str, Any]]) -> dict[ServiceAccountKey, tuple[str, ...]]:
    """(cluster, namespace, ServiceAccount) -> names of its token Secrets, sorted."""
    found: dict[ServiceAccountKey, list[str]] = {}
    for secret in secrets:
        if secret.get("type") != TOKEN_TYPE:
            continue
        meta = secret.get("metadata") or {}
        owner = (meta.get("annotations") or {}).get(OWNER_ANNOTATION)
        if not isinstance(owner, str) or not owner:
            continue
        namespace = str(meta.get("namespace") or "default")
        found.setdefault((cluster, namespace, owner), []).append(str(meta["name"]))
    return {key: tuple(sorted(names)) for key, names in found.items()}


@dataclass(frozen=True)
class TokenSecretList:
    """What `token-secrets.json` gave: the token Secrets in it, whether it is the whole list, and what of it
    could not be read (a missing page, an item that is not a readable Secret: then it is not whole)."""

    tokens: dict[ServiceAccountKey, tuple[str, ...]]
    whole: bool
    errors: list[CoverageError]


def load_token_secrets(evidence: Evidence, relative: str, cluster: str) -> TokenSecretList | None:
    """`kubernetes/<cluster>/token-secrets.json`; None when the file is absent (the list was not read)."""
    loaded = load_items(evidence, relative, cluster)
    if loaded is None:
        return None
    errors = list(loaded.errors)
    secrets = []
    for i, item in enumerate(loaded.items):
        if item["kind"] == "Secret":
            secrets.append(item)
            continue
        errors.append(
            CoverageError(KUBERNETES, f"{relative}: items[{i}]", f"a {item['kind']}, not a Secret ({COMMAND})")
        )
    # Only K8S-006 depends on the file; a list that is not whole is read as not read at all (one may exist).
    why = "; the list is not whole: a ServiceAccount without a token Secret in it may still have one"
    errors = [replace(e, reason=e.reason + why, subject=cluster, rules=TAKEOVER_RULES) for e in errors]
    return TokenSecretList(token_secrets(cluster, secrets), not errors, errors)


def merged(*found: Mapping[ServiceAccountKey, tuple[str, ...]]) -> dict[ServiceAccountKey, tuple[str, ...]]:
    """Token Secrets known from several files (resources.json, token-secrets.json): the union of names."""
    out: dict[ServiceAccountKey, set[str]] = {}
    for tokens in found:
        for key, names in tokens.items():
            out.setdefault(key, set()).update(names)
    return {key: tuple(sorted(names)) for key, names in out.items()}
