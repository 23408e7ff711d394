"""Unknown is not safe: an AKS setting that is missing, of the wrong type or an undocumented value never
counts as the protecting one. It takes the exposed value, or is a coverage entry naming the cluster
and the rule it decides."""

from __future__ import annotations

from typing import Any

import pytest
from azure_builder import Scenario

KUBELET = ("30000000-0000-4000-8000-000000000003", "40000000-0000-4000-8000-000000000003")
CLIENT, PRINCIPAL = "10000000-0000-4000-8000-000000000001", "20000000-0000-4000-8000-000000000001"


def kubelet_estate(**cluster: Any) -> Scenario:
    """A kubelet identity with Contributor on a resource group (AZ-011 when pods reach IMDS), and a
    NetworkPolicy blocking IMDS in the pods' namespace."""
    s = Scenario().sa("orders", "app", pod_label=None).sa("orders", "web").netpol_block_imds("orders")
    s.managed_cluster(kubelet=KUBELET, **cluster)
    return s.assign(KUBELET[1], "Contributor", s.scope("rg"))


def found(report, rule: str) -> list:
    return [f for f in report.findings if f.rule_id == rule]


def cluster_errors(report, field: str) -> list[dict]:
    return [e for e in report.coverage["errors"] if e["reason"].startswith(field) and e["subject"] == "aks-test"]


def test_baseline_the_estate_is_protected_when_everything_is_known(audit_of):
    assert found(audit_of(kubelet_estate(network_policy="calico")), "AZ-011") == []
    assert found(audit_of(kubelet_estate(pod_link_local_access="None", network_policy=None)), "AZ-011") == []


@pytest.mark.parametrize("value", ["Blocked", 0, {"mode": "None"}, ["None"]])
@pytest.mark.parametrize("rest", [False, True], ids=["az-cli", "rest"])
def test_unknown_pod_link_local_access_is_exposed_and_named(audit_of, value, rest):
    s = kubelet_estate(network_policy=None)
    s.aks["networkProfile"]["podLinkLocalAccess"] = value
    report = audit_of(s, rest=rest)
    assert len(found(report, "AZ-011")) == 1
    (error,) = cluster_errors(report, "networkProfile.podLinkLocalAccess")
    assert error["rules"] == ["AZ-011"] and "unknown value" in error["reason"]


@pytest.mark.parametrize("value", [1, "Disabled", True])
def test_unknown_pool_setting_never_falls_back_to_a_protecting_cluster_default(audit_of, value):
    s = kubelet_estate(pod_link_local_access="None", network_policy=None)
    s.aks["agentPoolProfiles"][0]["podLinkLocalAccess"] = value
    report = audit_of(s)
    assert len(found(report, "AZ-011")) == 1
    assert cluster_errors(report, "agentPoolProfiles[0].podLinkLocalAccess")


@pytest.mark.parametrize("value", ["calico-enterprise", 3, ["azure"]])
def test_unknown_network_policy_engine_does_not_enforce_the_imds_block(audit_of, value):
    s = kubelet_estate()
    s.aks["networkProfile"]["networkPolicy"] = value
    report = audit_of(s)
    assert len(found(report, "AZ-011")) == 1
    assert cluster_errors(report, "networkProfile.networkPolicy")


def test_no_network_profile_means_no_policy_engine(audit_of):
    s = kubelet_estate()
    del s.aks["networkProfile"]
    assert len(found(audit_of(s), "AZ-011")) == 1


def wi_estate() -> Scenario:
    s = Scenario().sa("orders", "app", CLIENT).identity("id-app", CLIENT, PRINCIPAL)
    return s.fic("id-app", "system:serviceaccount:orders:app").managed_cluster()


@pytest.mark.parametrize(
    ("section", "value", "field"),
    [
        ("oidcIssuerProfile", {"enabled": "false", "issuerUrl": None}, "oidcIssuerProfile.enabled"),
        ("oidcIssuerProfile", {"enabled": 1}, "oidcIssuerProfile.enabled"),
        ("oidcIssuerProfile", "enabled", "oidcIssuerProfile"),
        ("securityProfile", {"workloadIdentity": {"enabled": "true"}}, "securityProfile.workloadIdentity.enabled"),
        ("securityProfile", {"workloadIdentity": True}, "securityProfile.workloadIdentity"),
        ("securityProfile", ["workloadIdentity"], "securityProfile"),
    ],
)
def test_unknown_workload_identity_flags_are_coverage_never_enabled(audit_of, section, value, field):
    s = wi_estate()
    s.aks[section] = value
    report = audit_of(s)
    (error,) = cluster_errors(report, field)
    assert error["rules"] == ["AZ-010"]
    # Not reported as missing either: unknown is said once, as unknown.
    assert found(report, "AZ-010") == []


@pytest.mark.parametrize(
    ("section", "value", "missing"),
    [
        ("oidcIssuerProfile", None, "oidc-issuer"),
        ("securityProfile", {}, "workload-identity"),
        ("securityProfile", None, "workload-identity"),
    ],
)
def test_absent_workload_identity_flags_are_off(audit_of, section, value, missing):
    """What ARM prints for a feature that is not set up (null, or no key) is "off": reported."""
    s = wi_estate()
    if value is None:
        del s.aks[section]
    else:
        s.aks[section] = value
    assert [f.evidence["missing"] for f in found(audit_of(s), "AZ-010")] == [missing]
