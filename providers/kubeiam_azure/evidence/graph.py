"""Microsoft Graph evidence, both optional, keyed by principal object id like `federated-credentials.json`:

- `azure/<subscription>/group-memberships.json`: `{"<object id>": <az rest --method get --url
  https://graph.microsoft.com/v1.0/servicePrincipals/<object id>/transitiveMemberOf>}`: the groups (whose
  role assignments the principal inherits) and directory roles it is a member of;
- `azure/<subscription>/app-roles.json`: `{"<object id>": <az rest --method get --url
  https://graph.microsoft.com/v1.0/servicePrincipals/<object id>/appRoleAssignments>}`: the app roles it
  holds (Microsoft Graph application permissions among them).

Each value is what `az rest` prints (`{"value": [...], "@odata.nextLink": ...}`) or a bare list. A file
that is not an object is exit 2; one principal's entry that cannot be read, an item of it, or a page cut
short (`@odata.nextLink`) is a gap of that principal only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import Gap
from kubeiam_azure.evidence.fields import Unreadable, kind, obj_of, optional_text, text
from kubeiam_azure.view import AppRole, Membership

T = TypeVar("T")

MEMBERSHIPS = "group-memberships.json"
APP_ROLES = "app-roles.json"
_NEXT = ("@odata.nextLink", "nextLink")


def _entries(evidence: Evidence, path: str, gaps: dict[str, list[Gap]]) -> list[tuple[str, str, list[Any]]] | None:
    """(object id, item path prefix, raw items) per principal of the file; None when the file is absent."""
    doc = evidence.load_object(path)
    if doc is None:
        return None
    out = []
    for key, value in doc.items():
        principal, item = key.strip().lower(), f"[{key!r}]"
        if isinstance(value, dict) and isinstance(value.get("value"), list):
            link = next((value[k] for k in _NEXT if isinstance(value.get(k), str) and value[k]), None)
            if link:
                shown = link if len(link) <= 400 else f"{link[:397]}..."
                why = f"first page only: the pages after it (@odata.nextLink {shown}) are not in the evidence"
                gaps.setdefault(principal, []).append(Gap(path, f"{item}.@odata.nextLink", why))
            out.append((principal, f"{item}.value", value["value"]))
        elif isinstance(value, list):
            out.append((principal, item, value))
        else:
            why = f"must be a list (or a Graph page with 'value'), found {kind(value)}: not read"
            gaps.setdefault(principal, []).append(Gap(path, item, why))
            out.append((principal, item, []))
    return out


def load_memberships(
    evidence: Evidence, path: str, found: dict[str, tuple[Membership, ...]], gaps: dict[str, list[Gap]]
) -> bool:
    """Reads one `group-memberships.json` into `found` / `gaps`; False when the file is absent."""
    return _load(evidence, path, found, gaps, parse_membership)


def load_app_roles(
    evidence: Evidence, path: str, found: dict[str, tuple[AppRole, ...]], gaps: dict[str, list[Gap]]
) -> bool:
    """Reads one `app-roles.json` into `found` / `gaps`; False when the file is absent."""
    return _load(evidence, path, found, gaps, parse_app_role)


def _load(
    evidence: Evidence,
    path: str,
    found: dict[str, tuple[T, ...]],
    gaps: dict[str, list[Gap]],
    parse: Callable[[Any, str, str], T | None],
) -> bool:
    """One Graph file's items per principal, each parsed alone: an item not understood is a gap of its own."""
    entries = _entries(evidence, path, gaps)
    if entries is None:
        return False
    for principal, prefix, items in entries:
        kept = list(found.get(principal, ()))
        for i, raw in enumerate(items):
            try:
                parsed = parse(raw, f"{prefix}[{i}]", path)
            except Unreadable as exc:
                gaps.setdefault(principal, []).append(Gap(path, exc.item, exc.reason))
                continue
            if parsed is not None:
                kept.append(parsed)
        found[principal] = tuple(kept)
    return True


def parse_membership(raw: Any, item: str, source: str) -> Membership:
    obj = obj_of(raw, item, "a directory object")
    ident = str(text(obj, "id", item)).lower()
    odata = optional_text(obj.get("@odata.type")) or ""
    short = odata.rsplit(".", 1)[-1] if odata else ""
    template = optional_text(obj.get("roleTemplateId"))
    if not short:
        # `az rest` always prints @odata.type in transitiveMemberOf; without it a roleTemplateId still says role.
        short = "directoryRole" if template else "group"
    return Membership(
        id=ident,
        kind=short,
        name=optional_text(obj.get("displayName")),
        role_template_id=template.lower() if template else None,
        source=source,
    )


def parse_app_role(raw: Any, item: str, source: str) -> AppRole | None:
    """One app role assignment; None for one Graph lists as deleted (`deletedDateTime` set)."""
    obj = obj_of(raw, item, "an app role assignment")
    deleted = obj.get("deletedDateTime")
    if deleted not in (None, "") and not _is_time(deleted):  # unknown: never taken as "deleted, grants nothing"
        raise Unreadable(f"{item}.deletedDateTime", f"must be null or a time, found {kind(deleted)}")
    if deleted:
        return None
    return AppRole(
        id=str(obj.get("id") or ""),
        app_role_id=str(text(obj, "appRoleId", item)).lower(),
        resource_id=str(text(obj, "resourceId", item)).lower(),
        resource_name=optional_text(obj.get("resourceDisplayName")),
        source=source,
    )


def _is_time(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True
