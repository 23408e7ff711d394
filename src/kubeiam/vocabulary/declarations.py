"""What each provider declares about its cloud, so that the core and the Kubernetes provider name none.

A cloud provider declares its cloud's name, the ServiceAccount annotations that bind a workload to its
identities (and what a valid value looks like), the environment variables through which its SDKs pick
up long-lived credentials, and the `spec.providerID` scheme of its nodes. The pipeline merges every
provider's declarations into the inventory before any evidence is read: the Kubernetes reader and the
cloud-free rules (near-miss annotations, static credentials, an annotation for another cloud) work from
them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any


@dataclass(frozen=True, slots=True)
class IdentityAnnotation:
    key: str
    cloud: str
    value_pattern: re.Pattern[str]
    expected: str
    """What a valid value looks like, for the finding's text."""
    platform_bound: bool = False
    """Works only on the cloud's own clusters (IRSA needs the EKS webhook, GKE Workload Identity the GKE
    metadata server); Azure Workload Identity is a webhook any cluster with an OIDC issuer can run."""


@dataclass(frozen=True, slots=True)
class CredentialVariable:
    """An environment variable that a cloud SDK's default chain reads before any workload identity."""

    name: str
    cloud: str
    points_to_file: bool = False
    """The value is a path (GOOGLE_APPLICATION_CREDENTIALS): a credential only when a Secret provides the file."""


@dataclass(frozen=True, slots=True)
class AccountPattern:
    """Where a principal or a cluster id names the cloud account it lives in: the fleet report's roll-up
    per account / project / subscription."""

    cloud: str
    kind: str
    """What the cloud calls it: `account`, `project`, `subscription`."""
    pattern: re.Pattern[str]
    """Searched in a principal, else in the cluster id; group 1 is the account's id."""


@dataclass(frozen=True)
class Declarations:
    """Every provider's declarations, merged (`merge`); an empty one declares nothing."""

    clouds: tuple[str, ...] = ()
    """Cloud names (`aws`, ...) as findings carry them, in provider order."""
    titles: Mapping[str, str] = field(default_factory=dict)
    """Cloud name -> how people write it (`AWS`, `Google Cloud`), for formats that show it."""
    annotations: tuple[IdentityAnnotation, ...] = ()
    credential_variables: tuple[CredentialVariable, ...] = ()
    node_schemes: Mapping[str, str] = field(default_factory=dict)
    """`spec.providerID` scheme (`aws`, `gce`, `azure`) -> cloud name."""
    powers: Mapping[str, Callable[[Any, Any], Any]] = field(default_factory=dict)
    """Cloud name -> `judge(inventory, identity) -> IdentityPower`: the provider's own judgement of what
    one of its identities can do, for rules of other providers (who can become a ServiceAccount matters as
    much as what its identity can do). Rules reach it through `inventory.declarations`, never by import."""
    settings: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    """`kubeiam.toml` tables a provider reads (`[takeover]`): name -> parse(raw table) -> the value rules see
    in `Inventory.settings[name]`, raising ValueError with a one-line message on a bad table."""
    labels: tuple[str, ...] = ()
    """Pod labels a cloud's workload identity needs (`azure.workload.identity/use`): their domains are
    identity vocabulary too."""
    accounts: tuple[AccountPattern, ...] = ()
    """How a principal or cluster id names its account / project / subscription (first match wins)."""

    @staticmethod
    def merge(parts: Iterable[Declarations]) -> Declarations:
        parts = tuple(parts)
        return Declarations(
            clouds=tuple(c for p in parts for c in p.clouds),
            titles={k: v for p in parts for k, v in p.titles.items()},
            annotations=tuple(a for p in parts for a in p.annotations),
            credential_variables=tuple(v for p in parts for v in p.credential_variables),
            node_schemes={k: v for p in parts for k, v in p.node_schemes.items()},
            powers={k: v for p in parts for k, v in p.powers.items()},
            settings={k: v for p in parts for k, v in p.settings.items()},
            labels=tuple(label for p in parts for label in p.labels),
            accounts=tuple(a for p in parts for a in p.accounts),
        )

    @cached_property
    def by_key(self) -> dict[str, IdentityAnnotation]:
        return {a.key: a for a in self.annotations}

    @cached_property
    def credential_clouds(self) -> dict[str, str]:
        """Variable name -> cloud."""
        return {v.name: v.cloud for v in self.credential_variables}

    @cached_property
    def file_pointers(self) -> frozenset[str]:
        return frozenset(v.name for v in self.credential_variables if v.points_to_file)

    @cached_property
    def secret_key_names(self) -> frozenset[str]:
        """Keys of a Secret that hold the same material when a whole Secret is loaded with envFrom."""
        return frozenset(v.name.lower() for v in self.credential_variables)

    def near_miss(self, key: str) -> IdentityAnnotation | None:
        """The identity annotation `key` was probably meant to be, when it is not exactly one.

        Why: a typo'd key binds nothing, and the pod silently runs with the node's credentials.
        Catches separator and case slips (`role_arn`, `Role-Arn`) and one-letter edits
        (`gcp-service-acount`) within the same domain prefix.
        """
        if key in self.by_key:
            return None
        squashed = _squash(key)
        for ann in self.annotations:
            target = _squash(ann.key)
            if squashed == target or _edit_distance_le(squashed, target, 1):
                return ann
            prefix, _, name = ann.key.partition("/")
            kprefix, _, kname = key.partition("/")
            if kprefix.lower() == prefix and kname and _edit_distance_le(_squash(kname), _squash(name), 2):
                return ann
        return None


def _squash(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


def _edit_distance_le(a: str, b: str, limit: int) -> bool:
    if abs(len(a) - len(b)) > limit:
        return False
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        if min(cur) > limit:
            return False
        prev = cur
    return prev[-1] <= limit
