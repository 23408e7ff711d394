"""`service-accounts.json` and `service-account-keys.json`: the project's Google service accounts
and their keys, as the view's `GoogleServiceAccount`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubeiam.pipeline.evidence import Evidence
from kubeiam_gcp.view import GoogleServiceAccount, ServiceAccountKey

from .json_checks import ACCOUNT, ACCOUNT_KEYS, ACCOUNTS, KEY, Unread, kind_of, load_list, load_object

Raw = Mapping[str, Any]


@dataclass(frozen=True)
class AccountsFile:
    accounts: Sequence[Raw]
    """Entries whose email could be read (each with a string `email`)."""
    next_page: str | None = None
    unread: tuple[Unread, ...] = ()


@dataclass(frozen=True)
class KeysFile:
    keys: Mapping[str, Sequence[Raw]]
    """Email -> its keys that could be read. An email absent from it: keys not known (never "no keys")."""
    unread: tuple[Unread, ...] = ()


def read_service_accounts(evidence: Evidence, base: str) -> AccountsFile | None:
    file = f"{base}/service-accounts.json"
    found = load_list(
        evidence, file, "accounts", command="gcloud iam service-accounts list --format=json", empty_object=False
    )
    if found is None:
        return None
    accounts: list[Raw] = []
    unread: list[Unread] = []
    for i, sa in enumerate(found.items):
        email = sa.get("email") if isinstance(sa, dict) else None
        if not isinstance(email, str) and isinstance(sa, dict):
            # The resource name carries the email too: projects/P/serviceAccounts/EMAIL.
            name = sa.get("name")
            if isinstance(name, str) and "/serviceAccounts/" in name and "@" in name:
                email = name.rpartition("/")[2]
        if not isinstance(email, str) or "@" not in email:
            reason = f"expected a service account with an email, found {kind_of(sa if email is None else email)}"
            unread.append(Unread(ACCOUNTS, file, f"[{i}].email", reason))
            continue
        account = dict(sa, email=email)
        disabled = sa.get("disabled", False)
        if not isinstance(disabled, bool):
            # Read as enabled: a disabled account would make its bindings count for nothing.
            reason = f"expected true or false, found {kind_of(disabled)}: read as enabled"
            unread.append(Unread(ACCOUNT, file, f"[{i}].disabled", reason, account=email))
            account["disabled"] = False
        accounts.append(account)
    return AccountsFile(accounts, found.next_page, tuple(unread))


def read_keys(evidence: Evidence, base: str) -> KeysFile | None:
    """Email -> its keys. An email absent from the file: keys not collected (never "no keys")."""
    file = f"{base}/service-account-keys.json"
    command = '{"EMAIL": gcloud iam service-accounts keys list --iam-account EMAIL --format=json}'
    doc = load_object(evidence, file, command)
    if doc is None:
        return None
    out: dict[str, Sequence[Raw]] = {}
    unread: list[Unread] = []
    for email, value in doc.items():
        # gcloud prints a list ([] for none); the REST answer {"keys": [...]} is accepted; `{}` is neither
        # (reading it as "no keys" would clear GCP-008): the account's keys are then unknown.
        keys = value.get("keys") if isinstance(value, dict) else value
        if not isinstance(keys, list):
            reason = f"expected the account's list of keys, found {kind_of(keys)}: its keys are not known"
            unread.append(Unread(ACCOUNT_KEYS, file, email, reason, account=email))
            continue
        good = []
        for i, k in enumerate(keys):
            if isinstance(k, dict) and isinstance(k.get("name"), str):
                good.append(k)
            else:
                found = k.get("name") if isinstance(k, dict) else k
                reason = f"expected a key with a 'name', found {kind_of(found)}"
                unread.append(Unread(KEY, file, f"{email}[{i}].name", reason, account=email))
        out[email] = good
    return KeysFile(out, tuple(unread))


def google_service_account(sa: Raw, project: str, keys: Sequence[Raw] | None, source: str) -> GoogleServiceAccount:
    """One checked `service-accounts.json` entry; `keys` None when they were not collected."""
    project_id = sa.get("projectId")
    unique_id = sa.get("uniqueId")
    name = sa.get("displayName")
    return GoogleServiceAccount(
        email=sa["email"],
        project=project_id if isinstance(project_id, str) and project_id else project,
        unique_id=str(unique_id) if isinstance(unique_id, (str, int)) and unique_id else None,
        disabled=sa.get("disabled") is True,
        display_name=name if isinstance(name, str) else "",
        source=source,
        keys=None if keys is None else tuple(_key(k) for k in keys),
    )


def _key(k: Raw) -> ServiceAccountKey:
    def text(field: str) -> str | None:
        value = k.get(field)
        return value if isinstance(value, str) else None

    return ServiceAccountKey(
        name=k["name"],
        # A key whose type cannot be read, or is not Google's SYSTEM_MANAGED, counts as user-managed: never
        # clean by guess.
        key_type="SYSTEM_MANAGED" if text("keyType") == "SYSTEM_MANAGED" else "USER_MANAGED",
        origin=text("keyOrigin"),
        valid_after=text("validAfterTime"),
        # An expiry that is there but cannot be read counts as no expiry (the key stays usable).
        valid_before=text("validBeforeTime"),
        disabled=k.get("disabled") is True,
    )
