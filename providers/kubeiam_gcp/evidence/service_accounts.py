"""`service-accounts.json` and `service-account-keys.json`: the project's Google service accounts
and their keys, as the view's `GoogleServiceAccount`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubeiam.pipeline.evidence import Evidence
from kubeiam_gcp.view import GoogleServiceAccount, ServiceAccountKey

from .json_checks import fail, load_list, load_object, require_str

Raw = Mapping[str, Any]


def read_service_accounts(evidence: Evidence, base: str) -> Sequence[Raw] | None:
    file = f"{base}/service-accounts.json"
    items = load_list(evidence, file, "accounts")
    if items is None:
        return None
    for i, sa in enumerate(items):
        require_str(sa, "email", file, f"[{i}]")
    return items


def read_keys(evidence: Evidence, base: str) -> Mapping[str, Sequence[Raw]] | None:
    """Email -> its keys. An email absent from the file: keys not collected (never "no keys")."""
    file = f"{base}/service-account-keys.json"
    doc = load_object(evidence, file)
    if doc is None:
        return None
    out: dict[str, Sequence[Raw]] = {}
    for email, keys in doc.items():
        if isinstance(keys, dict):
            keys = keys.get("keys") or []
        if not isinstance(keys, list):
            raise fail(file, f"field '{email}' must be a list of keys")
        for i, k in enumerate(keys):
            require_str(k, "name", file, f"{email}[{i}]")
        out[email] = keys
    return out


def google_service_account(sa: Raw, project: str, keys: Sequence[Raw] | None, source: str) -> GoogleServiceAccount:
    """One checked `service-accounts.json` entry; `keys` None when they were not collected."""
    return GoogleServiceAccount(
        email=sa["email"],
        project=str(sa.get("projectId") or project),
        unique_id=str(sa["uniqueId"]) if sa.get("uniqueId") else None,
        disabled=bool(sa.get("disabled", False)),
        display_name=str(sa.get("displayName") or ""),
        source=source,
        keys=None if keys is None else tuple(_key(k) for k in keys),
    )


def _key(k: Raw) -> ServiceAccountKey:
    return ServiceAccountKey(
        name=k["name"],
        key_type=str(k.get("keyType") or "USER_MANAGED"),
        origin=k.get("keyOrigin"),
        valid_after=k.get("validAfterTime"),
        valid_before=k.get("validBeforeTime"),
        disabled=bool(k.get("disabled", False)),
    )
