"""Many accounts from one place (`--aws-org ROLE_NAME`, `--aws-accounts ID,...`): a central audit.

The accounts read are those the audit needs and no others: the accounts of the roles the ServiceAccounts
take, of the nodes' roles and instance profiles (the set the collector computes). Every other account of
the organisation holds nothing a ServiceAccount can become, and reading it would cost calls and
permissions (and put its roles in the evidence) for no finding.

For each needed account that is neither the home account (the credentials' own, read directly) nor mapped
to a profile (`--aws-account-profile`, which wins), kubeiam assumes `arn:<partition>:iam::<account>:role/
<ROLE_NAME>` with the home credentials, once, and reads the account with that session. Which accounts may
be assumed: the organisation's ACTIVE accounts (`organizations:ListAccounts`, paged, from the management
or a delegated-administrator account), or the accounts given with `--aws-accounts` (no Organizations call).

Failures stay with their account: ListAccounts refused leaves every such account unread (coverage naming
`organizations:ListAccounts`), AssumeRole refused leaves that account unread (coverage naming the role
ARN); the home account and the mapped profiles are read either way.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from kubeiam.errors import InputError
from kubeiam.vocabulary.model import CoverageError
from kubeiam_aws.live.clients import AwsCallFailed, Clients, pages

PAGE_SIZE = 20
"""ListAccounts' largest page (MaxResults 1-20): the fewest calls for an organisation."""
EXTERNAL_ID_ENV = "KUBEIAM_AWS_EXTERNAL_ID"
"""The ExternalId to pass to AssumeRole, for member roles whose trust policy requires one."""
LIST_ACCOUNTS = "organizations:ListAccounts"


@dataclass(frozen=True)
class OrgOptions:
    role_name: str
    accounts: tuple[str, ...] = ()
    """`--aws-accounts`: the accounts that may be assumed; empty: the organisation's ACTIVE accounts."""
    external_id: str | None = None

    def role_arn(self, partition: str, account: str) -> str:
        return f"arn:{partition}:iam::{account}:role/{self.role_name}"


def org_options(options: Any) -> OrgOptions | None:
    """The `--aws-org` options, or None; InputError (exit 2) for `--aws-accounts` without `--aws-org`."""
    role = (getattr(options, "aws_org", None) or "").strip()
    accounts = account_ids(getattr(options, "aws_accounts", None))
    if accounts and not role:
        raise InputError("--aws-accounts: names the accounts --aws-org ROLE_NAME may assume a role in; give --aws-org")
    if not role:
        return None
    return OrgOptions(role, accounts, os.environ.get(EXTERNAL_ID_ENV) or None)


def account_ids(value: Any) -> tuple[str, ...]:
    """`--aws-accounts` values (repeatable, each `ID,ID`) -> sorted unique ids; InputError for one that is no
    12-digit account id."""
    items = [value] if isinstance(value, str) else list(value or ())
    out = set()
    for item in items:
        for part in str(item).split(","):
            if not part.strip():
                continue
            if not (part.strip().isdigit() and len(part.strip()) == 12):
                raise InputError(f"--aws-accounts {item}: {part.strip()!r} is not a 12-digit AWS account id")
            out.add(part.strip())
    return tuple(sorted(out))


@dataclass(frozen=True)
class Reached:
    """What `--aws-org` gave for the accounts asked about."""

    keys: Mapping[str, str] = field(default_factory=dict)
    """account -> credential key of the role assumed there (Clients' `profile` for its clients)."""
    unreached: Mapping[str, str] = field(default_factory=dict)
    """account -> why its roles are not read (said in each role's coverage entry)."""
    errors: tuple[CoverageError, ...] = ()
    """One per account that could not be reached through a call: ListAccounts or AssumeRole refused."""


def reach(clients: Clients, org: OrgOptions, accounts: Iterable[str], partition: str, region: str) -> Reached:
    """Assume the org role in each of `accounts` (none of them the home account or a mapped profile's)."""
    accounts = sorted(set(accounts))
    if not accounts:
        return Reached()
    if org.accounts:
        allowed = {a: "ACTIVE" for a in org.accounts}
        outside = "is not among the accounts given with --aws-accounts"
    else:
        try:
            allowed = list_accounts(clients, region)
        except AwsCallFailed as exc:
            why = f"{exc.reason}: the organisation's accounts are unknown, no role assumed through --aws-org"
            return Reached(
                unreached={a: f"account {a} not read ({LIST_ACCOUNTS} refused: {exc.reason})" for a in accounts},
                errors=tuple(CoverageError("aws", LIST_ACCOUNTS, why, a) for a in accounts),
            )
        outside = "is not in the organisation (organizations:ListAccounts)"
    unreached: dict[str, str] = {}
    for a in accounts:
        state = allowed.get(a)
        if state is None:
            unreached[a] = f"account {a} {outside}; map a profile to it: --aws-account-profile {a}=PROFILE"
        elif state != "ACTIVE":
            unreached[a] = f"account {a} is {state} in the organisation (--aws-org reads ACTIVE accounts only)"
    targets = [a for a in accounts if a not in unreached]
    found = clients.map("sts", partial(_assume, clients, org, partition), targets)
    keys: dict[str, str] = {}
    errors = []
    for account, key, failure in found:
        if key is not None:
            keys[account] = key
            continue
        assert failure is not None
        arn = org.role_arn(partition, account)
        errors.append(CoverageError("aws", failure.location, f"{failure.reason}: account {account} not read", account))
        unreached[account] = f"account {account} not read (sts:AssumeRole {arn}: {failure.reason})"
    return Reached(keys, unreached, tuple(errors))


def list_accounts(clients: Clients, region: str) -> dict[str, str]:
    """account id -> state of every account of the organisation (`State`, else the older `Status`)."""
    client = clients.client("organizations", region)
    out = {}
    for page in pages(client, "list_accounts", LIST_ACCOUNTS, PaginationConfig={"PageSize": PAGE_SIZE}):
        for account in page.get("Accounts", []):
            out[str(account.get("Id"))] = str(account.get("State") or account.get("Status") or "UNKNOWN")
    return out


def _assume(
    clients: Clients, org: OrgOptions, partition: str, account: str
) -> tuple[str, str | None, AwsCallFailed | None]:
    try:
        return account, clients.assume_role(org.role_arn(partition, account), org.external_id), None
    except AwsCallFailed as exc:
        return account, None, exc
