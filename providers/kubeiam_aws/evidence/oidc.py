"""Parse `aws/<account>/oidc-providers.json` (list-open-id-connect-providers): the issuers IAM trusts."""

from __future__ import annotations

from collections.abc import Mapping

from kubeiam.errors import InputError
from kubeiam.pipeline.evidence import Evidence
from kubeiam_aws.judge.trust import provider_host


def read_oidc_providers(evidence: Evidence, account: str) -> frozenset[str] | None:
    """The account's OIDC provider hosts (issuer without https://, lower-cased); None when the file is absent."""
    relative = f"aws/{account}/oidc-providers.json"
    items = evidence.load_list(relative, "OpenIDConnectProviderList")
    if items is None:
        return None
    hosts = set()
    for i, p in enumerate(items):
        if not isinstance(p, Mapping):
            raise InputError(f"{relative}: OpenIDConnectProviderList[{i}] is not an object")
        found = provider_host(str(p["Arn"])) if "Arn" in p else None
        if found:
            hosts.add(found[1])
        elif "Url" in p:
            hosts.add(str(p["Url"]).split("://", 1)[-1].rstrip("/").lower())
        else:
            raise InputError(f"{relative}: OpenIDConnectProviderList[{i}]: missing field 'Arn'")
    return frozenset(hosts)
