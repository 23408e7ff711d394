"""GCP rules beyond the fixtures: fingerprints, memoisation, narrowing, scope judgements."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gcp_builder import PROJECT, Case, binding, gsa, ksa_member, policy, pool
from kubeiam_gcp.judge import profile as profile_module
from kubeiam_gcp.judge.catalogue import load_catalogue
from kubeiam_gcp.judge.profile import classify
from kubeiam_gcp.rules import nodes as node_rules

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.findings import Severity

API = gsa("api")


def _gcp(report):
    return [f for f in report.findings if f.cloud == "gcp"]


def test_fingerprints_ignore_binding_and_member_order(tmp_path: Path) -> None:
    bindings = [
        binding("roles/editor", f"serviceAccount:{API}", "user:a@example.com"),
        binding("roles/secretmanager.secretAccessor", "user:b@example.com", f"serviceAccount:{API}"),
        binding("roles/iam.serviceAccountUser", f"serviceAccount:{API}"),
    ]
    first = audit(Evidence(Case(project_policy=bindings).write(tmp_path / "a")))
    reordered = [dict(b, members=list(reversed(b["members"]))) for b in reversed(bindings)]
    second = audit(Evidence(Case(project_policy=reordered).write(tmp_path / "b")))
    fps = sorted(f.fingerprint for f in _gcp(first))
    assert fps and fps == sorted(f.fingerprint for f in _gcp(second))
    # A different problem gives a different fingerprint.
    assert len(set(fps)) == len(fps)


def test_one_judgement_per_role_not_per_service_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ksas = [(f"ns{i % 7}", f"sa{i}", API) for i in range(300)]
    members = [ksa_member(ns, n) for ns, n, _ in ksas]
    case = Case(
        ksas=ksas,
        project_policy=[
            binding("roles/editor", f"serviceAccount:{API}"),
            binding("roles/pubsub.publisher", f"serviceAccount:{API}"),
        ],
        sa_policies={API: policy(binding("roles/iam.workloadIdentityUser", *members))},
    )
    root = case.write(tmp_path)
    computed: list[str] = []
    real = profile_module.RoleProfile

    def counting(*args, **kw):
        computed.append(kw.get("role", args[0] if args else ""))
        return real(*args, **kw)

    profile_module._CACHE.clear()
    monkeypatch.setattr(profile_module, "RoleProfile", counting)
    report = audit(Evidence(root))
    assert len([f for f in report.findings if f.rule_id == "GCP-001"]) == 300
    assert sorted(computed) == ["roles/editor", "roles/pubsub.publisher"]


def test_node_pool_is_one_finding_judged_once_for_many_nodes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = Case(pools=[pool("batch-pool", "default", "GCE_METADATA")]).write(tmp_path)
    resources = root / "kubernetes" / "gke-fx" / "resources.json"
    doc = json.loads(resources.read_text())
    node = next(i for i in doc["items"] if i["kind"] == "Node")
    for n in range(5):
        doc["items"].append(json.loads(json.dumps(node).replace("x1y2", f"n{n}")))
    resources.write_text(json.dumps(doc))
    calls = []
    real = node_rules._judge_pool
    monkeypatch.setattr(node_rules, "_judge_pool", lambda v, p: calls.append(p.name) or real(v, p))
    report = audit(Evidence(root))
    # The metadata mode is a pool setting: one ticket, whatever the (churning) node names.
    (finding,) = [f for f in report.findings if f.rule_id == "GCP-010"]
    assert finding.node == "node-pool/batch-pool"
    assert len(finding.evidence["nodes"]) == finding.evidence["node_count"] == 6
    assert calls == ["batch-pool"]
    # Nodes replaced by an upgrade (new names) keep the same fingerprint.
    doc["items"] = [json.loads(json.dumps(i).replace("x1y2", "z9")) if i["kind"] == "Node" else i for i in doc["items"]]
    resources.write_text(json.dumps(doc))
    (again,) = [f for f in audit(Evidence(root)).findings if f.rule_id == "GCP-010"]
    assert again.fingerprint == finding.fingerprint and again.evidence["nodes"] != finding.evidence["nodes"]


def test_check_narrows_to_one_service_account(tmp_path: Path) -> None:
    case = Case(
        ksas=[("app", "api", API), ("app", "worker", gsa("worker"))],
        gsas=[API, gsa("worker")],
        project_policy=[binding("roles/editor", f"serviceAccount:{API}", f"serviceAccount:{gsa('worker')}")],
    )
    report = audit(Evidence(case.write(tmp_path)), namespace="app", service_account="worker")
    assert {f.service_account for f in _gcp(report)} == {"worker"}


def test_escalation_depends_on_where_the_role_is_granted() -> None:
    perms = load_catalogue().permissions_of("roles/iam.serviceAccountTokenCreator")
    profile = classify("roles/iam.serviceAccountTokenCreator", perms)
    assert "iam.serviceAccounts.getAccessToken" in profile.escalation_on("broad")
    assert "iam.serviceAccounts.getAccessToken" in profile.escalation_on("other-account")
    assert profile.escalation_on("own-account") == ()
    admin = classify("roles/storage.admin", load_catalogue().permissions_of("roles/storage.admin"))
    assert "storage.buckets.setIamPolicy" in admin.escalation_on("broad")
    assert admin.escalation_on("resource") == ()  # on one bucket it controls that bucket only
    secret = classify("roles/secretmanager.admin", load_catalogue().permissions_of("roles/secretmanager.admin"))
    assert "secretmanager.secrets.setIamPolicy" in secret.escalation_on("resource")


def test_custom_role_with_combination_method(tmp_path: Path) -> None:
    role = {
        "name": f"projects/{PROJECT}/roles/deployer",
        "includedPermissions": ["run.services.create", "iam.serviceaccounts.actAs"],  # Rhino's spelling
    }
    case = Case(custom_roles=[role], project_policy=[binding(role["name"], f"serviceAccount:{API}")])
    (finding,) = [f for f in audit(Evidence(case.write(tmp_path))).findings if f.rule_id == "GCP-002"]
    assert "method:CloudRunServiceAsSA" in finding.evidence["permissions"]
    assert finding.severity is Severity.HIGH


def test_node_pool_with_escalating_account_is_high(tmp_path: Path) -> None:
    nodes = gsa("nodes")
    case = Case(
        pools=[pool("p", nodes, "GCE_METADATA")],
        project_policy=[binding("roles/iam.serviceAccountTokenCreator", f"serviceAccount:{nodes}")],
    )
    (finding,) = [f for f in audit(Evidence(case.write(tmp_path))).findings if f.rule_id == "GCP-010"]
    assert finding.severity is Severity.HIGH
    assert finding.node and finding.namespace is None and finding.principal == nodes


def test_unresolved_links_get_no_role_findings(tmp_path: Path) -> None:
    case = Case(project_policy=[binding("roles/editor", f"serviceAccount:{API}")], sa_policies={API: policy()})
    rules = {f.rule_id for f in audit(Evidence(case.write(tmp_path))).findings if f.cloud == "gcp"}
    assert rules == {"GCP-007"}


def test_service_account_named_by_unique_id_is_one_resource(tmp_path: Path) -> None:
    other = gsa("deployer")
    token = binding("roles/iam.serviceAccountTokenCreator", f"serviceAccount:{API}")
    root = Case(gsas=[API, other], sa_policies={other: policy(token), API: policy(token)}).write(tmp_path)
    accounts = json.loads((root / "gcp" / PROJECT / "service-accounts.json").read_text())
    ids = {a["email"]: a["uniqueId"] for a in accounts}
    assets = [
        {"resource": f"//iam.googleapis.com/projects/{PROJECT}/serviceAccounts/{ids[e]}", "policy": policy(token)}
        for e in (other, API)
    ]
    (root / "gcp" / PROJECT / "asset-iam-policies.json").write_text(json.dumps(assets))
    # The API account's own policy also trusts the KSA, so the link resolves.
    sa_policies = root / "gcp" / PROJECT / "service-account-iam-policies.json"
    doc = json.loads(sa_policies.read_text())
    doc[API]["bindings"].append(binding("roles/iam.workloadIdentityUser", ksa_member("app", "api")))
    sa_policies.write_text(json.dumps(doc))
    found = [f for f in audit(Evidence(root)).findings if f.rule_id == "GCP-002"]
    # Token Creator on the other account (seen twice: by email and by unique id) is one finding;
    # on its own account it is none.
    assert [f.evidence["binding"]["scope"].rsplit("/", 1)[-1] for f in found] == [other]


def test_one_ksa_named_in_both_member_forms_is_not_shared(tmp_path: Path) -> None:
    from gcp_builder import principal

    both = policy(binding("roles/iam.workloadIdentityUser", ksa_member("app", "api"), principal("app", "api")))
    report = audit(Evidence(Case(sa_policies={API: both}).write(tmp_path)))
    assert [f for f in report.findings if f.rule_id == "GCP-006"] == []


def test_setting_the_project_policy_is_critical_unless_conditioned(tmp_path: Path) -> None:
    cond = {"expression": "resource.name.startsWith('projects/fx-proj/serviceAccounts/')", "title": "accounts only"}
    severities = []
    for name, b in (
        ("plain", binding("roles/resourcemanager.projectIamAdmin", f"serviceAccount:{API}")),
        ("cond", binding("roles/resourcemanager.projectIamAdmin", f"serviceAccount:{API}", condition=cond)),
        ("sa-admin", binding("roles/iam.serviceAccountAdmin", f"serviceAccount:{API}")),
    ):
        report = audit(Evidence(Case(project_policy=[b]).write(tmp_path / name)))
        (finding,) = [f for f in report.findings if f.rule_id == "GCP-002"]
        severities.append(finding.severity)
    # Owner in one step when unconditioned; a condition or a narrower setIamPolicy stays high.
    assert severities == [Severity.CRITICAL, Severity.HIGH, Severity.HIGH]


def test_workload_identity_user_given_to_a_google_account_on_another_is_escalation(tmp_path: Path) -> None:
    other = gsa("deployer")
    policies = {
        API: policy(binding("roles/iam.workloadIdentityUser", ksa_member("app", "api"))),
        # Not a KSA's trust: the api GSA itself may mint tokens for the deployer GSA.
        other: policy(binding("roles/iam.workloadIdentityUser", f"serviceAccount:{API}")),
    }
    report = audit(Evidence(Case(gsas=[API, other], sa_policies=policies).write(tmp_path)))
    (finding,) = [f for f in report.findings if f.rule_id == "GCP-002"]
    assert finding.service_account == "api" and "iam.serviceAccounts.getAccessToken" in finding.evidence["permissions"]
    assert finding.evidence["binding"]["scope"].endswith(f"/serviceAccounts/{other}")


def test_data_access_severity_rises_with_reach(tmp_path: Path) -> None:
    accessor = binding("roles/secretmanager.secretAccessor", f"serviceAccount:{API}")
    cases = {
        "project": Case(project_policy=[accessor]),
        "folder": Case(ancestors={"folders/200000000002": [accessor], "organizations/300000000003": []}),
    }
    got = {}
    for name, case in cases.items():
        (finding,) = [f for f in audit(Evidence(case.write(tmp_path / name))).findings if f.rule_id == "GCP-003"]
        got[name] = finding.severity
    assert got == {"project": Severity.MEDIUM, "folder": Severity.HIGH}


def test_roles_of_a_gsa_whose_trust_is_unchecked_are_still_reported(tmp_path: Path) -> None:
    from gcp_builder import user_key

    case = Case(project_policy=[binding("roles/editor", f"serviceAccount:{API}")], keys={API: [user_key(API)]})
    root = case.write(tmp_path)
    (root / "gcp" / PROJECT / "service-account-iam-policies.json").write_text("{}")  # trust not collected
    report = audit(Evidence(root))
    # Unchecked, so in coverage; and not silently clean: the GSA's Editor role is still a finding.
    assert [(u["service_account"], u["principal"]) for u in report.coverage["unchecked"]] == [("api", API)]
    assert sorted(f.rule_id for f in _gcp(report) if f.service_account == "api") == ["GCP-001", "GCP-008"]


def test_one_match_per_identity_and_link_reason_fanned_out_per_service_account(tmp_path: Path) -> None:
    from gcp_builder import principal_set
    from kubeiam_gcp.declarations import GCP
    from kubeiam_gcp.rules import RULES

    from kubeiam.pipeline.audit import read_inventory
    from kubeiam.pipeline.providers import load_providers

    ksas = [(f"ns{i % 3}", f"sa{i}", API) for i in range(12)]
    wide = principal_set("namespace/ns0")
    trust = binding("roles/iam.workloadIdentityUser", *[ksa_member(ns, n) for ns, n, _ in ksas], wide)
    case = Case(
        ksas=ksas,
        project_policy=[binding("roles/editor", f"serviceAccount:{API}")],
        sa_policies={API: policy(trust)},
    )
    root = case.write(tmp_path)
    inv = read_inventory(Evidence(root), load_providers())
    # The first trust binding in (member, role, scope) order names the link: principalSet:// sorts
    # before serviceAccount:, so the ns0 ServiceAccounts share one reason, the others have their own.
    reasons = {lk.service_account: lk.reason for lk in inv.links if lk.cloud == GCP}
    assert reasons["sa0"].endswith(f"for {wide}") and reasons["sa3"] == reasons["sa0"]
    assert reasons["sa1"].endswith(f"for {ksa_member('ns1', 'sa1')}")
    rules = {r.id: r for r in RULES}
    # Trust findings do not quote the reason: one Match per identity for all twelve.
    trust_matches = list(rules["GCP-006"].check(inv))
    assert sorted(m.item for m in trust_matches) == sorted([wide, "shared"])
    assert all(len(m.subjects) == 12 for m in trust_matches)
    # Grant findings quote it: one Match per reason (4 ns0 ServiceAccounts together, 8 alone).
    admin = list(rules["GCP-001"].check(inv))
    assert sorted(len(m.subjects) for m in admin) == [1] * 8 + [4]
    findings = [f for f in audit(Evidence(root)).findings if f.rule_id in ("GCP-001", "GCP-006")]
    assert len(findings) == len({f.fingerprint for f in findings}) == 12 * 3
