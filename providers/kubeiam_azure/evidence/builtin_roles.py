"""Refresh the bundled built-in role catalogue (`data/builtin-roles.json.gz`) from a role listing.

The listing may have either shape:

    az role definition list --query "[?roleType=='BuiltInRole']" -o json > roles.json
    python -m kubeiam_azure.evidence.builtin_roles roles.json --source "az role definition list"

or from the SDK (live collection): `refresh([d.as_dict() for d in client.role_definitions.list(
"/", filter="type eq 'BuiltInRole'")], source="Azure REST")` (REST's nested `properties` shape).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from kubeiam_azure.evidence.definitions import parse_role_definition
from kubeiam_azure.evidence.fields import Unreadable
from kubeiam_azure.judge.catalogue import load, write


def refresh(
    definitions: Iterable[Mapping[str, Any]],
    *,
    source: str,
    licence: str = "",
    date: str | None = None,
    path: Path | None = None,
) -> Path:
    """Rewrite the catalogue from role definitions (az CLI or REST shape); custom roles are skipped."""
    roles = []
    for i, raw in enumerate(definitions):
        try:
            role, gaps = parse_role_definition(raw, f"role definitions[{i}]", printed=False)
        except Unreadable as exc:
            raise ValueError(str(exc)) from None
        if gaps:  # a catalogue with half a role would under-report every tenant that uses it
            raise ValueError(str(gaps[0]))
        if not role.custom:
            roles.append(role)
    if not roles:
        raise ValueError("no built-in role definitions in the input")
    return write(roles, source=source, licence=licence, date=date, path=path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kubeiam_azure.evidence.builtin_roles", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("file", type=Path, help="JSON list of role definitions (az role definition list -o json)")
    parser.add_argument("--source", required=True, help="where the listing came from (kept in the catalogue)")
    parser.add_argument("--licence", default="", help="licence of the listing, if not your own tenant's output")
    parser.add_argument("--date", help="date of the listing (default: today, UTC)")
    parser.add_argument("--output", type=Path, help="write here instead of the package's catalogue")
    args = parser.parse_args(argv)
    doc = json.loads(args.file.read_text(encoding="utf-8-sig"))
    items = doc["value"] if isinstance(doc, dict) and "value" in doc else doc
    out = refresh(items, source=args.source, licence=args.licence, date=args.date, path=args.output)
    print(f"{out}: {load(out).meta['count']} built-in roles")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
