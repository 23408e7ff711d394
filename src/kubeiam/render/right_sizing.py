"""The right-sized grant an unused-access finding carries (`evidence.right_sized`), for the formats that
show it: before (what the identity has, from the finding's evidence), after (the document), what it drops.

One grant per identity: an identity's findings repeat for every ServiceAccount that takes it, with the same
document, so the report folder writes it once (`right-sizing/<cloud>/<identity>.json`) and says which
ServiceAccounts take it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubeiam.safety.text import json_block, markdown_text
from kubeiam.vocabulary.findings import FIELD_SEPARATOR, Finding

# Evidence keys that say what the identity is granted today (the "before"), in the order shown.
BEFORE_KEYS = (
    "role",
    "roles",
    "policy",
    "policies",
    "permissions_boundary",
    "bindings",
    "assignments",
    "role_assignments",
    "role_assignment",
    "role_definitions",
    "services",
    "actions",
    "permissions",
    "operations",
)
_CELL = 300
"""Longest text of one before item (a binding with its unused permissions listed); the JSON has it whole."""


@dataclass(frozen=True)
class RightSized:
    format: str
    document: Any
    drops: tuple[str, ...]

    @property
    def text(self) -> str:
        """The document exactly as written to its file: ready to apply (characters a terminal or viewer would
        act on as `\\u` escapes: the same JSON value)."""
        return json_block(json.dumps(self.document, indent=2, ensure_ascii=False)) + "\n"


def right_sized_of(f: Finding) -> RightSized | None:
    """The finding's right-sized grant; None when it has none (or not in the shape of docs/quarterly.md)."""
    rs = f.evidence.get("right_sized")
    if not isinstance(rs, Mapping) or not isinstance(rs.get("document"), dict | list):
        return None
    drops = rs.get("drops")
    return RightSized(
        str(rs.get("format") or "unknown"),
        rs["document"],
        tuple(str(d) for d in drops) if isinstance(drops, list) else (),
    )


def usage_text(f: Finding) -> str | None:
    """`uses 3 of 27 services in 90 days (last used 2026-01-02T00:00:00Z; from ...)`."""
    u = f.evidence.get("usage")
    if not isinstance(u, Mapping):
        return None
    text = f"uses {u.get('used')} of {u.get('granted')} {u.get('unit')}"
    if u.get("window_days") is not None:
        text += f" in {u['window_days']} days"
    more = [f"last used {u.get('last_used') or 'never (in the data)'}"]
    if u.get("source"):
        more.append(f"from {u['source']}")
    return f"{text} ({'; '.join(more)})"


def limits_of(f: Finding) -> list[str]:
    """What the usage data cannot see (so the reader knows what "unused" does not cover)."""
    u = f.evidence.get("usage")
    limits = u.get("limits") if isinstance(u, Mapping) else None
    return [str(x) for x in limits] if isinstance(limits, list) else []


def before_items(f: Finding) -> list[tuple[str, str]]:
    """What the identity has today, as the finding's evidence names it: (key, compact text)."""
    out = []
    for key in BEFORE_KEYS:
        value = f.evidence.get(key)
        for v in value if isinstance(value, list) else [value]:
            if v is None or v == "":
                continue
            text = v if isinstance(v, str) else json.dumps(v, sort_keys=True, ensure_ascii=False)
            out.append((key, text if len(text) <= _CELL else text[: _CELL - 1] + "…"))
    return out


@dataclass(frozen=True)
class GrantFile:
    """One identity's right-sized grant as the report folder writes it."""

    path: str
    """Relative to the run folder: `right-sizing/<cloud>/<identity>.json` (letters, digits, `._-` only)."""
    cloud: str
    principal: str
    grant: RightSized
    service_accounts: tuple[tuple[str, str | None], ...]
    """(subject, owner) of each ServiceAccount that takes the identity."""
    usage: str | None
    findings: tuple[str, ...]
    """Fingerprints of the findings it answers."""


def grant_files(findings: Sequence[Finding]) -> list[GrantFile]:
    """One file per identity and distinct document, named after the identity (the last part of its id: the
    README names it whole); the name gets a short hash when it is cut or two identities (or documents) would
    share it, also on a file system that ignores case."""
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    texts: dict[int, tuple[RightSized, str] | None] = {}  # by evidence mapping: an identity's findings share one
    for f in findings:
        if "right_sized" not in f.evidence:
            continue
        if id(f.evidence) not in texts:
            grant = right_sized_of(f)
            texts[id(f.evidence)] = None if grant is None else (grant, grant.text)
        known = texts[id(f.evidence)]
        if known is None:
            continue
        grant, text = known
        key = (f.cloud, f.principal or f.subject, text)
        entry = found.get(key)
        if entry is None:
            entry = found[key] = {"grant": grant, "sas": {}, "usage": usage_text(f), "fps": []}
        owner = f.extra.get("owner")
        entry["sas"].setdefault(f.subject, None if owner is None else str(owner))
        entry["fps"].append(f.fingerprint)
    names = {key: (_slug(key[0]), _slug(_last_part(key[1]))) for key in found}
    taken: dict[tuple[str, str], int] = {}
    for cloud, name in names.values():
        taken[(cloud.lower(), name.lower())] = taken.get((cloud.lower(), name.lower()), 0) + 1
    out = []
    for key, entry in sorted(found.items()):
        cloud, name = names[key]
        if taken[(cloud.lower(), name.lower())] > 1 or len(name) >= _NAME:
            digest = hashlib.sha256(FIELD_SEPARATOR.join(key).encode()).hexdigest()[:8]
            name = f"{name[: _NAME - 10]}-{digest}"
        out.append(
            GrantFile(
                f"right-sizing/{cloud}/{name}.json",
                key[0],
                key[1],
                entry["grant"],
                tuple(entry["sas"].items()),
                entry["usage"],
                tuple(entry["fps"]),
            )
        )
    return out


_NAME = 100


def _last_part(principal: str) -> str:
    """What names the identity within its account: `payments-api` of a role ARN, the identity of an Azure
    resource id; a Google service account's email whole (its project is in it)."""
    return principal.rstrip("/").rsplit("/", 1)[-1] or principal


def _slug(text: str) -> str:
    """A file name part from anyone's text (principals come from annotations): no separator, no `..`."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")
    return slug[:_NAME] or "identity"


SHOWN_SAS = 5
SHOWN_DROPS = 3


def readme(files: Sequence[GrantFile], stamp: str) -> str:
    """`right-sizing/README.md`: each file, whose grant it is, what it drops, who takes it."""
    esc = markdown_text
    lines = [
        "# Right-sized grants",
        "",
        f"kubeiam run of {stamp}: {len(files)} identit{'y' if len(files) == 1 else 'ies'} granted more than "
        "they used in the usage window. Each file is the smaller grant in the cloud's own format, ready to apply, "
        "and never grants more than today; it is written once per identity, for every ServiceAccount that takes "
        "it. Check what it drops against the findings (and the usage data's limits) before applying.",
        "",
        "| file | identity | format | drops | usage | ServiceAccounts |",
        "|---|---|---|---|---|---|",
    ]
    for g in files:
        rel = g.path.removeprefix("right-sizing/")
        sas = ", ".join(sa for sa, _ in g.service_accounts[:SHOWN_SAS])
        if len(g.service_accounts) > SHOWN_SAS:
            sas += f" (+{len(g.service_accounts) - SHOWN_SAS} more)"
        drops = "; ".join(g.grant.drops[:SHOWN_DROPS]) or "-"
        if len(g.grant.drops) > SHOWN_DROPS:
            drops += f" (+{len(g.grant.drops) - SHOWN_DROPS} more: in the findings)"
        cells = [g.principal, g.grant.format, drops, g.usage or "-", sas]
        lines.append(f"| [{rel}]({rel}) | " + " | ".join(esc(c) for c in cells) + " |")
    # How to apply each format is the cloud's business: its page in docs/ (the core names no cloud).
    lines += [
        "",
        "How to apply a format (a policy, a role definition, role bindings): the cloud's page in kubeiam's"
        " docs, section on unused access. Create the new grant first, then remove what it replaces.",
    ]
    lines += ["", "## By ServiceAccount", "", "| ServiceAccount | owner | file |", "|---|---|---|"]
    rows = sorted(((sa, owner, g.path) for g in files for sa, owner in g.service_accounts), key=lambda r: (r[0], r[2]))
    for sa, owner, path in rows:
        rel = path.removeprefix("right-sizing/")
        lines.append(f"| {esc(sa)} | {esc(owner or '-')} | [{rel}]({rel}) |")
    return "\n".join(lines) + "\n"
