"""The reader: resolution of client ids, federation checks, cluster matching, coverage."""

from __future__ import annotations

from dataclasses import replace

import pytest
from azure_builder import ISSUER, TENANT, Scenario
from kubeiam_azure.declarations import AZURE
from kubeiam_azure.evidence.reader import UNRESOLVED

from kubeiam.errors import InputError
from kubeiam.pipeline.audit import read_inventory
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import LinkStatus

CLIENT, PRINCIPAL = "10000000-0000-4000-8000-000000000001", "20000000-0000-4000-8000-000000000001"
KUBELET = ("30000000-0000-4000-8000-000000000003", "40000000-0000-4000-8000-000000000003")


def bound(**cluster: object) -> Scenario:
    s = Scenario().sa("orders", "app", CLIENT).identity("id-app", CLIENT, PRINCIPAL)
    return s.fic("id-app", "system:serviceaccount:orders:app").managed_cluster(**cluster)  # type: ignore[arg-type]


def azure_links(inv):
    return [lk for lk in inv.links if lk.cloud == AZURE]


@pytest.mark.parametrize("rest", [False, True], ids=["az-cli", "rest"])
def test_resolves_client_id_to_identity_with_grants(inventory_of, rest):
    s = bound()
    s.assign(PRINCIPAL, "Reader", s.scope("rg")).assign("99999999-0000-4000-8000-000000000000", "Owner", s.scope())
    inv = inventory_of(s, rest=rest)
    (link,) = azure_links(inv)
    assert link.status is LinkStatus.RESOLVED, link.reason
    assert link.principal == s.mi_id("id-app").lower()
    assert [(g.role, g.scope_level) for g in link.identity.grants] == [("Reader", "resource-group")]
    assert link.identity.grants[0].statements[0].actions == ("*/read",)


def test_cli_and_rest_shapes_give_the_same_inventory(inventory_of):
    def make() -> Scenario:
        s = bound(kubelet=KUBELET).identity("aks-test-agentpool", *KUBELET)
        s.custom_role("Queue Reader", ["Microsoft.ServiceBus/*/read"], data_actions=["Microsoft.ServiceBus/*"])
        s.assign(PRINCIPAL, "Queue Reader", s.scope("rg")).assign(KUBELET[1], "Contributor", s.scope("rg"))
        return s.fic("id-app", "system:serviceaccount:orders:other", issuer="https://other/")

    cli, rest = inventory_of(make()), inventory_of(make(), rest=True)
    assert azure_links(cli) == azure_links(rest)
    assert cli.clusters == rest.clusters
    assert cli.views["azure"].kubelet == rest.views["azure"].kubelet
    for part in ("roles", "identities", "federated", "aks"):
        assert getattr(cli.views["azure"], part) == getattr(rest.views["azure"], part), part

    # Only the CLI prints roleDefinitionName; the reader takes names from the definitions anyway.
    def unnamed(view):
        return {k: replace(a, role_name=None) for k, a in view.assignments.items()}

    assert unnamed(cli.views["azure"]) == unnamed(rest.views["azure"])


def test_unknown_client_id_is_unchecked_as_possible_app_registration(inventory_of):
    s = Scenario().sa("orders", "app", "abcdef00-0000-4000-8000-000000000000").identity("id-x", CLIENT, PRINCIPAL)
    (link,) = azure_links(inventory_of(s.managed_cluster()))
    assert link.status is LinkStatus.UNCHECKED
    assert link.reason == UNRESOLVED
    assert link.principal == "abcdef00-0000-4000-8000-000000000000"


def test_kubelet_client_id_is_known_not_an_app_registration(inventory_of):
    s = Scenario().sa("orders", "app", KUBELET[0]).managed_cluster(kubelet=KUBELET)
    s.assign(KUBELET[1], "AcrPull", s.scope("rg"))
    (link,) = azure_links(inventory_of(s))
    assert link.status is LinkStatus.UNCHECKED and "kubelet identity" in link.reason
    assert [g.role for g in link.identity.grants] == ["AcrPull"]


def test_no_azure_evidence_leaves_annotated_service_accounts_unchecked(tmp_path, providers):
    from kubeiam.pipeline.audit import read_inventory
    from kubeiam.pipeline.evidence import Evidence

    root = bound().write(tmp_path)
    import shutil

    shutil.rmtree(root / "azure")
    (link,) = azure_links(read_inventory(Evidence(root), providers))
    assert link.status is LinkStatus.UNCHECKED and "no Azure evidence" in link.reason


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"subject": "system:serviceaccount:orders:apps"}, "no credential has subject"),
        ({"issuer": ISSUER.rstrip("/")}, "trailing slash"),
        ({"issuer": "https://elsewhere.example/"}, "has issuer"),
        ({"audiences": ("api://other",)}, "lack 'api://AzureADTokenExchange'"),
    ],
)
def test_federated_credential_must_match_issuer_subject_audience(inventory_of, change, expected):
    s = Scenario().sa("orders", "app", CLIENT).identity("id-app", CLIENT, PRINCIPAL).managed_cluster()
    subject = change.pop("subject", "system:serviceaccount:orders:app")
    s.fic("id-app", subject, **change)
    (link,) = azure_links(inventory_of(s))
    assert link.status is LinkStatus.UNTRUSTED
    assert expected in link.reason


def test_tenant_annotation_must_match_identity_tenant(inventory_of):
    s = Scenario().sa("orders", "app", CLIENT, tenant="99990000-0000-4000-8000-000000000000")
    s.identity("id-app", CLIENT, PRINCIPAL).fic("id-app", "system:serviceaccount:orders:app").managed_cluster()
    (link,) = azure_links(inventory_of(s))
    assert link.status is LinkStatus.UNTRUSTED and TENANT in link.reason
    s2 = Scenario().sa("orders", "app", CLIENT, tenant=TENANT.upper())
    s2.identity("id-app", CLIENT, PRINCIPAL).fic("id-app", "system:serviceaccount:orders:app").managed_cluster()
    assert azure_links(inventory_of(s2))[0].status is LinkStatus.RESOLVED


def test_missing_federated_credentials_file_is_unchecked_not_broken(inventory_of):
    s = bound()
    s.write_federated = False
    (link,) = azure_links(inventory_of(s))
    assert link.status is LinkStatus.UNCHECKED and "not collected" in link.reason


def test_missing_role_assignments_is_a_coverage_error(inventory_of):
    s = bound()
    s.write_assignments = False
    inv = inventory_of(s)
    assert azure_links(inv)[0].status is LinkStatus.RESOLVED
    (error,) = [e for e in inv.errors if "role-assignments.json" in e.location]
    # Named by the identity (the findings' principal), limited to the rules assignments decide.
    assert error.subject == s.mi_id("id-app").lower()
    assert error.rules == ("AZ-001", "AZ-002", "AZ-003", "AZ-004", "AZ-005", "AZ-006", "AZ-012")


def test_unknown_custom_role_leaves_the_identity_partly_checked(inventory_of):
    s = bound()
    s.roles.append({"name": "c0ffee00-0000-4000-8000-000000000000", "roleName": "Gone", "permissions": []})
    s.assign(PRINCIPAL, "Gone", s.scope("rg"))
    s.roles.clear()
    (link,) = azure_links(inventory_of(s))
    assert link.status is LinkStatus.RESOLVED
    (gap,) = link.identity.gaps
    assert "c0ffee00-0000-4000-8000-000000000000 not found" in gap.reason
    assert gap.location.endswith("role-assignments.json") and gap.item.startswith("role assignment /subscriptions/")


def test_cluster_matched_by_issuer_gets_aks_resource_id(inventory_of):
    s = bound(name="a-different-name")
    (cluster,) = inventory_of(s).clusters
    assert cluster.name == "aks-test"
    assert cluster.stable_id == s.aks["id"].lower()
    assert cluster.cloud == AZURE


def test_cluster_matched_by_name_when_issuer_unknown(inventory_of):
    s = Scenario(issuer=None).sa("orders", "app", CLIENT).identity("id-app", CLIENT, PRINCIPAL)
    s.managed_cluster()
    s.aks["oidcIssuerProfile"] = {"enabled": True, "issuerUrl": ISSUER}
    s.fic("id-app", "system:serviceaccount:orders:app", issuer=ISSUER)
    inv = inventory_of(s)
    assert inv.clusters[0].stable_id == s.aks["id"].lower()
    assert inv.clusters[0].issuer == ISSUER  # taken from the AKS object
    assert azure_links(inv)[0].status is LinkStatus.RESOLVED


def test_unmatched_aks_cluster_leaves_cluster_alone(inventory_of):
    s = bound(name="other").managed_cluster(name="other")
    s.aks["oidcIssuerProfile"]["issuerUrl"] = "https://elsewhere/"
    assert inventory_of(s).views["azure"].aks == {}


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        ("identities.json", '{"nope": 1}', "identities.json: expected a JSON list (or a REST page with 'value')"),
        ("identities.json", '"text"', "found a string"),
        ("federated-credentials.json", "[]", "expected a JSON object"),
        ("role-assignments.json", "{bad", "not valid JSON"),
        ("role-definitions.json", "null", "holds null"),
    ],
)
def test_files_not_the_commands_shape_at_the_top_level_name_file_and_field(tmp_path, providers, file, content, message):
    """Exit 2 stays for what is not the command's output at all; items inside are degraded, not fatal."""
    root = bound().write(tmp_path)
    target = root / "azure" / Scenario().sub / file
    target.write_text(content)
    with pytest.raises(InputError) as err:
        read_inventory(Evidence(root), providers)
    assert f"azure/{Scenario().sub}/{file}" in str(err.value)
    assert message in str(err.value)


def test_aks_file_that_is_not_an_object_names_file(tmp_path, providers):
    root = bound().write(tmp_path)
    (root / "azure" / Scenario().sub / "aks" / "rg-test" / "aks-test.json").write_text("[]")
    with pytest.raises(InputError, match=r"aks/rg-test/aks-test\.json: expected a JSON object"):
        read_inventory(Evidence(root), providers)


@pytest.mark.parametrize(
    ("change", "field"),
    [({"id": None}, "id"), ({"id": 7}, "id"), ({"name": ["aks-test"]}, "name"), ({"id": "", "name": None}, "name")],
)
def test_aks_file_without_a_readable_id_or_name_is_read_under_its_path(inventory_of, change, field):
    """The path `aks/<resource group>/<name>.json` names the cluster too: the same stable id, and a
    coverage error naming the field and the rules the file decides."""
    s = bound()
    expected = s.aks["id"].lower()
    for key, value in change.items():
        if value is None:
            del s.aks[key]
        else:
            s.aks[key] = value
    inv = inventory_of(s)
    assert inv.clusters[0].stable_id == expected
    errors = [e for e in inv.errors if e.location.endswith("aks/rg-test/aks-test.json")]
    assert any(e.reason.startswith(field) and e.rules == ("AZ-010", "AZ-011") for e in errors), errors
    assert all(e.subject == "aks-test" for e in errors)


def test_reader_imports_no_azure_package():
    import subprocess
    import sys

    code = (
        "import sys, kubeiam_azure, kubeiam_azure.evidence.reader, kubeiam_azure.judge.catalogue;"
        "kubeiam_azure.judge.catalogue.load();"
        "bad = [m for m in sys.modules if m == 'azure' or m.startswith('azure.')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def test_same_name_but_different_issuers_is_not_a_match(inventory_of):
    s = bound()
    s.aks["oidcIssuerProfile"]["issuerUrl"] = "https://westeurope.oic.prod-aks.azure.com/other/"
    inv = inventory_of(s)
    assert inv.views["azure"].aks == {}
    # The stable id still comes from the nodes (fingerprints never depend on the AKS file).
    assert inv.clusters[0].stable_id == s.aks["id"].lower()


def test_identity_and_assignments_across_subscriptions(tmp_path, providers):
    """The identity lives in one subscription, its roles in another; inherited ones repeat in both."""
    import json

    from kubeiam.pipeline.audit import read_inventory
    from kubeiam.pipeline.evidence import Evidence

    s = bound()
    mg = s.scope("mg", "corp")
    s.assign(PRINCIPAL, "Reader", mg)
    root = s.write(tmp_path)
    other = Scenario(sub="0f0e0d0c-0b0a-4909-8807-060504030201")
    other.assign(PRINCIPAL, "Storage Blob Data Reader", other.scope("storage", "st2"))
    other.assignments.append(dict(s.assignments[0]))  # the management-group one, inherited here too
    az = root / "azure" / other.sub
    az.mkdir(parents=True)
    (az / "role-assignments.json").write_text(json.dumps({"value": other.assignments}))  # a REST page
    (link,) = azure_links(read_inventory(Evidence(root), providers))
    assert sorted((g.role, g.scope_level) for g in link.identity.grants) == [
        ("Reader", "management-group"),
        ("Storage Blob Data Reader", "resource"),
    ]


def test_scope_levels():
    from kubeiam_azure.judge.profile import scope_level

    assert scope_level("/") == "management-group"
    assert scope_level("/providers/Microsoft.Management/managementGroups/corp") == "management-group"
    assert scope_level("/subscriptions/s") == "subscription"
    assert scope_level("/subscriptions/s/resourceGroups/rg") == "resource-group"
    assert scope_level("/subscriptions/s/resourcegroups/rg/providers/Microsoft.Storage/storageAccounts/a") == "resource"


def test_full_role_definition_listing_overrides_the_catalogue(inventory_of):
    """`az role definition list` without --custom-role-only is accepted; its built-ins win (newer)."""
    s = bound()
    s.roles.append(
        {
            "name": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
            "roleName": "Reader",
            "roleType": "BuiltInRole",
            "permissions": [{"actions": ["*/read", "Microsoft.Example/new/action"]}],
        }
    )
    s.assign(PRINCIPAL, "Reader", s.scope("rg"))
    for rest in (False, True):
        (link,) = azure_links(inventory_of(s, rest=rest))
        assert link.identity.grants[0].statements[0].actions == ("*/read", "Microsoft.Example/new/action")


def test_a_cluster_of_another_cloud_is_never_matched_to_aks(tmp_path, providers):
    import json

    from kubeiam.pipeline.audit import read_inventory
    from kubeiam.pipeline.evidence import Evidence

    root = bound().write(tmp_path)
    res = root / "kubernetes" / "aks-test" / "resources.json"
    doc = json.loads(res.read_text())
    for item in doc["items"]:
        if item["kind"] == "Node":
            item["spec"]["providerID"] = "aws:///eu-west-1a/i-0abc"
    res.write_text(json.dumps(doc))
    (root / "kubernetes" / "aks-test" / "openid-configuration.json").unlink()
    (cluster,) = read_inventory(Evidence(root), providers).clusters
    assert cluster.stable_id is None or not cluster.stable_id.startswith("/subscriptions/")


def test_kubelet_without_role_assignments_is_a_coverage_error(inventory_of):
    s = bound(kubelet=KUBELET)
    s.write_assignments = False
    inv = inventory_of(s)
    (error,) = [e for e in inv.errors if "kubelet identity of aks-test" in e.reason]
    assert (error.subject, error.rules) == ("aks-test", ("AZ-011",))


def test_aks_cluster_without_its_az_aks_show_file_is_coverage(tmp_path, providers):
    def errors(s: Scenario, name: str) -> list:
        inv = read_inventory(Evidence(s.write(tmp_path / name)), providers)
        return [e for e in inv.errors if "no AKS cluster object" in e.reason]

    assert errors(bound(), "with-aks") == []
    s = Scenario().sa("orders", "app", CLIENT).identity("id-app", CLIENT, PRINCIPAL)
    s.fic("id-app", "system:serviceaccount:orders:app")  # nodes on Azure, no managed_cluster()
    (error,) = errors(s, "without-aks")
    assert error.subject == s.cluster


def test_kubelet_identity_without_object_id_is_coverage(inventory_of):
    s = bound(kubelet=KUBELET)
    s.aks["identityProfile"]["kubeletidentity"].pop("objectId")
    (error,) = [e for e in inventory_of(s).errors if "kubelet identity" in e.reason]
    assert "objectId" in error.reason
    assert "aks-test" not in inventory_of(s).views["azure"].kubelet
