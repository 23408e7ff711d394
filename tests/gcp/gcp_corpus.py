"""The public corpus's GCP predefined roles, as vendored in fixtures/gcp/corpus (see its README)."""

from __future__ import annotations

import json
import lzma
from functools import cache
from pathlib import Path

ROLES = Path(__file__).resolve().parents[2] / "fixtures" / "gcp" / "corpus" / "gcp_predefined_roles.json.xz"


@cache
def corpus() -> dict[str, frozenset[str]]:
    """Every predefined role (2,461) -> its permissions."""
    doc = json.loads(lzma.decompress(ROLES.read_bytes()))
    return {name: frozenset(role["permissions"]) for name, role in doc["roles"].items()}
