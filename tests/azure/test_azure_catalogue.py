"""The bundled built-in role catalogue: every role classified, the privileged ones flagged."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from kubeiam_azure.evidence.builtin_roles import refresh
from kubeiam_azure.judge.catalogue import builtin_role_guids, load
from kubeiam_azure.judge.profile import ESCALATION_ACTIONS, judge_assignment, profile
from kubeiam_azure.view import Permission, RoleAssignment, RoleDefinition

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "azure" / "corpus"
SCOPES = {
    "management-group": "/providers/Microsoft.Management/managementGroups/root",
    "subscription": "/subscriptions/0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
    "resource-group": "/subscriptions/0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e/resourceGroups/rg",
}


def by_name(name: str) -> RoleDefinition | None:
    """The built-in role called `name` (case-insensitive)."""
    return next((r for r in load().roles.values() if r.name.lower() == name.lower()), None)


def verdicts(role, level):
    return judge_assignment(RoleAssignment(f"a/{role.id}/{level}", "p", role.id, SCOPES[level]), role)


def flagged(role, level) -> bool:
    """What AZ-001 / AZ-002 (the privileged-role rules) would report for this role at `level`."""
    v = verdicts(role, level)
    return v.admin or bool(v.escalation)


def test_catalogue_is_dated_and_complete():
    cat = load()
    assert len(cat.roles) == cat.meta["count"] == 928
    assert cat.meta["date"] and cat.meta["licence"] == "MIT"
    assert builtin_role_guids() == frozenset(cat.roles)


def test_every_builtin_role_is_classified():
    seen = {"admin": 0, "escalation": 0, "read-only": 0, "data": 0, "other": 0}
    for role in load().roles.values():
        p = profile(role)
        assert p.role_id == role.id and not p.custom
        v = verdicts(role, "subscription")
        kind = (
            "admin"
            if v.admin
            else "escalation"
            if v.escalation
            else "read-only"
            if p.read_only
            else "data"
            if p.data_actions
            else "other"
        )
        seen[kind] += 1
    assert sum(seen.values()) == 928
    assert seen["admin"] == 2  # Owner and Contributor: the only built-ins with `*` actions
    assert all(seen.values()), seen


@pytest.mark.parametrize(
    "name", ["Owner", "Contributor", "User Access Administrator", "Role Based Access Control Administrator"]
)
def test_privileged_roles_are_flagged_at_subscription(name):
    assert flagged(by_name(name), "subscription")


def test_owner_and_contributor_are_admin_uaa_and_rbac_admin_escalate():
    for name in ("Owner", "Contributor"):
        assert verdicts(by_name(name), "subscription").admin
    assert verdicts(by_name("Owner"), "resource-group").admin
    assert not verdicts(by_name("Contributor"), "resource-group").admin
    for name in ("User Access Administrator", "Role Based Access Control Administrator"):
        v = verdicts(by_name(name), "subscription")
        assert not v.admin
        assert "Microsoft.Authorization/roleAssignments/write" in v.escalation


def test_microsoft_privileged_list_is_flagged_where_present():
    doc = json.loads((FIXTURES / "azure_privileged_roles_msdocs.json").read_text())
    cat = load()
    present = [r for r in doc["privileged_roles"] if r["id"] in cat.roles]
    assert len(present) >= 4  # Reservations Administrator is not in the 2026-08 snapshot
    for r in present:
        assert flagged(cat.roles[r["id"]], "subscription"), r["roleName"]


@pytest.mark.parametrize("level", sorted(SCOPES))
def test_reader_is_never_flagged(level):
    reader = by_name("Reader")
    v = verdicts(reader, level)
    assert not v.admin and not v.escalation
    assert profile(reader).read_only and not profile(reader).sensitive_data


def test_contributor_excludes_role_assignment_writes_via_not_actions():
    p = profile(by_name("Contributor"))
    assert "Microsoft.Authorization/roleAssignments/write" not in p.escalation
    assert set(p.escalation) < set(ESCALATION_ACTIONS)


def test_refresh_round_trips_and_is_deterministic(tmp_path):
    raw = [
        {
            "id": "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/8e3af657",
            "name": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
            "properties": {
                "roleName": "Owner",
                "type": "BuiltInRole",
                "permissions": [{"actions": ["*"], "notActions": [], "dataActions": [], "notDataActions": []}],
            },
        },
        {"name": "c1", "roleName": "Mine", "roleType": "CustomRole", "permissions": [{"actions": ["*"]}]},
    ]
    first = refresh(raw, source="test", licence="MIT", date="2026-01-01", path=tmp_path / "a.json.gz")
    second = refresh(raw, source="test", licence="MIT", date="2026-01-01", path=tmp_path / "b.json.gz")
    assert first.read_bytes() == second.read_bytes()
    cat = load(first)
    assert list(cat.roles) == ["8e3af657-a8ff-443c-a75c-2fe8c4bcb635"]  # the custom role is skipped
    assert cat.meta == {"count": 1, "date": "2026-01-01", "licence": "MIT", "source": "test"}
    assert json.loads(gzip.decompress(first.read_bytes()))["roles"][0]["permissions"] == [{"actions": ["*"]}]


def test_refresh_cli(tmp_path):
    from kubeiam_azure.evidence.builtin_roles import main

    src = tmp_path / "roles.json"
    src.write_text(
        json.dumps({"value": [{"name": "g1", "roleName": "R", "roleType": "BuiltInRole", "permissions": []}]})
    )
    assert main([str(src), "--source", "unit", "--output", str(tmp_path / "out.json.gz")]) == 0
    assert list(load(tmp_path / "out.json.gz").roles) == ["g1"]


def test_profile_is_memoised_per_role_definition():
    profile.cache_clear()
    owner = by_name("Owner")
    for _ in range(5):
        profile(owner)
    info = profile.cache_info()
    assert info.misses == 1 and info.hits == 4


def test_reader_roles_with_support_tickets_count_as_read_only():
    for name in ("Reader", "Billing Reader", "Site Recovery Reader"):
        role = by_name(name)
        assert role is not None and profile(role).read_only, name
    for name in ("User Access Administrator", "Log Analytics Reader"):  # the latter runs log queries
        assert not profile(by_name(name)).read_only, name


def _custom(actions, not_actions=()):
    return RoleDefinition(
        "c0ffee00-0000-4000-8000-000000000001", "Custom", True, (Permission(tuple(actions), tuple(not_actions)),)
    )


@pytest.mark.parametrize(
    ("actions", "not_actions", "wildcards", "escalates"),
    [
        (["*/write", "*/read"], [], ("*/write",), True),  # every provider's writes, role assignments included
        (["*/read", "Microsoft.Support/*"], [], (), False),  # Reader's shape: neither
        (["Microsoft.Compute/*"], [], ("Microsoft.Compute/*",), False),
        (["*/write"], ["Microsoft.Authorization/*"], ("*/write",), False),  # notActions take the escalation away
        (["microsoft.authorization/ROLEASSIGNMENTS/*"], [], (), True),  # case-insensitive match
    ],
)
def test_wildcard_actions_and_escalation_of_custom_roles(actions, not_actions, wildcards, escalates):
    p = profile(_custom(actions, not_actions))
    assert p.wildcard_actions == wildcards
    assert (ESCALATION_ACTIONS[0] in p.escalation) is escalates
