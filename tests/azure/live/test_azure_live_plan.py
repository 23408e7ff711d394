"""What live Azure collection decides before any call: scope, subscriptions, cluster matching, settings."""

from __future__ import annotations

import json

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure_live_helpers import LIVE, SUB_A, make_request
from kubeiam_azure.live import collect
from kubeiam_azure.live.clients import (
    DEFAULT_ENDPOINT,
    Settings,
    SharedToken,
    StaticToken,
    describe,
    make_credential,
    to_rest,
)
from kubeiam_azure.live.plan import make_plan, matches, parse_resource_id

from kubeiam.vocabulary.model import Cluster, Inventory, Node, ServiceAccount

AKS = json.loads((LIVE / "arm" / SUB_A / "managed-clusters.json").read_text())


def test_plan_reads_client_ids_subscriptions_and_clusters(k8s_inventory):
    plan = make_plan(k8s_inventory, subscriptions=None)
    assert plan.subscriptions == (SUB_A,)
    assert not plan.explicit_subscriptions
    # dns-sync's misspelt `client_id` annotation binds nothing, so it asks for nothing.
    assert plan.client_ids == {
        "11111111-2222-4333-8444-555555555555",
        "66666666-7777-4888-9999-000000000000",
        "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
    }
    (hint,) = plan.clusters
    assert hint.name == "aks-apps"
    assert hint.node_resource_groups == {"mc_rg-apps_aks-apps_westeurope"}
    assert plan.cluster_subscriptions == (SUB_A,)


def test_plan_narrows_to_one_service_account(k8s_inventory):
    plan = make_plan(k8s_inventory, subscriptions=["X", "x", " "], service_account=("orders", "worker"))
    assert plan.subscriptions == ("x",) and plan.explicit_subscriptions
    assert plan.client_ids == {"66666666-7777-4888-9999-000000000000"}
    assert make_plan(k8s_inventory, subscriptions=None, namespace="legacy").client_ids == frozenset()


def test_plan_is_empty_without_azure():
    inventory = Inventory(
        clusters=(Cluster("eks", cloud="aws"),),
        service_accounts=(ServiceAccount("eks", "a", "b", {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x"}),),
        nodes=(Node("eks", "n1", "aws:///eu-west-1a/i-0abc"),),
    )
    assert make_plan(inventory, subscriptions=None).empty


def test_cluster_matches_by_node_resource_group_or_issuer(k8s_inventory):
    (hint,) = make_plan(k8s_inventory, subscriptions=None).clusters
    apps, data = AKS
    assert matches(hint, apps) and not matches(hint, data)
    issuer_only = type(hint)("aks-apps", frozenset(), hint.issuer)
    assert matches(issuer_only, apps) and not matches(issuer_only, data)
    # The az CLI's flattened `az aks show` has no `properties`: nothing to match on, no crash.
    assert not matches(hint, {"nodeResourceGroup": "x"})


def test_cluster_without_nodes_but_with_an_aks_issuer_is_in_scope():
    issuer = "https://westeurope.oic.prod-aks.azure.com/t/c/"
    inventory = Inventory(clusters=(Cluster("c", issuer=issuer),))
    plan = make_plan(inventory, subscriptions=["s1", "s2"])
    assert [h.issuer for h in plan.clusters] == [issuer.rstrip("/")]
    assert plan.cluster_subscriptions == ("s1", "s2")


def test_parse_resource_id():
    assert parse_resource_id("/subscriptions/S/resourcegroups/RG/providers/P/t/N") == ("S", "RG", "N")
    with pytest.raises(ValueError):
        parse_resource_id("/providers/Microsoft.Management/managementGroups/mg")


def test_settings_from_environment():
    assert Settings.from_env({}) == Settings(DEFAULT_ENDPOINT, None, 8)
    s = Settings.from_env(
        {
            "KUBEIAM_AZURE_ENDPOINT": "https://127.0.0.1:8443/",
            "KUBEIAM_AZURE_CA_BUNDLE": "/ca.pem",
            "KUBEIAM_AZURE_CONCURRENCY": "2",
        }
    )
    assert (s.endpoint, s.ca_bundle, s.concurrency, s.scope) == (
        "https://127.0.0.1:8443",
        "/ca.pem",
        2,
        "https://127.0.0.1:8443/.default",
    )
    assert Settings.from_env({"KUBEIAM_AZURE_CONCURRENCY": "many"}).concurrency == 8


def test_credentials_from_environment():
    static = make_credential({"KUBEIAM_AZURE_ACCESS_TOKEN": "eyJ0eXAi.secret"})
    assert isinstance(static, StaticToken)
    assert static.get_token("https://management.azure.com/.default").token == "eyJ0eXAi.secret"
    assert "secret" not in repr(static)
    default = make_credential({})
    assert type(default).__name__ == "DefaultAzureCredential"  # constructed only: it needs a real tenant


def test_shared_token_asks_once():
    calls = []

    class Inner:
        def get_token(self, *scopes, **kw):
            calls.append(scopes)
            return StaticToken("t").get_token()

    shared = SharedToken(Inner())
    for _ in range(3):
        shared.get_token("s/.default")
    assert calls == [("s/.default",)]


def test_to_rest_keeps_properties_nested_and_read_only_fields():
    from azure.mgmt.containerservice.models import ManagedCluster
    from azure.mgmt.msi.v2024_11_30.models import Identity

    wire = {
        "id": "/x",
        "name": "n",
        "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
        "location": "westeurope",
        "properties": {"tenantId": "t", "principalId": "p", "clientId": "c"},
    }
    assert to_rest(Identity.deserialize(wire)) == {**wire, "properties": {**wire["properties"]}}
    assert to_rest(ManagedCluster(AKS[0])) == AKS[0]


def test_no_azure_in_scope_makes_no_call_and_asks_no_credential(tmp_path):
    class Refuse:
        def get_token(self, *a, **k):
            raise AssertionError("credential used")

    inventory = Inventory(clusters=(Cluster("kind"),), service_accounts=(ServiceAccount("kind", "a", "b"),))
    assert collect(make_request(tmp_path), inventory, credential=Refuse(), settings=Settings()) == []
    assert not (tmp_path / "azure").exists()


def test_no_subscription_is_coverage(tmp_path):
    sa = ServiceAccount("c", "a", "b", {"azure.workload.identity/client-id": "11111111-2222-4333-8444-555555555555"})
    (error,) = collect(make_request(tmp_path), Inventory(service_accounts=(sa,)), settings=Settings())
    assert error.source == "azure" and "--azure-subscription" in error.reason
    assert error.whole  # nothing of Azure was read: the run cannot pass as clean


def test_credential_failure_is_one_coverage_error(tmp_path, k8s_inventory):
    class NoLogin:
        def get_token(self, *a, **k):
            raise ClientAuthenticationError(
                "DefaultAzureCredential failed to retrieve a token from the included credentials."
            )

    errors = collect(
        make_request(tmp_path), k8s_inventory, credential=NoLogin(), settings=Settings(endpoint="https://127.0.0.1:9")
    )
    (error,) = errors
    assert (error.source, error.whole, error.subject) == ("azure", True, None)
    assert error.reason.startswith("no Azure credential: authentication failed: DefaultAzureCredential failed")
    assert "DefaultAzureCredential" in error.location and "\n" not in error.reason


def test_describe_never_dumps_a_traceback():
    assert describe(ValueError("a\nb")) == "ValueError: a"
