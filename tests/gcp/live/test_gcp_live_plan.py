"""The collection plan: which projects, accounts and clusters a run needs, decided without any network."""

from __future__ import annotations

from kubeiam_gcp.declarations import GCP
from kubeiam_gcp.live.plan import (
    ClusterRef,
    gsa_project,
    make_plan,
    parse_issuer,
    roles_in,
    sa_policies_in_assets,
)

from kubeiam.vocabulary.model import Cluster, Inventory, Node, ServiceAccount

ISSUER = "https://container.googleapis.com/v1/projects/acme-data/locations/europe-west1/clusters/gke-data"
GSA = "iam.gke.io/gcp-service-account"


def _inventory(*sas: ServiceAccount, nodes: tuple[Node, ...] = (), clusters: tuple[Cluster, ...] = ()) -> Inventory:
    clusters = clusters or (Cluster("c1", GCP, ISSUER),)
    return Inventory(clusters=clusters, service_accounts=sas, nodes=nodes)


def _sa(ns: str, name: str, email: str | None = None, cluster: str = "c1") -> ServiceAccount:
    return ServiceAccount(cluster, ns, name, annotations={GSA: email} if email else {})


def test_issuer_and_email_parsing():
    assert parse_issuer(ISSUER) == ("acme-data", "europe-west1", "gke-data")
    assert parse_issuer(ISSUER.replace("locations", "zones")) == ("acme-data", "europe-west1", "gke-data")
    assert parse_issuer("https://oidc.eks.eu-west-1.amazonaws.com/id/ABC") is None
    assert parse_issuer(None) is None
    assert gsa_project("app@acme-data.iam.gserviceaccount.com") == "acme-data"
    assert gsa_project("acme-data@appspot.gserviceaccount.com") == "acme-data"
    assert gsa_project("123-compute@developer.gserviceaccount.com") is None


def test_projects_come_from_issuers_annotations_and_nodes():
    inv = _inventory(
        _sa("a", "x", "x@proj-one.iam.gserviceaccount.com"),
        _sa("a", "y", "y@proj-one.iam.gserviceaccount.com"),
        _sa("b", "z", "z@proj-two.iam.gserviceaccount.com"),
        _sa("b", "plain"),
        nodes=(Node("c1", "n1", "gce://node-proj/europe-west1-b/n1"),),
    )
    plan = make_plan(inv)
    assert plan.projects == ("acme-data", "node-proj", "proj-one", "proj-two")
    assert plan.service_accounts["proj-one"] == (
        "x@proj-one.iam.gserviceaccount.com",
        "y@proj-one.iam.gserviceaccount.com",
    )
    assert plan.service_accounts["acme-data"] == ()
    assert plan.clusters == (ClusterRef("acme-data", "europe-west1", "gke-data", "c1"),)
    assert not plan.check and plan.skipped == ()


def test_the_same_account_named_twice_is_planned_once():
    email = "x@proj-one.iam.gserviceaccount.com"
    plan = make_plan(_inventory(_sa("a", "x", email), _sa("b", "x", email)))
    assert plan.service_accounts["proj-one"] == (email,)


def test_check_plans_only_the_one_service_account_and_its_cluster():
    other = Cluster("c2", GCP, ISSUER.replace("gke-data", "gke-other").replace("acme-data", "acme-other"))
    inv = _inventory(
        _sa("a", "x", "x@proj-one.iam.gserviceaccount.com"),
        _sa("b", "z", "z@proj-two.iam.gserviceaccount.com", cluster="c2"),
        nodes=(Node("c2", "n1", "gce://acme-other/europe-west1-b/n1"),),
        clusters=(Cluster("c1", GCP, ISSUER), other),
    )
    plan = make_plan(inv, service_account=("a", "x"))
    assert plan.check
    assert plan.projects == ("acme-data", "proj-one")
    assert [c.name for c in plan.clusters] == ["gke-data"]


def test_explicit_projects_limit_the_reach_and_say_what_is_left_out():
    inv = _inventory(_sa("a", "x", "x@proj-one.iam.gserviceaccount.com"))
    plan = make_plan(inv, projects=["proj-one"])
    assert plan.projects == ("proj-one",)
    assert plan.clusters == ()
    assert [e.location for e in plan.skipped] == ["projects/acme-data"]


def test_unknown_account_domain_is_coverage_and_compute_default_waits_for_project_numbers():
    inv = _inventory(
        _sa("a", "odd", "someone@example.com"),
        _sa("a", "job", "415104041262-compute@developer.gserviceaccount.com"),
    )
    plan = make_plan(inv)
    assert [(e.subject, "cannot tell the project" in e.reason) for e in plan.skipped] == [("c1/a/odd", True)]
    assert plan.by_number == {"415104041262": ("415104041262-compute@developer.gserviceaccount.com",)}


def test_cluster_without_issuer_is_found_through_its_nodes():
    inv = Inventory(
        clusters=(Cluster("legacy", GCP, None),),
        nodes=(
            Node("legacy", "gke-legacy-pool-1-abcd-x1", "gce://acme-data/europe-west1-d/gke-legacy-pool-1-abcd-x1"),
        ),
    )
    plan = make_plan(inv)
    assert plan.clusters == ()
    assert [(u.kubernetes_cluster, u.project) for u in plan.unlocated] == [("legacy", "acme-data")]


def test_roles_in_keeps_custom_roles_only():
    policies = [
        {"bindings": [{"role": "roles/owner"}, {"role": "projects/p/roles/a"}]},
        {"bindings": [{"role": "organizations/1/roles/b"}]},
        {},
    ]
    assert roles_in(policies) == {"projects/p/roles/a", "organizations/1/roles/b"}


def test_gsa_policies_are_found_in_asset_results_by_unique_id_or_email():
    accounts = [
        {"email": "a@p1.iam.gserviceaccount.com", "uniqueId": "101"},
        {"email": "b@p1.iam.gserviceaccount.com", "uniqueId": "102"},
        {"email": "c@p1.iam.gserviceaccount.com", "uniqueId": "103"},
    ]
    policy = {"bindings": [{"role": "roles/iam.workloadIdentityUser", "members": ["serviceAccount:x"]}]}
    sa = "iam.googleapis.com/ServiceAccount"
    assets = [
        {"resource": "//iam.googleapis.com/projects/p1/serviceAccounts/101", "assetType": sa, "policy": policy},
        {"resource": "//iam.googleapis.com/projects/p1/serviceAccounts/b@p1.iam.gserviceaccount.com",
         "assetType": sa, "policy": policy},
        {"resource": "//iam.googleapis.com/projects/p1/serviceAccounts/103", "assetType": sa, "policy": policy},
        {"resource": "//storage.googleapis.com/101", "assetType": "storage.googleapis.com/Bucket", "policy": policy},
        {"resource": "//iam.googleapis.com/projects/p1/serviceAccounts/999", "assetType": sa, "policy": policy},
    ]  # fmt: skip
    wanted = ["a@p1.iam.gserviceaccount.com", "b@p1.iam.gserviceaccount.com", "d@p1.iam.gserviceaccount.com"]
    found = sa_policies_in_assets(accounts, assets, wanted)
    # c@ is not wanted, the bucket is not an account, 999 is unknown, d@ was not returned (read directly).
    assert found == {"a@p1.iam.gserviceaccount.com": policy, "b@p1.iam.gserviceaccount.com": policy}


def test_a_cluster_known_by_its_kubeconfig_name_is_read_without_an_issuer():
    """The kubeconfig names a GKE cluster gke_PROJECT_LOCATION_NAME: its cluster.json is fetched (and so
    its stable id and node pools known) even when the issuer could not be read."""
    cluster = Cluster("prod", None, None, kubeconfig_name="gke_acme-data_europe-west1_gke-data")
    plan = make_plan(_inventory(_sa("a", "x", cluster="prod"), clusters=(cluster,)))
    assert plan.clusters == (ClusterRef("acme-data", "europe-west1", "gke-data", "prod"),)
    assert plan.projects == ("acme-data",)
