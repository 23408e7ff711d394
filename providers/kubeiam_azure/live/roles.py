"""Role definitions for live collection: only those the relevant assignments reference, each once.

A built-in role has the same GUID in every subscription (`.../roleDefinitions/<guid>`), so the
definitions are keyed by GUID: one built-in assigned in three subscriptions is fetched once and
written into each subscription's file. Built-in roles the bundled catalogue knows are not fetched
at all (EVIDENCE.md: built-in roles come from the tool's own catalogue).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

from kubeiam_azure.judge.catalogue import builtin_role_guids
from kubeiam_azure.live.clients import JSON, Calls, Clients, to_rest

# Why 5: each GET is one call; one list at the subscription is one call (per page) whatever the
# number of roles. Past a handful of distinct roles the list is cheaper.
ROLE_GETS_MAX = 5


def guid_of(role_definition_id: str) -> str:
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


class RoleFetcher:
    """Fetches the role definitions that assignments reference; `fetch` returns each subscription's file."""

    def __init__(
        self,
        calls: Calls,
        clients: Mapping[str, Clients],
        default_subscription: str,
        known_builtins: frozenset[str] | None = None,
    ) -> None:
        self.calls = calls
        self.clients = clients
        self.default_subscription = default_subscription
        """Where a role definition id without a subscription (a tenant-level built-in) is fetched."""
        # Without the catalogue every referenced role is fetched: more calls, never less coverage.
        self.known = builtin_role_guids() if known_builtins is None else known_builtins

    def fetch(self, assignments: dict[str, list[JSON]], principals: list[str]) -> dict[str, list[JSON]]:
        """`role-definitions.json` of every subscription in `assignments`, keyed by subscription."""
        wanted = set(principals)
        refs: dict[str, dict[str, str]] = {}  # subscription -> guid -> a role definition id
        for sub, items in assignments.items():
            for ra in items:
                props = ra.get("properties") or {}
                if str(props.get("principalId", "")).lower() in wanted and props.get("roleDefinitionId"):
                    rid = props["roleDefinitionId"]
                    refs.setdefault(sub, {}).setdefault(guid_of(rid), rid)
        missing = {g: rid for by_guid in refs.values() for g, rid in by_guid.items() if g not in self.known}
        pool: dict[str, JSON] = {}
        listed: dict[str, list[JSON]] = {}
        if len(missing) > ROLE_GETS_MAX:
            subs = [s for s, by_guid in refs.items() if any(g in missing for g in by_guid)]
            lists: list[Callable[[], tuple[str, list[JSON] | None]]] = [partial(self._list, s) for s in subs]
            for sub, listing in self.calls.parallel("azure: role definitions", lists):
                if listing is not None:
                    listed[sub] = listing
                    for rd in listing:
                        pool.setdefault(guid_of(rd.get("id") or rd.get("name", "")), rd)
        gets = {g: rid for g, rid in missing.items() if g not in pool}
        if gets:
            jobs: list[Callable[[], tuple[str, JSON | None]]] = [
                partial(self._get, g, rid) for g, rid in sorted(gets.items())
            ]
            for guid, found in self.calls.parallel("azure: role definitions", jobs):
                if found is not None:
                    pool[guid] = found
        files: dict[str, list[JSON]] = {}
        for sub in assignments:
            chosen = {guid_of(rd.get("id", "")): rd for rd in listed.get(sub, [])}
            for guid in refs.get(sub, {}):
                if guid in pool:
                    chosen.setdefault(guid, pool[guid])
            files[sub] = sorted(chosen.values(), key=lambda rd: str(rd.get("id", "")).lower())
        return files

    def _list(self, sub: str) -> tuple[str, list[JSON] | None]:
        client = self.clients[sub].authorization
        scope = f"/subscriptions/{sub}"
        # With the catalogue, built-ins need no fetching: custom roles only (what `az role
        # definition list --custom-role-only` prints). Without it, the full list (also accepted).
        query = "type eq 'CustomRole'" if self.known else None
        return sub, self.calls.call(
            lambda: [to_rest(rd) for rd in client.role_definitions.list(scope=scope, filter=query)],
            location=f"azure/{sub}/role-definitions.json (GET {scope}/providers/Microsoft.Authorization/"
            f"roleDefinitions{f'?$filter={query}' if query else ''})",
            subject=sub,
        )

    def _get(self, guid: str, role_definition_id: str) -> tuple[str, JSON | None]:
        sub = _subscription_of(role_definition_id) or self.default_subscription
        client = self.clients.get(sub) or self.clients[self.default_subscription]
        return guid, self.calls.call(
            lambda: to_rest(client.authorization.role_definitions.get_by_id(role_definition_id)),
            location=f"azure/{sub}/role-definitions.json (GET {role_definition_id})",
            subject=role_definition_id,
        )


def _subscription_of(resource_id: str) -> str | None:
    parts = resource_id.strip("/").split("/")
    if len(parts) > 1 and parts[0].lower() == "subscriptions":
        return parts[1].lower()
    return None
