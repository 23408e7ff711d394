"""Node OAuth scopes: what a GKE node's own credentials (the metadata server's token of the node's service
account) may call. The token carries the pool's `oauthScopes`; an API outside them refuses it whatever
IAM grants. Workload Identity tokens are not bound by them (they carry cloud-platform).

The table names, per scope, the services (permission prefixes) it opens and whether only reads; a scope
not in it opens what cannot be told, so it is read as `cloud-platform` (the wider reading) and named.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

_AUTH = "https://www.googleapis.com/auth/"
ALL = ("*", False)
# scope (without the prefix) -> (permission prefixes, reads only)
_SCOPES: dict[str, tuple[tuple[str, ...], bool]] = {
    "cloud-platform": (("*",), False),
    "cloud-platform.read-only": (("*",), True),
    "devstorage.read_only": (("storage.",), True),
    "devstorage.read_write": (("storage.",), False),
    "devstorage.full_control": (("storage.",), False),
    "compute": (("compute.",), False),
    "compute.readonly": (("compute.",), True),
    "iam": (("iam.",), False),
    "logging.write": (("logging.",), False),
    "logging.read": (("logging.",), True),
    "logging.admin": (("logging.",), False),
    "monitoring": (("monitoring.",), False),
    "monitoring.write": (("monitoring.",), False),
    "monitoring.read": (("monitoring.",), True),
    "trace.append": (("cloudtrace.",), False),
    "servicecontrol": (("servicecontrol.",), False),
    "service.management.readonly": (("servicemanagement.",), True),
    "service.management": (("servicemanagement.",), False),
    "pubsub": (("pubsub.",), False),
    "datastore": (("datastore.",), False),
    "bigquery": (("bigquery.",), False),
    "sqlservice.admin": (("cloudsql.",), False),
    "source.read_only": (("source.",), True),
    "source.read_write": (("source.",), False),
    "userinfo.email": ((), True),
    "userinfo.profile": ((), True),
    "cloud_debugger": (("clouddebugger.",), False),
    "cloudruntimeconfig": (("runtimeconfig.",), False),
}
_READ_VERBS = ("get", "list", "search", "query")


@dataclass(frozen=True, slots=True)
class Scopes:
    """What a pool's scopes open: services (prefixes) read-write and read-only; `unknown`: scopes not in the
    table (read as everything)."""

    write: tuple[str, ...]
    read: tuple[str, ...]
    unknown: tuple[str, ...] = ()

    @property
    def everything(self) -> bool:
        return "*" in self.write or bool(self.unknown)

    def allows(self, permission: str) -> bool:
        if self.everything or _prefixed(permission, self.write):
            return True
        verb = permission.rsplit(".", 1)[-1]
        return _prefixed(permission, self.read) and verb.startswith(_READ_VERBS)


def _prefixed(permission: str, prefixes: tuple[str, ...]) -> bool:
    return "*" in prefixes or permission.startswith(prefixes)


@lru_cache(maxsize=256)
def scopes_of(scopes: tuple[str, ...]) -> Scopes:
    write: list[str] = []
    read: list[str] = []
    unknown: list[str] = []
    for s in scopes:
        name = s[len(_AUTH) :] if s.startswith(_AUTH) else s
        found = _SCOPES.get(name)
        if found is None:
            unknown.append(s)
            continue
        (read if found[1] else write).extend(found[0])
    return Scopes(tuple(write), tuple(read), tuple(unknown))


def within(permissions: Iterable[str], scopes: Scopes) -> frozenset[str]:
    return frozenset(p for p in permissions if scopes.allows(p))
