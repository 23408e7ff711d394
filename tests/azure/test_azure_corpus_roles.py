"""Every Azure built-in role of the public corpus (928, az CLI output, fixtures/azure/corpus), each
assigned to its own workload identity's managed identity, audited: zero coverage errors or gaps, and
the verdicts Microsoft's own classification implies.

Each role is assigned twice, to two identities: at subscription scope (where Owner and Contributor are
admin) and at resource-group scope. Two audits: the corpus as the evidence's role-definitions.json in
the az CLI shape, and everything in the REST shape with the roles from the bundled catalogue.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from azure_builder import Scenario, coverage_entries

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.findings import Severity

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "azure" / "corpus"
ROLES = json.loads(gzip.decompress((CORPUS / "azure_builtin_roles_az-cli_iam-dataset.json.gz").read_bytes()))
PRIVILEGED = {
    r["roleName"] for r in json.loads((CORPUS / "azure_privileged_roles_msdocs.json").read_text())["privileged_roles"]
}
SCOPES = ("subscription", "rg")


def _estate(listing: bool) -> Scenario:
    """One identity per (role, scope); with `listing`, the corpus is the evidence's role-definitions.json
    (a full `az role definition list`), else the roles come from the bundled catalogue."""
    s = Scenario(nodes=())
    for i, role in enumerate(ROLES):
        for j, scope in enumerate(SCOPES):
            n = 2 * i + j
            client, principal = f"10000000-0000-4000-8000-{n:012x}", f"20000000-0000-4000-8000-{n:012x}"
            name = f"{scope}-{i}"
            s.sa("corpus", name, client, pod_label=None).identity(f"id-{name}", client, principal)
            s.fic(f"id-{name}", f"system:serviceaccount:corpus:{name}")
            s.roles.append(role)
            s.assign(principal, role["roleName"], s.scope(scope))
            s.roles.pop()
    if listing:
        s.roles = list(ROLES)
    return s.managed_cluster()


@pytest.fixture(scope="module")
def reports(tmp_path_factory, providers):
    out = {}
    for listing in (True, False):
        root = _estate(listing).write(tmp_path_factory.mktemp(f"corpus-{listing}"), rest=not listing)
        out[listing] = audit(Evidence(root), providers=providers)
    return out


def _verdicts(report) -> dict[tuple[str, str], list[tuple[str, Severity]]]:
    """(role name, scope) -> [(rule, severity)] of the corpus ServiceAccounts."""
    found: dict[tuple[str, str], list[tuple[str, Severity]]] = {}
    for f in report.findings:
        if f.namespace == "corpus" and f.service_account:
            scope, i = f.service_account.rsplit("-", 1)
            found.setdefault((ROLES[int(i)]["roleName"], scope), []).append((f.rule_id, f.severity))
    return found


def test_the_corpus_is_the_whole_catalogue():
    assert len(ROLES) == 928 and len({r["name"] for r in ROLES}) == 928
    assert {
        "Owner",
        "Contributor",
        "User Access Administrator",
        "Role Based Access Control Administrator",
    } <= PRIVILEGED


@pytest.mark.parametrize("listing", [True, False], ids=["az-cli-role-definitions", "rest-bundled-catalogue"])
def test_every_built_in_role_audits_with_no_coverage_error_or_gap(reports, listing):
    report = reports[listing]
    # The only entries: notes of the optional files the estate leaves out, each naming its one rule.
    assert coverage_entries(report.coverage) == _estate(listing).optional_notes()
    assert report.coverage["unchecked"] == []
    assert report.coverage["service_accounts"]["with_cloud_identity"] == 2 * len(ROLES)


def test_the_bundled_catalogue_judges_every_role_as_the_corpus_does(reports):
    def key(report):
        return sorted((f.fingerprint, f.severity) for f in report.findings)

    assert key(reports[True]) == key(reports[False])


def test_owner_and_contributor_at_subscription_are_critical_admin_access(reports):
    verdicts = _verdicts(reports[True])
    for role in ("Owner", "Contributor"):
        assert ("AZ-001", Severity.CRITICAL) in verdicts[(role, "subscription")], role
    assert ("AZ-001", Severity.CRITICAL) in verdicts[("Owner", "rg")]  # Owner anywhere grants itself anything


def test_role_assignment_writers_are_escalation_high_or_above(reports):
    verdicts = _verdicts(reports[True])
    for role in ("User Access Administrator", "Role Based Access Control Administrator"):
        for scope in SCOPES:
            ranks = [sev.rank for rule, sev in verdicts[(role, scope)] if rule == "AZ-002"]
            assert ranks and max(ranks) >= Severity.HIGH.rank, (role, scope)


def test_reader_roles_are_nothing_above_medium(reports):
    """Reader and every `... Reader` role: nothing above medium at resource-group scope; at subscription
    scope only AZ-004 (the data of a whole subscription) rises above medium, and only for data readers."""
    verdicts = _verdicts(reports[True])
    readers = [r for r in ROLES if r["roleName"] == "Reader" or r["roleName"].endswith(" Reader")]
    assert len(readers) > 100
    assert verdicts.get(("Reader", "subscription"), []) == [] and verdicts.get(("Reader", "rg"), []) == []
    for role in readers:
        name = role["roleName"]
        assert all(sev.rank <= Severity.MEDIUM.rank for _, sev in verdicts.get((name, "rg"), [])), name
        above = {rule for rule, sev in verdicts.get((name, "subscription"), []) if sev.rank > Severity.MEDIUM.rank}
        assert above <= {"AZ-004"}, name
        if above:
            assert any(p.get("dataActions") for p in role["permissions"]), name


def test_privileged_roles_are_never_below_high_at_subscription(reports):
    """Microsoft's own "privileged" list, except Reservations Administrator (billing reservations: no
    Azure RBAC or resource control), is reported high or above."""
    verdicts = _verdicts(reports[True])
    for role in PRIVILEGED - {"Reservations Administrator"}:
        assert max(sev.rank for _, sev in verdicts[(role, "subscription")]) >= Severity.HIGH.rank, role
