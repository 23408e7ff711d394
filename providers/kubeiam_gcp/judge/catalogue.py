"""The predefined-role catalogue: role -> permissions, bundled as `data/predefined_roles.json.gz`.

Why bundled: `gcloud projects get-iam-policy` names roles, not permissions, and an auditor working
from evidence files has no IAM API. The file is dated; `write_catalogue` replaces it with a newer
one (the live collector feeds it the IAM API's `roles.list(view=FULL)`; see docs/gcp.md).

Format (compact, ~150 kB): `{"_meta": {source, date, licence, count}, "permissions": [sorted names],
"roles": {"roles/x": {"title", "stage", "p": [delta-encoded indexes into permissions]}}}`.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

BUNDLED = Path(__file__).resolve().parents[1] / "data" / "predefined_roles.json.gz"
ENV_OVERRIDE = "KUBEIAM_GCP_ROLES"
"""Environment variable naming a newer catalogue file (written by `write_catalogue`)."""


@dataclass(frozen=True)
class Catalogue:
    """Predefined roles and their permissions."""

    roles: Mapping[str, frozenset[str]]
    """Role name (`roles/...`) -> included permissions."""
    titles: Mapping[str, str]
    stages: Mapping[str, str]
    """`GA`, `BETA`, `ALPHA`, `DEPRECATED`."""
    date: str
    """When the catalogue was taken (YYYY-MM-DD)."""
    source: str

    def permissions_of(self, role: str) -> frozenset[str] | None:
        """The role's permissions, None when the catalogue does not know it."""
        return self.roles.get(role)


def _decode(doc: Mapping[str, Any], origin: str) -> Catalogue:
    try:
        names: list[str] = doc["permissions"]
        roles, titles, stages = {}, {}, {}
        for role, entry in doc["roles"].items():
            index, perms = 0, []
            for delta in entry["p"]:
                index += delta
                perms.append(names[index])
            roles[role] = frozenset(perms)
            titles[role] = entry.get("title", "")
            stages[role] = entry.get("stage", "")
        meta = doc.get("_meta", {})
        return Catalogue(roles, titles, stages, str(meta.get("date", "")), str(meta.get("source", "")))
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ValueError(f"{origin}: not a kubeiam GCP role catalogue ({exc})") from None


def read_catalogue(path: Path) -> Catalogue:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return _decode(json.load(fh), str(path))


@cache
def load_catalogue() -> Catalogue:
    """The catalogue in use, read once: `$KUBEIAM_GCP_ROLES` if set, else the bundled file."""
    override = os.environ.get(ENV_OVERRIDE)
    return read_catalogue(Path(override) if override else BUNDLED)


def encode(roles: Iterable[Mapping[str, Any]], *, source: str, date: str, licence: str = "") -> dict[str, Any]:
    """The catalogue document for IAM API / `gcloud iam roles describe` role objects
    (`name`, `title`, `stage`, `includedPermissions`). Deleted roles are left out."""
    chosen = {
        str(r["name"]): r for r in roles if isinstance(r, Mapping) and "name" in r and not r.get("deleted", False)
    }
    names = sorted({str(p) for r in chosen.values() for p in r.get("includedPermissions") or ()})
    index = {p: i for i, p in enumerate(names)}
    out: dict[str, Any] = {}
    for name in sorted(chosen):
        r = chosen[name]
        ids = sorted(index[str(p)] for p in set(r.get("includedPermissions") or ()))
        out[name] = {
            "title": r.get("title", ""),
            "stage": r.get("stage", ""),
            "p": [b - a for a, b in zip([0, *ids], ids, strict=False)],
        }
    meta = {"source": source, "date": date, "licence": licence, "count": len(out)}
    return {"_meta": meta, "permissions": names, "roles": out}


def write_catalogue(
    roles: Iterable[Mapping[str, Any]],
    path: Path | None = None,
    *,
    source: str = "IAM API roles.list(view=FULL)",
    date: str | None = None,
    licence: str = "",
) -> Path:
    """Write a catalogue file from role objects (the refresh path). Default: replace the bundled
    file. Returns the path written. Callers set `$KUBEIAM_GCP_ROLES` to use a file elsewhere."""
    target = path or BUNDLED
    doc = encode(roles, source=source, date=date or datetime.now(UTC).strftime("%Y-%m-%d"), licence=licence)
    tmp = target.with_name(target.name + ".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=9) as fh:
        json.dump(doc, fh, separators=(",", ":"))
    tmp.replace(target)
    load_catalogue.cache_clear()
    return target
