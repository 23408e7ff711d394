"""docs/gcp-live.md must name exactly the API methods and permissions the collection uses."""

from __future__ import annotations

import re
from pathlib import Path

from kubeiam_gcp.live.clients import PERMISSIONS

DOC = Path(__file__).resolve().parents[3] / "docs" / "gcp-live.md"


def test_documented_permissions_are_the_ones_called():
    text = DOC.read_text()
    section = text.split("## Minimal read-only role", 1)[1].split("\n## ", 1)[0]
    table = set(re.findall(r"^\| `([a-zA-Z.]+)` \|", section, flags=re.M))
    assert table == {p for p in PERMISSIONS.values() if p}
    command = section.split("--permissions=", 1)[1].split("\ngcloud", 1)[0]
    assert set(command.replace("\\\n", "").split()[0].split(",")) == table


def test_every_method_called_is_in_the_documented_table():
    text = DOC.read_text()
    methods = set(re.findall(r"^\| \d \| `([a-zA-Z.]+)`", text, flags=re.M))
    methods |= set(re.findall(r"^\| \d \| `[a-zA-Z.]+`, `([a-zA-Z.]+)`", text, flags=re.M))
    assert {m for m, p in PERMISSIONS.items() if p} == methods


def test_the_minimal_role_of_gcp_md_is_exactly_what_is_called():
    """docs/gcp.md's ```permissions block (the role test_minimal_role.py audits) names every permission called."""
    block = re.search(r"```permissions\n(.*?)```", (DOC.parent / "gcp.md").read_text(), re.S)
    assert block is not None
    assert sorted(block[1].split()) == sorted({p for p in PERMISSIONS.values() if p})
