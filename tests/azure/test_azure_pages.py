"""A REST listing holding one page of several (`{"value": [...], "nextLink": ...}`, what `az rest` prints)
is never taken for the whole listing: what may be on the missing pages is unchecked, and the coverage
entry names the missing pages (the nextLink)."""

from __future__ import annotations

import json
from pathlib import Path

from azure_builder import SUB, Scenario, coverage_entries

from kubeiam.pipeline.audit import audit, read_inventory
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import LinkStatus

APP = ("10000000-0000-4000-8000-000000000001", "20000000-0000-4000-8000-000000000001")
ADMIN = ("10000000-0000-4000-8000-000000000002", "20000000-0000-4000-8000-000000000002")
KUBELET = ("30000000-0000-4000-8000-000000000003", "40000000-0000-4000-8000-000000000003")
NEXT = (
    f"https://management.azure.com/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments"
    "?api-version=2022-04-01&$skiptoken=eyJuZXh0IjoyfQ"
)


def estate() -> Scenario:
    s = Scenario()
    for name, (client, principal) in (("app", APP), ("admin", ADMIN)):
        s.sa("orders", name, client).identity(f"id-{name}", client, principal)
        s.fic(f"id-{name}", f"system:serviceaccount:orders:{name}")
    s.assign(APP[1], "Reader", s.scope("rg")).assign(ADMIN[1], "Owner", s.scope())
    return s.managed_cluster(kubelet=KUBELET).assign(KUBELET[1], "Contributor", s.scope("rg"))


def first_page(root: Path, file: str, keep: int, key: str | None = None) -> None:
    """Cut a listing to its first `keep` items, as one REST page with a nextLink."""
    path = root / "azure" / SUB / file
    doc = json.loads(path.read_text())
    if key is None:
        doc = {"value": doc[:keep], "nextLink": NEXT}
    else:
        doc[key] = {"value": doc[key][:keep], "nextLink": NEXT}
    path.write_text(json.dumps(doc))


def by_sa(inv) -> dict:
    return {lk.service_account: lk for lk in inv.links if lk.cloud == "azure"}


def test_a_first_page_of_role_assignments_leaves_every_identity_partly_checked(tmp_path, providers):
    root = estate().write(tmp_path)
    first_page(root, "role-assignments.json", keep=1)  # the app's Reader; the admin's Owner is on page 2
    report = audit(Evidence(root), providers=providers)
    assert not [f for f in report.findings if f.rule_id == "AZ-001"]  # not seen: so never called clean
    unchecked = {u["service_account"]: u for u in report.coverage["unchecked"]}
    for sa in ("app", "admin"):
        (item,) = unchecked[sa]["items"]
        assert item["location"] == f"azure/{SUB}/role-assignments.json" and item["item"] == "nextLink"
        assert "first page only" in item["reason"] and "$skiptoken=eyJuZXh0IjoyfQ" in item["reason"]
    (kubelet,) = [e for e in report.coverage["errors"] if e["subject"] == "aks-test" and "kubelet" in e["reason"]]
    assert kubelet["rules"] == ["AZ-011"] and "nextLink" in kubelet["reason"]


def test_the_last_page_is_the_whole_listing(tmp_path, providers):
    root = estate().write(tmp_path)
    path = root / "azure" / SUB / "role-assignments.json"
    path.write_text(json.dumps({"value": json.loads(path.read_text()), "nextLink": None}))
    report = audit(Evidence(root), providers=providers)
    assert report.coverage["unchecked"] == []
    assert coverage_entries(report.coverage) == estate().optional_notes()


def test_an_identity_on_a_missing_page_is_unchecked_not_an_app_registration(tmp_path, providers):
    s = estate()
    s.identities.sort(key=lambda i: i["name"])  # id-admin, id-app
    root = s.write(tmp_path)
    first_page(root, "identities.json", keep=1)
    links = by_sa(read_inventory(Evidence(root), providers))
    assert links["admin"].status is LinkStatus.RESOLVED
    assert links["app"].status is LinkStatus.UNCHECKED
    assert "identities.json is incomplete" in links["app"].reason and "nextLink" in links["app"].reason


def test_a_custom_role_on_a_missing_page_is_named(tmp_path, providers):
    s = estate()
    s.custom_role("First", ["Microsoft.Compute/virtualMachines/read"]).custom_role("Second", ["*"])
    s.assign(APP[1], "Second", s.scope())
    root = s.write(tmp_path)
    first_page(root, "role-definitions.json", keep=1)
    app = by_sa(read_inventory(Evidence(root), providers))["app"]
    (gap,) = app.identity.gaps
    assert "not found" in gap.reason and "first page only" in gap.reason


def test_federated_credentials_on_a_missing_page_are_never_no_credential(tmp_path, providers):
    s = estate()
    s.federated[s.mi_id("id-app")].insert(0, dict(s.federated[s.mi_id("id-admin")][0], name="other"))
    root = s.write(tmp_path)
    first_page(root, "federated-credentials.json", keep=1, key=s.mi_id("id-app"))
    app = by_sa(read_inventory(Evidence(root), providers))["app"]
    assert app.status is LinkStatus.UNCHECKED  # its own credential is on page 2: not "binding broken"
    assert "nextLink" in app.reason and "first page only" in app.reason
