"""AZ-012 end to end: what is called unused, what never is (reads, data actions, what the data cannot see),
the evidence keys the core renders, the severity of what the smaller role takes away, and the window."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from azure_builder import RG, SUB, Scenario
from test_azure_unused_evidence import CLIENT, OTHER, PRINCIPAL, bound, event, sign_in, unused, write

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.engine import AnalysisConfig
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.findings import Severity

RG_SCOPE = f"/subscriptions/{SUB}/resourceGroups/{RG}"
DEPLOY = "Microsoft.Resources/deployments/write"
SITES = "Microsoft.Web/sites/write"  # an escalation path too (a web app runs code as identities)
DNS = "Microsoft.Network/dnszones/A/write"
END = "2026-11-30T12:00:00Z"


def used(*actions: str, when: str = END, scope: str = RG_SCOPE) -> dict[str, list[dict[str, Any]]]:
    return {PRINCIPAL: [event(a, f"{scope}/providers/{a.rsplit('/', 1)[0]}/x", when) for a in actions]}


def test_owner_used_for_deployments_is_high_and_its_right_sized_role_drops_admin(tmp_path: Path, providers) -> None:
    root = write(bound("Owner"), tmp_path, used(DEPLOY, SITES))
    (f,) = unused(root, providers)
    assert f.severity is Severity.HIGH and f.category.value == "unused-access"
    assert "uses 2 of" in f.title and f.title.endswith(f"drops admin (Owner on subscription {SUB})")
    usage = f.evidence["usage"]
    assert usage["unit"] == "operations" and usage["used"] == 2 and usage["granted"] > 1000
    assert usage["window_days"] == 90 and usage["last_used"] == END.replace(".000", "")
    assert usage["source"] == f"Azure Activity Log (azure/{SUB}/activity-log.json)"
    assert any("never reads" in limit for limit in usage["limits"])
    assert any("data actions, and the actions their data plane uses, are kept" in limit for limit in usage["limits"])
    sized = f.evidence["right_sized"]
    assert sized["format"] == "azure-role-definition"
    doc = sized["document"]
    assert set(doc) == {"Name", "IsCustom", "Description", "Actions", "NotActions", "DataActions", "NotDataActions",
                        "AssignableScopes"}  # fmt: skip
    assert set(doc["Actions"]) == {"*/read", DEPLOY, SITES} and doc["AssignableScopes"] == [f"/subscriptions/{SUB}"]
    assert sized["drops"][0].startswith("admin: Owner")
    assert any("Microsoft.Authorization/roleAssignments/write" in d for d in sized["drops"])
    assert sized["replaces"] == [
        {"role_assignment": f.evidence["right_sized"]["replaces"][0]["role_assignment"], "role": "Owner",
         "scope": f"/subscriptions/{SUB}", "condition": None}
    ]  # fmt: skip
    assert sized["replaces"][0]["role_assignment"].endswith(
        "/providers/microsoft.authorization/roleassignments/" + "e" * 8 + "-0000-4000-8000-000000000001"
    )
    assert json.loads(json.dumps(f.evidence)) == f.evidence  # plain JSON, as the report writes it


def test_never_used_says_so_when_the_sign_ins_agree(tmp_path: Path, providers) -> None:
    root = write(bound("Contributor", "rg"), tmp_path, {PRINCIPAL: []}, {PRINCIPAL: {"value": []}})
    (f,) = unused(root, providers)
    assert "no control-plane write in 90 days, no sign-in in the sign-in log" in f.title
    assert f.evidence["sign_ins"] == {"last": None, "apis": [], "complete": True}
    assert f.evidence["usage"]["last_used"] is None
    assert f.evidence["right_sized"]["document"]["Actions"] == ["*/read"]


def test_sign_ins_show_use_the_activity_log_cannot(tmp_path: Path, providers) -> None:
    signed = {PRINCIPAL: {"value": [sign_in(PRINCIPAL, "Azure Key Vault", END)]}}
    root = write(bound("Contributor", "rg"), tmp_path, {PRINCIPAL: []}, signed)
    (f,) = unused(root, providers)
    assert "no sign-in" not in f.title and f.evidence["usage"]["last_used"] == END
    assert f.evidence["sign_ins"]["apis"] == ["Azure Key Vault"]
    assert "Microsoft Graph managed-identity sign-ins" in f.evidence["usage"]["source"]


def test_what_was_used_leaves_nothing_to_drop(tmp_path: Path, providers) -> None:
    s = bound("Reader", "rg").custom_role("Record Writer", [DNS, "Microsoft.Network/dnszones/read"])
    s.assign(PRINCIPAL, "Record Writer", s.scope("rg"))
    assert unused(write(s, tmp_path, used(DNS)), providers) == []
    (f,) = unused(write(s, tmp_path / "unused", {PRINCIPAL: []}), providers)
    assert f.severity is Severity.LOW and f.evidence["right_sized"]["removed_actions"] == [DNS]


def test_reads_and_data_actions_are_never_called_unused(tmp_path: Path, providers) -> None:
    for i, (role, scope) in enumerate(
        [("Reader", "subscription"), ("Storage Blob Data Owner", "container"), ("Key Vault Secrets User", "vault")]
    ):
        assert unused(write(bound(role, scope), tmp_path / str(i), {PRINCIPAL: []}), providers) == [], role


def test_a_grant_above_a_subscription_is_not_judged(tmp_path: Path, providers) -> None:
    root = write(bound("Owner", "mg"), tmp_path, {PRINCIPAL: []})
    assert unused(root, providers) == []
    both = bound("Owner", "mg").assign(PRINCIPAL, "Contributor", Scenario().scope("rg"))
    (f,) = unused(write(both, tmp_path / "both", {PRINCIPAL: []}), providers)
    assert any("management group" in x and "kept as granted" in x for x in f.evidence["usage"]["limits"])
    assert f.evidence["right_sized"]["replaces"][0]["role"] == "Contributor"


def test_an_assignment_younger_than_the_window_is_not_judged(tmp_path: Path, providers) -> None:
    s = bound("Contributor", "rg")
    s.assignments[0]["createdOn"] = "2026-11-01T00:00:00.000000+00:00"  # 29 days before the data ends
    root = write(s, tmp_path, used(when=END) | {PRINCIPAL: [event(SITES, RG_SCOPE, END)]})
    assert unused(root, providers) == []
    older = write(bound("Contributor", "rg"), tmp_path / "older", {PRINCIPAL: [event(SITES, RG_SCOPE, END)]})
    assert len(unused(older, providers)) == 1


def test_conditioned_permissions_are_kept_as_granted(tmp_path: Path, providers) -> None:
    s = bound("Reader", "rg").custom_role("Delegator", [DNS], condition="@Request[x] StringEquals 'y'")
    s.assign(PRINCIPAL, "Delegator", s.scope("rg"))
    assert unused(write(s, tmp_path, {PRINCIPAL: []}), providers) == []
    # The same role without the condition is judged.
    s.roles[0]["permissions"][0]["condition"] = None
    assert len(unused(write(s, tmp_path / "plain", {PRINCIPAL: []}), providers)) == 1


def test_the_window_ends_with_the_data_never_with_the_audit_clock(tmp_path: Path, providers) -> None:
    root = write(bound("Owner"), tmp_path, used(DEPLOY, when="2026-10-01T00:00:00Z") | {})
    (root / "azure" / SUB / "activity-log.json").write_text(
        json.dumps({PRINCIPAL: [event(DEPLOY, RG_SCOPE, "2026-10-01T00:00:00Z"), event(SITES, RG_SCOPE, END)]})
    )

    def run(now: datetime, days: int = 90) -> Any:
        report = audit(Evidence(root), providers=providers, now=now, config=AnalysisConfig(usage_window_days=days))
        (f,) = [f for f in report.findings if f.rule_id == "AZ-012"]
        return f

    soon, years_later = run(datetime(2026, 12, 1, tzinfo=UTC)), run(datetime(2031, 1, 1, tzinfo=UTC))
    assert soon.evidence == years_later.evidence and soon.fingerprint == years_later.fingerprint
    assert soon.evidence["usage"]["used"] == 2
    # 30 days: the deployment of 2026-10-01 is 60 days before the newest record, outside the window.
    short = run(datetime(2026, 12, 1, tzinfo=UTC), 30)
    assert short.evidence["usage"]["used"] == 1 and short.evidence["usage"]["window_days"] == 30
    assert DEPLOY not in short.evidence["right_sized"]["document"]["Actions"]
    long = run(datetime(2026, 12, 1, tzinfo=UTC), 365)
    assert long.evidence["usage"]["window_days"] == 90
    assert any("usage_window_days is 365" in x for x in long.evidence["usage"]["limits"])


def test_an_operation_outside_the_assignments_scope_is_not_its_use(tmp_path: Path, providers) -> None:
    s = bound("Contributor", "rg")
    elsewhere = f"/subscriptions/{SUB}/resourceGroups/rg-other/providers/Microsoft.Web/sites/a"
    (f,) = unused(write(s, tmp_path, {PRINCIPAL: [event(SITES, elsewhere, END)]}), providers)
    assert f.evidence["usage"]["used"] == 0 and SITES not in f.evidence["right_sized"]["document"]["Actions"]


def test_severity_follows_what_the_smaller_role_takes_away(tmp_path: Path, providers) -> None:
    def severity(role: str, scope: str, actions: list[str] | None = None) -> Severity:
        s = bound("Reader", "rg")
        if actions:
            s.custom_role(role, actions)
        s.assign(PRINCIPAL, role, s.scope(scope))
        (f,) = unused(write(s, tmp_path / f"{role}-{scope}", {PRINCIPAL: []}), providers)
        return f.severity

    assert severity("User Access Administrator", "rg") is Severity.HIGH  # escalation path
    assert severity("Key Lister", "rg", ["Microsoft.Storage/storageAccounts/listKeys/action"]) is Severity.MEDIUM
    assert severity("Site Writer", "rg", [SITES]) is Severity.HIGH  # a web app can run as other identities
    assert severity("Record Writer", "rg", [DNS]) is Severity.LOW
    assert severity("Record Writer", "subscription", [DNS]) is Severity.MEDIUM


def test_two_roles_give_two_right_sized_roles_the_worst_first(tmp_path: Path, providers) -> None:
    s = bound("Owner").assign(PRINCIPAL, "Contributor", Scenario().scope("rg"))
    (f,) = unused(write(s, tmp_path, used(SITES)), providers)
    sized = f.evidence["right_sized"]
    assert sized["replaces"][0]["role"] == "Owner" and sized["also"][0]["replaces"][0]["role"] == "Contributor"
    assert SITES in sized["also"][0]["document"]["Actions"] and SITES in sized["document"]["Actions"]


def test_one_finding_per_service_account_and_order_changes_nothing(tmp_path: Path, providers) -> None:
    s = bound("Owner").sa("orders", "batch", CLIENT).fic("id-app", "system:serviceaccount:orders:batch")
    events = used(DEPLOY, SITES, "Microsoft.Web/sites/config/write")[PRINCIPAL]
    first = unused(write(s, tmp_path / "a", {PRINCIPAL: events, OTHER: []}), providers)
    shuffled = events[::-1]
    random.Random(1).shuffle(shuffled)
    second = unused(write(s, tmp_path / "b", {OTHER: [], PRINCIPAL: shuffled}), providers)
    assert {f.service_account for f in first} == {"app", "batch"}
    assert {f.fingerprint for f in first} == {f.fingerprint for f in second}
    assert [f.evidence for f in first] == [f.evidence for f in second]


def test_check_reports_what_audit_reports(tmp_path: Path, providers) -> None:
    root = write(bound("Owner").sa("orders", "other", None), tmp_path, used(DEPLOY))
    whole = [f for f in audit(Evidence(root), providers=providers).findings if f.rule_id == "AZ-012"]
    one = [
        f
        for f in audit(Evidence(root), providers=providers, namespace="orders", service_account="app").findings
        if f.rule_id == "AZ-012"
    ]
    assert [f.to_dict() for f in one] == [f.to_dict() for f in whole]
