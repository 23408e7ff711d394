"""Parse `aws/<account>/oidc-providers.json` (list-open-id-connect-providers): the issuers IAM trusts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import CoverageError
from kubeiam_aws.evidence.shapes import text
from kubeiam_aws.judge.trust import provider_host


@dataclass(frozen=True, slots=True)
class OidcProviders:
    hosts: frozenset[str]
    """Issuer without https://, lower-cased."""
    unread: tuple[str, ...] = ()
    """Items that could not be read (then a host not in `hosts` may still have a provider)."""


def read_oidc_providers(evidence: Evidence, account: str) -> tuple[OidcProviders | None, list[CoverageError]]:
    """The account's OIDC providers; None when the file is absent."""
    relative = f"aws/{account}/oidc-providers.json"
    items = evidence.load_list(relative, "OpenIDConnectProviderList")
    if items is None:
        return None, []
    hosts, unread, errors = set(), [], []
    for i, p in enumerate(items):
        arn = text(p.get("Arn")) if isinstance(p, Mapping) else None
        url = text(p.get("Url")) if isinstance(p, Mapping) else None
        found = provider_host(arn) if arn else None
        if found:
            hosts.add(found[1])
        elif url:
            hosts.add(url.split("://", 1)[-1].rstrip("/").lower())
        else:
            item = f"OpenIDConnectProviderList[{i}]"
            unread.append(item)
            reason = f"{item} has no readable 'Arn' or 'Url': whether a provider exists is not decided for this account"
            errors.append(CoverageError("aws", relative, reason, subject=account, rules=("AWS-004",)))
    return OidcProviders(frozenset(hosts), tuple(unread)), errors
