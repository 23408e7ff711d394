"""Issue 15, item 7: group-inherited role assignments (Microsoft Graph `transitiveMemberOf`), Entra app roles
and directory roles held by managed identities (`appRoleAssignments`), ABAC conditions kept.

Before: an assignment to a group the identity is in was not its own (an Owner through a group was clean),
and Microsoft Graph was not read at all, silently.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from azure_builder import Scenario
from azure_deeper_support import (
    APPLICATION_RW,
    GLOBAL_ADMIN,
    ROLE_MANAGEMENT,
    USER_READ_ALL,
    app_role,
    assign,
    directory_role,
    graph_for,
    group,
    ids,
    page,
    workload,
    write_graph,
)

from kubeiam.errors import InputError
from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.findings import Severity

GROUP = "99999999-0000-4000-8000-000000000001"
CONSTRAINED = (
    "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR "
    "(@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals "
    "{7f951dda-4ed3-4680-a7ca-43fe172d538d}))"
)


def _run(tmp_path: Path, providers, s: Scenario, memberships=None, app_roles=None, name: str = "e"):
    root = write_graph(s.write(tmp_path / name), memberships, app_roles)
    return audit(Evidence(root), providers=providers)


def _in_group(role: str, scope: str, **kw) -> Scenario:
    s = workload(Scenario(), 1).managed_cluster()
    return assign(s, GROUP, role, scope, principal_type="Group", **kw)


def _member() -> tuple[dict, dict]:
    memberships, roles = graph_for(ids(1)[1])
    memberships[ids(1)[1]] = page([group(GROUP, "platform-admins")])
    return memberships, roles


def _rule(report, rule_id: str):
    return [f for f in report.findings if f.rule_id == rule_id]


def test_an_owner_through_a_group_is_admin(tmp_path, providers):
    s = _in_group("Owner", Scenario().scope("subscription"))
    assert _rule(_run(tmp_path, providers, s), "AZ-001") == []  # memberships unknown: not counted (see coverage)
    (finding,) = _rule(_run(tmp_path, providers, s, *_member(), name="member"), "AZ-001")
    assert finding.severity is Severity.CRITICAL
    assert finding.evidence["inherited_from_group"] == {"id": GROUP, "name": "platform-admins"}


def test_group_assignments_not_counted_are_named_in_coverage(tmp_path, providers):
    report = _run(tmp_path, providers, _in_group("Owner", Scenario().scope("subscription")))
    (note,) = [e for e in report.coverage["errors"] if "group-memberships.json" in e["location"]]
    assert note["subject"] is None and "1 role assignment(s) to groups were not counted" in note["reason"]
    assert {"AZ-001", "AZ-002", "AZ-013"} <= set(note["rules"])


def test_a_condition_on_a_group_assignment_is_kept(tmp_path, providers):
    s = _in_group("Role Based Access Control Administrator", Scenario().scope("subscription"), condition=CONSTRAINED)
    (finding,) = _rule(_run(tmp_path, providers, s, *_member()), "AZ-002")
    assert finding.severity is Severity.HIGH  # constrained: not Owner in one step
    assert finding.evidence["constrained_by_condition"] is True and finding.evidence["condition"] == CONSTRAINED


@pytest.mark.parametrize(
    ("role", "severity"),
    [(ROLE_MANAGEMENT, Severity.CRITICAL), (APPLICATION_RW, Severity.HIGH), (USER_READ_ALL, None)],
    ids=["RoleManagement.ReadWrite.Directory", "Application.ReadWrite.All", "User.Read.All"],
)
def test_graph_app_roles(tmp_path, providers, role, severity):
    memberships, roles = graph_for(ids(1)[1])
    roles[ids(1)[1]] = page([app_role(ids(1)[1], role)])
    found = _rule(_run(tmp_path, providers, workload(Scenario(), 1).managed_cluster(), memberships, roles), "AZ-013")
    if severity is None:
        assert found == []
        return
    (finding,) = found
    assert finding.severity is severity and finding.evidence["kind"] == "app-role"
    assert finding.evidence["resource"] == "Microsoft Graph" and finding.evidence["file"].endswith("app-roles.json")


def test_a_deleted_app_role_assignment_is_none(tmp_path, providers):
    memberships, roles = graph_for(ids(1)[1])
    roles[ids(1)[1]] = [app_role(ids(1)[1], ROLE_MANAGEMENT, deletedDateTime="2026-04-01T00:00:00Z")]
    s = workload(Scenario(), 1).managed_cluster()
    assert _rule(_run(tmp_path, providers, s, memberships, roles), "AZ-013") == []


def test_a_directory_role_from_transitive_membership(tmp_path, providers):
    memberships, roles = graph_for(ids(1)[1])
    memberships[ids(1)[1]] = page(
        [directory_role("77777777-0000-4000-8000-000000000001", GLOBAL_ADMIN, "Global Administrator")]
    )
    report = _run(tmp_path, providers, workload(Scenario(), 1).managed_cluster(), memberships, roles)
    (finding,) = _rule(report, "AZ-013")
    assert finding.severity is Severity.CRITICAL and "Global Administrator" in finding.title
    assert not [e for e in report.coverage["errors"] if e.get("rules") == ["AZ-013"]]


def test_an_identity_reaching_a_global_administrator_is_critical(tmp_path, providers):
    # id-1 may federate id-2, which holds RoleManagement.ReadWrite.Directory: AZ-002 follows it.
    s = workload(Scenario(), 1).managed_cluster()
    s.identity("id-2", *ids(2))
    assign(s, ids(1)[1], "Managed Identity Federated Identity Credential Contributor", s.mi_id("id-2"))
    memberships, roles = graph_for(ids(1)[1], ids(2)[1])
    roles[ids(2)[1]] = page([app_role(ids(2)[1], ROLE_MANAGEMENT)])
    (finding,) = _rule(_run(tmp_path, providers, s, memberships, roles), "AZ-002")
    assert finding.severity is Severity.CRITICAL and finding.evidence["reaches"]["level"] == "admin"


def test_graph_absent_is_one_coverage_note_not_clean(tmp_path, providers):
    report = _run(tmp_path, providers, workload(Scenario(), 1).managed_cluster())
    (note,) = [e for e in report.coverage["errors"] if e.get("rules") == ["AZ-013"]]
    assert note["subject"] is None and "app-roles.json" in note["location"]
    # Only one file read: the other one is named.
    memberships, _ = graph_for(ids(1)[1])
    report = _run(tmp_path, providers, workload(Scenario(), 1).managed_cluster(), memberships, None, name="half")
    (note,) = [e for e in report.coverage["errors"] if "AZ-013" in e.get("rules", ())]
    assert note["location"] == "azure/<subscription-id>/app-roles.json" and note["rules"] == ["AZ-013"]


def test_an_identity_without_an_entry_is_named(tmp_path, providers):
    s = workload(workload(Scenario(), 1), 2).managed_cluster()
    memberships, roles = graph_for(ids(1)[1])  # nothing for id-2
    report = _run(tmp_path, providers, s, memberships, roles)
    graph = [e for e in report.coverage["errors"] if "AZ-013" in e.get("rules", ())]
    subjects = {(e["subject"].rsplit("/", 1)[-1], e["location"].rsplit("/", 1)[-1]) for e in graph}
    assert subjects == {("id-2", "group-memberships.json"), ("id-2", "app-roles.json")}


def test_an_unreadable_entry_or_item_leaves_only_that_identity_partly_checked(tmp_path, providers):
    s = workload(workload(Scenario(), 1), 2).managed_cluster()
    memberships, roles = graph_for(ids(1)[1], ids(2)[1])
    roles[ids(1)[1]] = page(
        [{"id": "x", "resourceId": "r"}], next_link="https://graph.microsoft.com/v1.0/next?$skiptoken=abc"
    )
    memberships[ids(1)[1]] = "not a listing"
    report = _run(tmp_path, providers, s, memberships, roles)
    (entry,) = report.coverage["unchecked"]
    assert entry["service_account"] == "sa1"
    items = {i["item"] for i in entry["items"]}
    assert {".value[0].appRoleId", ".@odata.nextLink"} <= {i[i.index("]") + 1 :] for i in items}
    assert any(i.endswith("']") for i in items)  # the whole group-memberships entry


@pytest.mark.parametrize("name", ["group-memberships.json", "app-roles.json"])
def test_a_file_that_is_not_an_object_is_exit_2(tmp_path, providers, name):
    root = workload(Scenario(), 1).managed_cluster().write(tmp_path)
    (next((root / "azure").iterdir()) / name).write_text(json.dumps([1, 2]))
    with pytest.raises(InputError, match=name):
        audit(Evidence(root), providers=providers)


def test_graph_pages_and_bare_lists_read_alike(tmp_path, providers):
    s = workload(Scenario(), 1).managed_cluster()
    memberships, roles = graph_for(ids(1)[1])
    roles[ids(1)[1]] = page([app_role(ids(1)[1], APPLICATION_RW)])
    paged = _rule(_run(tmp_path, providers, s, memberships, roles, name="paged"), "AZ-013")
    roles[ids(1)[1]] = [app_role(ids(1)[1], APPLICATION_RW)]
    memberships[ids(1)[1]] = []
    bare = _rule(_run(tmp_path, providers, s, memberships, roles, name="bare"), "AZ-013")
    assert [f.fingerprint for f in paged] == [f.fingerprint for f in bare] and len(paged) == 1
