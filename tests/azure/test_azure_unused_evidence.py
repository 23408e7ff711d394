"""Reading the Azure usage evidence (issue 14): the corpus samples exactly as printed, both shapes of each
file, what cannot be trusted whole, and absent is not empty (a coverage note naming the identity and
AZ-012, never "unused"). Also the helpers the other test_unused_* modules build evidence with."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from azure_builder import SUB, Scenario
from kubeiam_azure.evidence.usage import AZ_MAX_EVENTS, load_usage
from kubeiam_azure.view import AzureView

from kubeiam.errors import InputError
from kubeiam.pipeline.audit import audit, read_inventory
from kubeiam.pipeline.evidence import Evidence

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "azure" / "usage"
CLIENT, PRINCIPAL = "10000000-0000-4000-8000-000000000001", "20000000-0000-4000-8000-000000000001"
OTHER_CLIENT, OTHER = "10000000-0000-4000-8000-000000000002", "20000000-0000-4000-8000-000000000002"
OID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"


def event(action: str, scope: str, when: str, *, caller: str = PRINCIPAL, phase: str = "EndRequest") -> dict[str, Any]:
    """One Activity Log event as `az monitor activity-log list` prints it (the corpus sample's fields)."""
    return {
        "authorization": {"action": action, "scope": scope},
        "caller": caller,
        "category": {"localizedValue": "Administrative", "value": "Administrative"},
        "claims": {"appid": CLIENT, "idtyp": "app", OID_CLAIM: caller},
        "eventName": {"localizedValue": phase, "value": phase},
        "eventTimestamp": when,
        "operationName": {"localizedValue": action, "value": action},
        "resourceId": scope,
        "status": {"localizedValue": "Succeeded", "value": "Succeeded"},
        "subscriptionId": SUB,
    }


def sign_in(principal: str, resource: str, when: str, *, code: int = 0) -> dict[str, Any]:
    """One managed-identity sign-in as Graph (beta) returns it (the corpus sample's fields)."""
    return {
        "createdDateTime": when,
        "servicePrincipalId": principal,
        "resourceDisplayName": resource,
        "signInEventTypes": ["managedIdentity"],
        "status": {"errorCode": code, "failureReason": None},
    }


def bound(role: str = "Owner", scope: str = "subscription") -> Scenario:
    """orders/app -> id-app (federated), `role` at `scope`."""
    s = Scenario().sa("orders", "app", CLIENT).identity("id-app", CLIENT, PRINCIPAL)
    s.fic("id-app", "system:serviceaccount:orders:app").managed_cluster()
    return s.assign(PRINCIPAL, role, s.scope(scope))


def write(
    s: Scenario, root: Path, activity: Any = None, sign_ins: Any = None, *, rest: bool = False, sub: str = SUB
) -> Path:
    s.write(root, rest=rest)
    if activity is not None:
        (root / "azure" / sub).mkdir(parents=True, exist_ok=True)
        (root / "azure" / sub / "activity-log.json").write_text(json.dumps(activity))
    if sign_ins is not None:
        (root / "azure" / sub / "managed-identity-sign-ins.json").write_text(json.dumps(sign_ins))
    return root


def unused(root: Path, providers: Any) -> list:
    return [f for f in audit(Evidence(root), providers=providers).findings if f.rule_id == "AZ-012"]


def usage_notes(inv: Any) -> list:
    return [e for e in inv.errors if e.source == "azure" and e.rules == ("AZ-012",)]


def _corpus(name: str) -> Any:
    return json.loads((CORPUS / name).read_text())["output"]


# -- the corpus samples, exactly as printed -------------------------------------------------------------


def test_the_corpus_activity_log_sample_reads_as_printed(tmp_path: Path) -> None:
    sample = _corpus("activity-log-list.schema-built.json")
    caller = sample[0]["caller"]
    root = write(Scenario(), tmp_path, {caller: sample})
    usage = load_usage(Evidence(root))
    assert usage is not None and usage.read == {SUB.lower()}
    (op,) = usage.operations[(SUB.lower(), caller)]
    assert op.action == "Microsoft.Compute/virtualMachines/runCommand/action"
    assert op.scope == sample[0]["authorization"]["scope"].lower()
    assert op.last == datetime(2026, 1, 9, 8, 15, tzinfo=UTC)  # seven fraction digits, as ARM prints them
    assert usage.end == op.last and not usage.unreadable


def test_the_corpus_activity_log_as_a_whole_subscription_listing_groups_by_caller(tmp_path: Path) -> None:
    sample = _corpus("activity-log-list.schema-built.json")
    usage = load_usage(Evidence(write(Scenario(), tmp_path, sample)))
    assert usage is not None and usage.whole == {SUB.lower()}
    assert list(usage.operations) == [(SUB.lower(), "11111111-2222-3333-4444-555555555555")]


def test_the_corpus_sign_in_sample_reads_as_printed(tmp_path: Path) -> None:
    sample = _corpus("graph-signins-managed-identity.schema-built.json")
    usage = load_usage(Evidence(write(Scenario(), tmp_path, sign_ins=sample)))
    assert usage is not None and usage.sign_ins_whole and usage.sign_ins_read
    signed = usage.sign_ins["11111111-2222-3333-4444-555555555555"]
    assert signed.last == datetime(2026, 1, 9, 8, 15, tzinfo=UTC)
    assert signed.resources == ("Azure Key Vault",) and signed.complete


# -- shapes and what cannot be trusted whole --------------------------------------------------------------


def test_rest_pages_and_az_lists_read_the_same(tmp_path: Path) -> None:
    events = [
        event(
            "Microsoft.Resources/deployments/write", f"/subscriptions/{SUB}/resourceGroups/rg", "2026-11-01T00:00:00Z"
        )
    ]
    cli = load_usage(Evidence(write(Scenario(), tmp_path / "cli", {PRINCIPAL: events})))
    rest = load_usage(Evidence(write(Scenario(), tmp_path / "rest", {PRINCIPAL: {"value": events}})))
    assert cli is not None and rest is not None and cli.operations == rest.operations


def test_a_page_of_several_leaves_its_principal_unjudged(tmp_path: Path) -> None:
    page = {"value": [], "nextLink": "https://management.azure.com/...&$skiptoken=2"}
    usage = load_usage(Evidence(write(Scenario(), tmp_path, {PRINCIPAL: page})))
    assert usage is not None and "nextLink" in usage.unreadable[(SUB.lower(), PRINCIPAL)]


def test_exactly_the_az_default_max_events_is_taken_as_cut(tmp_path: Path) -> None:
    scope = f"/subscriptions/{SUB}/resourceGroups/rg"
    events = [event("Microsoft.Web/sites/write", scope, "2026-11-01T00:00:00Z")] * AZ_MAX_EVENTS
    usage = load_usage(Evidence(write(Scenario(), tmp_path, {PRINCIPAL: events})))
    assert usage is not None and "--max-events" in usage.unreadable[(SUB.lower(), PRINCIPAL)]
    fewer = load_usage(Evidence(write(Scenario(), tmp_path / "fewer", {PRINCIPAL: events[:-1]})))
    assert fewer is not None and not fewer.unreadable


def test_an_event_whose_operation_is_unknown_is_not_dropped_silently(tmp_path: Path) -> None:
    bad = {"caller": PRINCIPAL, "eventTimestamp": "2026-11-01T00:00:00Z"}
    usage = load_usage(Evidence(write(Scenario(), tmp_path, {PRINCIPAL: [bad], OTHER: ["not an event"]})))
    assert usage is not None
    assert "authorization.action" in usage.unreadable[(SUB.lower(), PRINCIPAL)]
    assert "must be an object" in usage.unreadable[(SUB.lower(), OTHER)]


def test_an_unreadable_time_counts_as_recent(tmp_path: Path) -> None:
    scope = f"/subscriptions/{SUB}/resourceGroups/rg"
    usage = load_usage(
        Evidence(write(Scenario(), tmp_path, {PRINCIPAL: [event("Microsoft.Web/sites/write", scope, "yesterday")]}))
    )
    assert usage is not None
    (op,) = usage.operations[(SUB.lower(), PRINCIPAL)]
    assert op.last is None  # judge.usage counts it inside any window: unknown is not "long ago"


@pytest.mark.parametrize("doc", ["a string", 42, True])
def test_a_file_that_is_not_the_commands_output_is_exit_2_naming_it(tmp_path: Path, doc: Any) -> None:
    root = write(Scenario(), tmp_path, doc)
    with pytest.raises(InputError, match=rf"azure/{SUB}/activity-log.json: expected"):
        load_usage(Evidence(root))


def test_sign_ins_that_failed_are_not_a_use(tmp_path: Path) -> None:
    page = {"value": [sign_in(PRINCIPAL, "Azure Storage", "2026-11-30T00:00:00Z", code=50012)]}
    usage = load_usage(Evidence(write(Scenario(), tmp_path, sign_ins={PRINCIPAL: page})))
    assert usage is not None and usage.sign_ins[PRINCIPAL].last is None


def test_no_usage_file_at_all_is_none(tmp_path: Path) -> None:
    assert load_usage(Evidence(write(Scenario(), tmp_path))) is None


# -- absent is not empty ------------------------------------------------------------------------------------


def test_no_usage_data_at_all_is_one_coverage_note_never_unused(tmp_path: Path, providers: Any) -> None:
    root = write(bound(), tmp_path)
    inv = read_inventory(Evidence(root), providers)
    (note,) = usage_notes(inv)
    assert note.subject is None and "no usage data" in note.reason
    assert unused(root, providers) == []


def test_an_identity_missing_from_the_log_is_a_note_naming_it(tmp_path: Path, providers: Any) -> None:
    s = bound().sa("orders", "other", OTHER_CLIENT).identity("id-other", OTHER_CLIENT, OTHER)
    s.fic("id-other", "system:serviceaccount:orders:other").assign(OTHER, "Contributor", s.scope("rg"))
    root = write(s, tmp_path, {OTHER: []})
    inv = read_inventory(Evidence(root), providers)
    (note,) = usage_notes(inv)
    assert note.subject == s.mi_id("id-app").lower() and "no entry for id-app" in note.reason
    assert note.location == f"azure/{SUB}/activity-log.json"
    # The identity asked about, with nothing done in 90 days, is judged; the other is not called unused.
    assert {f.service_account for f in unused(root, providers)} == {"other"}


def test_a_subscription_whose_log_is_absent_is_a_note_for_the_identities_holding_roles_there(
    tmp_path: Path, providers: Any
) -> None:
    other_sub = "99999999-0000-4000-8000-000000000099"
    s = bound()
    s.assign(PRINCIPAL, "Contributor", f"/subscriptions/{other_sub}/resourceGroups/rg-far")
    root = write(s, tmp_path, {PRINCIPAL: []})
    inv = read_inventory(Evidence(root), providers)
    (note,) = usage_notes(inv)
    assert note.location == f"azure/{other_sub}/activity-log.json" and "not in the evidence" in note.reason
    view = inv.views["azure"]
    assert isinstance(view, AzureView) and view.usage is not None


def test_a_cut_log_is_a_note_and_no_finding(tmp_path: Path, providers: Any) -> None:
    root = write(bound(), tmp_path, {PRINCIPAL: {"value": [], "nextLink": "https://management.azure.com/next"}})
    inv = read_inventory(Evidence(root), providers)
    (note,) = usage_notes(inv)
    assert "not whole" in note.reason and note.subject == bound().mi_id("id-app").lower()
    assert unused(root, providers) == []


def test_a_whole_subscription_listing_covers_every_caller(tmp_path: Path, providers: Any) -> None:
    scope = f"/subscriptions/{SUB}/resourceGroups/rg-test"
    root = write(bound(), tmp_path, [event("Microsoft.Web/sites/write", scope, "2026-11-01T00:00:00Z", caller=OTHER)])
    inv = read_inventory(Evidence(root), providers)
    assert usage_notes(inv) == []
    (finding,) = unused(root, providers)
    assert finding.evidence["usage"]["used"] == 0


@pytest.mark.parametrize("remove", [("activity-log.json",), ("activity-log.json", "managed-identity-sign-ins.json")])
def test_removing_the_demos_usage_files_resolves_nothing(tmp_path: Path, remove: tuple[str, ...]) -> None:
    """A previous AZ-012 finding whose usage data is gone is not_rechecked, never resolved."""
    from kubeiam import cli
    from kubeiam.pipeline.audit import demo_dir

    demo_sub = "8f3c2d1e-4b5a-4c6d-9e8f-0a1b2c3d4e5f"
    base, after = tmp_path / "base.json", tmp_path / "after.json"
    assert cli.main(["audit", "--evidence", str(demo_dir()), "-f", "json", "-o", str(base), "-q"]) in (0, 1)
    assert "AZ-012" in {f["rule_id"] for f in json.loads(base.read_text())["findings"]}
    copy = tmp_path / "demo"
    shutil.copytree(demo_dir(), copy)
    for name in remove:
        (copy / "azure" / demo_sub / name).unlink()
    code = cli.main(["audit", "--evidence", str(copy), "-f", "json", "-o", str(after), "-q", "--baseline", str(base)])
    assert code in (0, 1, 3)
    report = json.loads(after.read_text())
    assert "AZ-012" not in {f["rule_id"] for f in report["findings"]}
    assert "AZ-012" not in {r["rule_id"] for r in report.get("resolved", [])}
    assert "AZ-012" in {r["rule_id"] for r in report.get("not_rechecked", [])}
