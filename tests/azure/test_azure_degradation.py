"""One item that cannot be understood never sinks the audit and never counts as clean: the identities
depending on it are partly checked (a `Gap` naming the file and the item's path) or unchecked, the
rest is audited. Both the az CLI (flattened) and REST (`properties`) shapes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from azure_builder import SUB, Scenario

from kubeiam.pipeline.audit import audit, read_inventory
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import LinkStatus

APP = ("10000000-0000-4000-8000-000000000001", "20000000-0000-4000-8000-000000000001")
ADMIN = ("10000000-0000-4000-8000-000000000002", "20000000-0000-4000-8000-000000000002")
SHAPES = pytest.mark.parametrize("rest", [False, True], ids=["az-cli", "rest"])


def estate() -> Scenario:
    """Two workload identities: `app` (Reader on a resource group), `admin` (Owner on the subscription)."""
    s = Scenario()
    for name, (client, principal) in (("app", APP), ("admin", ADMIN)):
        s.sa("orders", name, client).identity(f"id-{name}", client, principal)
        s.fic(f"id-{name}", f"system:serviceaccount:orders:{name}")
    s.assign(APP[1], "Reader", s.scope("rg")).assign(ADMIN[1], "Owner", s.scope())
    return s.managed_cluster()


def write(tmp_path: Path, s: Scenario, rest: bool, file: str, change: Callable[[Any], Any]) -> Path:
    root = s.write(tmp_path / ("rest" if rest else "cli"), rest=rest)
    path = root / "azure" / SUB / file
    doc = json.loads(path.read_text())
    path.write_text(json.dumps(change(doc)))
    return root


def links(inv) -> dict[str, Any]:
    return {lk.service_account: lk for lk in inv.links if lk.cloud == "azure"}


def props(item: dict, rest: bool) -> dict:
    """Where a field lives in one item of either shape."""
    return item["properties"] if rest else item


def admin_still_audited(report) -> None:
    assert any(f.rule_id == "AZ-001" and f.service_account == "admin" for f in report.findings)


# --- role-assignments.json -------------------------------------------------------------------


@SHAPES
def test_an_unreadable_assignment_leaves_only_its_principal_partly_checked(tmp_path, providers, rest):
    def change(doc):
        props(doc[0], rest)["roleDefinitionId"] = 7  # the app's assignment (sorted first by the builder)
        return doc

    root = write(tmp_path, estate(), rest, "role-assignments.json", change)
    inv = read_inventory(Evidence(root), providers)
    app, admin = links(inv)["app"], links(inv)["admin"]
    assert app.status is LinkStatus.RESOLVED and admin.identity.gaps == ()
    (gap,) = app.identity.gaps
    assert gap.location == f"azure/{SUB}/role-assignments.json"
    assert gap.item == "[0].roleDefinitionId" and "found a number" in gap.reason
    report = audit(Evidence(root), providers=providers)
    admin_still_audited(report)
    (entry,) = [u for u in report.coverage["unchecked"] if u["service_account"] == "app"]
    assert entry["reason"].startswith("partly checked: azure/") and entry["items"][0]["item"] == "[0].roleDefinitionId"


@SHAPES
@pytest.mark.parametrize("bad", ["not an object", {"id": "/x", "scope": "/", "roleDefinitionId": "/r/x"}])
def test_an_assignment_of_no_readable_principal_may_be_anyones(tmp_path, providers, rest, bad):
    root = write(tmp_path, estate(), rest, "role-assignments.json", lambda doc: [*doc, bad])
    inv = read_inventory(Evidence(root), providers)
    for link in links(inv).values():
        assert [g.item for g in link.identity.gaps] == ["[2]" if isinstance(bad, str) else "[2].principalId"]
    admin_still_audited(audit(Evidence(root), providers=providers))


# --- role-definitions.json -------------------------------------------------------------------


def custom_estate() -> Scenario:
    s = estate()
    s.custom_role("Ops", ["Microsoft.Compute/*"], data_actions=["Microsoft.Storage/*"])
    return s.assign(APP[1], "Ops", s.scope())


@SHAPES
def test_an_unreadable_field_of_a_role_keeps_the_rest_of_the_role(tmp_path, providers, rest):
    def change(doc):
        props(doc[0], rest)["permissions"][0]["actions"] = "Microsoft.Compute/*"  # a string, not a list
        return doc

    root = write(tmp_path, custom_estate(), rest, "role-definitions.json", change)
    app = links(read_inventory(Evidence(root), providers))["app"]
    (gap,) = app.identity.gaps
    # The item path names the permission in either shape (REST's `properties` is read as one object).
    assert gap.item == "[0].permissions[0].actions" and "found a string" in gap.reason
    ops = next(g for g in app.identity.grants if g.role == "Ops")
    assert [s.sid for s in ops.statements] == ["dataActions"]  # the readable half is still judged


@SHAPES
def test_an_unreadable_role_definition_is_a_gap_of_who_is_assigned_it(tmp_path, providers, rest):
    def change(doc):
        props(doc[0], rest)["permissions"] = {"actions": ["*"]}
        return doc

    root = write(tmp_path, custom_estate(), rest, "role-definitions.json", change)
    inv = read_inventory(Evidence(root), providers)
    app, admin = links(inv)["app"], links(inv)["admin"]
    reasons = [g.reason for g in app.identity.gaps]
    assert any("must be a list, found an object" in r for r in reasons)
    assert any("not found" in r for r in reasons)  # and the assignment's role is unknown
    assert admin.identity.gaps == ()


def test_a_role_without_a_readable_id_is_named_when_a_role_is_not_found(tmp_path, providers):
    def change(doc):
        del doc[0]["name"]
        return doc

    root = write(tmp_path, custom_estate(), False, "role-definitions.json", change)
    app = links(read_inventory(Evidence(root), providers))["app"]
    (gap,) = app.identity.gaps
    assert "not found" in gap.reason and "[0].name: missing field" in gap.reason


# --- identities.json -------------------------------------------------------------------------


@SHAPES
def test_an_unreadable_identity_leaves_its_service_accounts_unchecked(tmp_path, providers, rest):
    def change(doc):
        props(doc[1], rest)["principalId"] = ["not", "a", "string"]  # id-app (sorted after id-admin)
        return doc

    s = estate()
    s.identities.sort(key=lambda i: i["name"])
    root = write(tmp_path, s, rest, "identities.json", change)
    by_sa = links(read_inventory(Evidence(root), providers))
    assert by_sa["app"].status is LinkStatus.UNCHECKED
    assert f"azure/{SUB}/identities.json: [1].principalId: must be a non-empty string" in by_sa["app"].reason
    assert by_sa["app"].principal == s.mi_id("id-app").lower()
    assert by_sa["admin"].status is LinkStatus.RESOLVED


def test_an_identity_without_a_readable_client_id_makes_unknown_client_ids_unchecked(tmp_path, providers):
    s = estate().sa("orders", "stranger", "30000000-0000-4000-8000-000000000003")
    root = write(tmp_path, s, False, "identities.json", lambda doc: [*doc, {"id": "/x", "clientId": 3}])
    by_sa = links(read_inventory(Evidence(root), providers))
    assert by_sa["stranger"].status is LinkStatus.UNCHECKED
    assert "identities.json is incomplete" in by_sa["stranger"].reason and "[2].clientId" in by_sa["stranger"].reason
    assert by_sa["app"].status is by_sa["admin"].status is LinkStatus.RESOLVED


def test_an_unreadable_tenant_is_a_gap_not_a_match(tmp_path, providers):
    def change(doc):
        for item in doc:
            item["tenantId"] = {"id": "t"}
        return doc

    s = estate()
    s.sa("orders", "tenanted", APP[0], tenant="99990000-0000-4000-8000-000000000000")
    root = write(tmp_path, s, False, "identities.json", change)
    by_sa = links(read_inventory(Evidence(root), providers))
    (gap,) = by_sa["tenanted"].identity.gaps
    assert gap.item.endswith("].tenantId") and "found an object" in gap.reason
    assert by_sa["app"].identity.gaps == (gap,)  # the same identity: every ServiceAccount taking it


# --- federated-credentials.json --------------------------------------------------------------


@SHAPES
def test_an_unreadable_credential_entry_leaves_that_identity_unchecked(tmp_path, providers, rest):
    s = estate()

    def change(doc):
        doc[s.mi_id("id-app")] = {"issuer": "not a list"}
        return doc

    root = write(tmp_path, s, rest, "federated-credentials.json", change)
    by_sa = links(read_inventory(Evidence(root), providers))
    assert by_sa["app"].status is LinkStatus.UNCHECKED and "found an object" in by_sa["app"].reason
    assert by_sa["admin"].status is LinkStatus.RESOLVED


@SHAPES
def test_an_unreadable_credential_is_never_taken_as_no_credential(tmp_path, providers, rest):
    s = estate()

    def change(doc):
        props(doc[s.mi_id("id-app")][0], rest)["audiences"] = "api://AzureADTokenExchange"
        return doc

    root = write(tmp_path, s, rest, "federated-credentials.json", change)
    app = links(read_inventory(Evidence(root), providers))["app"]
    # The one credential that could have admitted it was not understood: unchecked, not "binding broken".
    assert app.status is LinkStatus.UNCHECKED and ".audiences: must be a list of strings" in app.reason


def test_an_unreadable_credential_beside_a_good_one_is_a_gap(tmp_path, providers):
    s = estate()
    s.fic("id-app", "system:serviceaccount:orders:other")

    def change(doc):
        doc[s.mi_id("id-app")][1]["subject"] = 12
        return doc

    root = write(tmp_path, s, False, "federated-credentials.json", change)
    app = links(read_inventory(Evidence(root), providers))["app"]
    assert app.status is LinkStatus.RESOLVED
    assert [g.item for g in app.identity.gaps] == [f"[{s.mi_id('id-app')!r}][1].subject"]


# --- aks ---------------------------------------------------------------------------------------


AKS = "aks/rg-test/aks-test.json"


@SHAPES
@pytest.mark.parametrize(
    ("field", "value", "rules"),
    [
        ("addonProfiles", ["not", "a", "map"], ()),
        ("identityProfile", ["kubeletidentity"], ("AZ-011",)),
        ("agentPoolProfiles", [{"count": 3}], ("AZ-011",)),
        ("agentPoolProfiles", "apps", ("AZ-011",)),
        ("networkProfile", "kubenet", ("AZ-011",)),
        ("oidcIssuerProfile", True, ("AZ-010",)),
    ],
)
def test_an_unreadable_cluster_setting_is_coverage_naming_the_cluster(tmp_path, providers, rest, field, value, rules):
    def change(doc):
        props(doc, rest)[field] = value
        return doc

    root = write(tmp_path, estate(), rest, AKS, change)
    report = audit(Evidence(root), providers=providers)
    (error,) = [e for e in report.coverage["errors"] if e["location"].endswith(AKS)]
    assert error["subject"] == "aks-test" and error["reason"].startswith(field)
    assert tuple(error.get("rules", ())) == rules
    admin_still_audited(report)


def test_every_bad_item_at_once_is_exit_3_under_strict_never_2(tmp_path, run_cli):
    """Through the CLI: the audit runs, names what it could not read, and --strict fails on it."""
    s = Scenario()
    for name, (client, principal) in (("app", APP), ("admin", ADMIN)):
        s.sa("orders", name, client).identity(f"id-{name}", client, principal)
        s.fic(f"id-{name}", f"system:serviceaccount:orders:{name}")
    s.custom_role("Ops", ["Microsoft.Compute/*"], data_actions=["Microsoft.Storage/*"])
    s.assign(APP[1], "Ops", s.scope("rg")).assign(ADMIN[1], "Reader", s.scope())
    root = s.managed_cluster().write(tmp_path)
    az = root / "azure" / SUB
    for file, change in (
        ("role-assignments.json", lambda d: [*d, "junk"]),
        ("role-definitions.json", lambda d: [{**d[0], "permissions": [{**d[0]["permissions"][0], "actions": 5}]}]),
        ("identities.json", lambda d: [*d, {"clientId": []}]),
        ("federated-credentials.json", lambda d: {**d, s.mi_id("id-other"): [{"issuer": None}]}),
        (AKS, lambda d: {**d, "addonProfiles": [], "agentPoolProfiles": {"apps": 1}}),
    ):
        path = az / file
        path.write_text(json.dumps(change(json.loads(path.read_text()))))
    code, out, err = run_cli("audit", "--evidence", root, "--format", "json", "--quiet")
    assert code == 0, err  # nothing above medium: the gaps alone do not fail a default run...
    code, out, err = run_cli("audit", "--evidence", root, "--format", "json", "--strict", "--quiet")
    assert code == 3, err  # ...and do fail a strict one
    assert "internal error" not in err.lower() and "Traceback" not in err
    report = json.loads(out)
    # The readable half of the broken role is still judged: its wildcard data actions at resource group.
    assert any(f["rule_id"] == "AZ-004" and f["service_account"] == "app" for f in report["findings"])
    unchecked = {u["service_account"]: u for u in report["coverage"]["unchecked"]}
    assert {"app", "admin"} <= set(unchecked)
    assert any(e["location"].endswith(AKS) for e in report["coverage"]["errors"])
