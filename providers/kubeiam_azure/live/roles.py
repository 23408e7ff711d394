"""Role definitions for live collection: only those the relevant assignments reference, each once.

A built-in role has the same GUID in every subscription (`.../roleDefinitions/<guid>`), so the
definitions are keyed by GUID: one built-in assigned in three subscriptions is fetched once and
written into each subscription's file. Built-in roles the bundled catalogue knows are not fetched
at all (EVIDENCE.md: built-in roles come from the tool's own catalogue).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kubeiam_azure.live.clients import to_rest

if TYPE_CHECKING:
    from kubeiam_azure.live.collector import _Run

# Why 5: each GET is one call; one list at the subscription is one call (per page) whatever the
# number of roles. Past a handful of distinct roles the list is cheaper.
ROLE_GETS_MAX = 5


def guid_of(role_definition_id: str) -> str:
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


def builtin_role_guids() -> frozenset[str]:
    """GUIDs of the built-in roles in the reader's bundled catalogue; empty if it offers none.

    Soft link: the catalogue belongs to the reader. Without it every referenced role is fetched,
    which costs calls but never coverage.
    """
    try:
        from kubeiam_azure import catalogue  # type: ignore[attr-defined]

        return frozenset(g.lower() for g in catalogue.builtin_role_guids())
    except (ImportError, AttributeError):
        return frozenset()


class RoleFetcher:
    def __init__(self, run: _Run, known_builtins: frozenset[str] | None = None) -> None:
        self.run = run
        self.known = builtin_role_guids() if known_builtins is None else known_builtins

    def fetch(self, assignments: dict[str, list[dict]], principals: list[str]) -> None:
        wanted = set(principals)
        refs: dict[str, dict[str, str]] = {}  # subscription -> guid -> a role definition id
        for sub, items in assignments.items():
            for ra in items:
                props = ra.get("properties") or {}
                if str(props.get("principalId", "")).lower() in wanted and props.get("roleDefinitionId"):
                    rid = props["roleDefinitionId"]
                    refs.setdefault(sub, {}).setdefault(guid_of(rid), rid)
        missing = {g: rid for by_guid in refs.values() for g, rid in by_guid.items() if g not in self.known}
        pool: dict[str, dict] = {}
        listed: dict[str, list[dict]] = {}
        if len(missing) > ROLE_GETS_MAX:
            subs = [s for s, by_guid in refs.items() if any(g in missing for g in by_guid)]
            jobs: list[Callable[[], Any]] = [lambda s=s: (s, self._list(s)) for s in subs]
            for sub, items in self.run._parallel("azure: role definitions", jobs):
                if items is not None:
                    listed[sub] = items
                    for rd in items:
                        pool.setdefault(guid_of(rd.get("id") or rd.get("name", "")), rd)
        gets = {g: rid for g, rid in missing.items() if g not in pool}
        if gets:
            jobs = [lambda g=g, rid=rid: (g, self._get(rid)) for g, rid in sorted(gets.items())]
            for guid, rd in self.run._parallel("azure: role definitions", jobs):
                if rd is not None:
                    pool[guid] = rd
        for sub in assignments:
            chosen = {guid_of(rd.get("id", "")): rd for rd in listed.get(sub, [])}
            for guid in refs.get(sub, {}):
                if guid in pool:
                    chosen.setdefault(guid, pool[guid])
            items = sorted(chosen.values(), key=lambda rd: str(rd.get("id", "")).lower())
            self.run._write(sub, "role-definitions.json", items)

    def _list(self, sub: str) -> list[dict] | None:
        client = self.run.clients[sub].authorization
        scope = f"/subscriptions/{sub}"
        # With the catalogue, built-ins need no fetching: custom roles only (what `az role
        # definition list --custom-role-only` prints). Without it, the full list (also accepted).
        query = "type eq 'CustomRole'" if self.known else None
        return self.run._call(
            lambda: [to_rest(rd) for rd in client.role_definitions.list(scope=scope, filter=query)],
            location=f"azure/{sub}/role-definitions.json (GET {scope}/providers/Microsoft.Authorization/"
            f"roleDefinitions{f'?$filter={query}' if query else ''})",
        )

    def _get(self, role_definition_id: str) -> dict | None:
        sub = _subscription_of(role_definition_id) or self.run.plan.subscriptions[0]
        client = self.run.clients.get(sub) or self.run.clients[self.run.plan.subscriptions[0]]
        return self.run._call(
            lambda: to_rest(client.authorization.role_definitions.get_by_id(role_definition_id)),
            location=f"azure/{sub}/role-definitions.json (GET {role_definition_id})",
            subject=role_definition_id,
        )


def _subscription_of(resource_id: str) -> str | None:
    parts = resource_id.strip("/").split("/")
    if len(parts) > 1 and parts[0].lower() == "subscriptions":
        return parts[1].lower()
    return None
