"""Parse `aws/<account>/oidc-providers.json` (list-open-id-connect-providers): the issuers IAM trusts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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
    client_ids: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Host -> the provider's ClientIDList (the token audiences STS accepts), where the file lists it."""


def read_oidc_providers(evidence: Evidence, account: str) -> tuple[OidcProviders | None, list[CoverageError]]:
    """The account's OIDC providers; None when the file is absent."""
    relative = f"aws/{account}/oidc-providers.json"
    items = evidence.load_list(relative, "OpenIDConnectProviderList")
    if items is None:
        return None, []
    hosts, unread, errors = set(), [], []
    client_ids: dict[str, frozenset[str]] = {}
    for i, p in enumerate(items):
        arn = text(p.get("Arn")) if isinstance(p, Mapping) else None
        url = text(p.get("Url")) if isinstance(p, Mapping) else None
        found = provider_host(arn) if arn else None
        host = found[1] if found else url.split("://", 1)[-1].rstrip("/").lower() if url else None
        ids = p.get("ClientIDList") if isinstance(p, Mapping) else None
        # An empty list is read as not listed: what wrote it may not have asked (a refused audience is then unseen).
        if host and isinstance(ids, list) and ids and all(isinstance(c, str) for c in ids):
            client_ids[host] = frozenset(ids)
        if host:
            hosts.add(host)
        else:
            item = f"OpenIDConnectProviderList[{i}]"
            unread.append(item)
            reason = f"{item} has no readable 'Arn' or 'Url': whether a provider exists is not decided for this account"
            errors.append(CoverageError("aws", relative, reason, subject=account, rules=("AWS-004",)))
    return OidcProviders(frozenset(hosts), tuple(unread), client_ids), errors
