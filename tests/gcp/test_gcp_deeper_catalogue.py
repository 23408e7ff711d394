"""Issue 15, item 2: the GCP escalation catalogue (data/escalation_methods.json) covers Rhino's, gcpwn's and
the Google Cloud docs' methods; `actAs` alone escalates nothing without a way to run code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gcp_builder import Case, binding, gsa
from gcp_deeper_cases import API, OTHER, SA, on_account, trusted
from kubeiam_gcp.judge.catalogue import load_catalogue
from kubeiam_gcp.judge.profile import CATALOGUE, classify

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.findings import Severity

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "gcp" / "corpus"
ACT_AS = "iam.serviceAccounts.actAs"


def _upstream() -> dict[str, set[str]]:
    """Every method of the three catalogues: name -> the permissions it needs, as the upstream spells them."""
    out: dict[str, set[str]] = {}
    rhino = json.loads((CORPUS / "gcp_privesc_methods.json").read_text())["methods"]
    out |= {name: set(m["Permissions"]) for name, m in rhino.items()}
    gcpwn = json.loads((CORPUS / "gcpwn_privilege_escalation_paths.json").read_text())["rules"]
    for name, rule in gcpwn.items():
        perms = set(rule.get("permissions", []))
        for req in rule.get("requires", []):
            perms |= set(req["permissions"])
        perms |= set((rule.get("act_as") or {}).get("permissions", []))
        out[name] = perms
    extra = json.loads((CORPUS / "gcp_privesc_extra.json").read_text())["methods"]
    out |= {m["id"]: set(m["required_permissions"]) for m in extra}
    return out


def test_every_method_of_the_corpus_is_detected_or_listed_as_deliberately_not() -> None:
    ours = json.loads(CATALOGUE.read_text())
    not_detected = {n["upstream"] for n in ours["not_detected"]}
    upstream = _upstream()
    assert len(upstream) >= 23 + 20 + 22
    missed = []
    for name, needs in upstream.items():
        if name in not_detected:
            continue
        # Held together at project level, they must escalate (the upstream's own set, nothing more).
        if not classify(f"test/{name}", frozenset(needs)).escalation_on("broad"):
            missed.append(name)
    assert missed == []
    # Every method names the upstream methods it stands for, and they exist.
    named = {u for m in ours["methods"] for u in m["upstream"]} | {
        u for g in ours["set_iam_policy"] for u in g["upstream"]
    }
    assert named <= set(upstream)
    assert not_detected <= set(upstream)


def test_deliberately_undetected_methods_are_not_flagged_on_their_own() -> None:
    # gke-cluster-credentials: every GKE reader holds getCredentials; it matters only with legacy auth.
    assert classify("t", frozenset({"container.clusters.getCredentials"})).escalation_on("broad") == ()


@pytest.mark.parametrize(
    ("permissions", "expected"),
    [
        ({"container.pods.create"}, "container.pods.create"),
        ({"container.pods.exec"}, "container.pods.exec"),
        ({"container.serviceAccounts.createToken"}, "container.serviceAccounts.createToken"),
        ({"container.secrets.get", "container.secrets.list"}, "method:GkeReadSecrets"),
        ({"container.clusterRoleBindings.create", "container.clusterRoles.bind"}, "method:GkeBindClusterRole"),
        ({"compute.instances.setMetadata"}, "compute.instances.setMetadata"),
        ({"compute.projects.setCommonInstanceMetadata"}, "compute.projects.setCommonInstanceMetadata"),
        ({"iam.serviceAccounts.getOpenIdToken"}, "iam.serviceAccounts.getOpenIdToken"),
        ({"iam.workloadIdentityPoolProviders.update"}, "iam.workloadIdentityPoolProviders.update"),
        ({"deploymentmanager.deployments.update"}, "deploymentmanager.deployments.update"),
        ({"run.services.update", ACT_AS}, "method:UpdateCloudRunServiceAsSA"),
        ({"run.jobs.create", "run.jobs.run", ACT_AS}, "method:CloudRunJobAsSA"),
        ({"cloudbuild.builds.create", ACT_AS}, "method:CloudBuildAsSA"),
    ],
)
def test_new_methods_escalate(permissions: set[str], expected: str) -> None:
    assert expected in classify("t", frozenset(permissions)).escalation_on("broad")


def test_predefined_roles_that_run_or_exec_as_any_kubernetes_service_account_escalate() -> None:
    cat = load_catalogue()
    for role in ("roles/container.developer", "roles/container.admin"):
        profile = classify(role, cat.permissions_of(role))
        assert {"container.pods.create", "container.pods.exec"} <= set(profile.escalation), role
    assert classify("roles/container.viewer", cat.permissions_of("roles/container.viewer")).escalation == ()


def test_act_as_alone_is_not_escalation() -> None:
    cat = load_catalogue()
    user = classify("roles/iam.serviceAccountUser", cat.permissions_of("roles/iam.serviceAccountUser"))
    assert user.act_as and user.escalation_on("broad") == () and user.escalation_on("other-account") == ()
    # With a way to run code in the same role, it is.
    assert "method:CloudRunServiceAsSA" in classify("t", frozenset({ACT_AS, "run.services.create"})).escalation


def _gcp002(case: Case, tmp_path: Path) -> list:
    return [f for f in audit(Evidence(case.write(tmp_path))).findings if f.rule_id == "GCP-002"]


def test_service_account_user_alone_is_no_finding_but_with_a_deploy_path_in_another_grant_it_is(tmp_path: Path) -> None:
    alone = Case(project_policy=[binding("roles/iam.serviceAccountUser", SA)])
    assert _gcp002(alone, tmp_path / "alone") == []
    both = Case(project_policy=[binding("roles/iam.serviceAccountUser", SA), binding("roles/run.developer", SA)])
    (finding,) = _gcp002(both, tmp_path / "both")
    assert finding.evidence["binding"]["role"] == "roles/iam.serviceAccountUser"
    how = f"{ACT_AS} + method:CloudRunServiceAsSA"
    assert "roles/run.developer@projects/fx-proj" in finding.evidence["permissions"][how]


def test_act_as_on_one_account_with_a_deploy_path_becomes_that_account(tmp_path: Path) -> None:
    case = Case(
        gsas=[API, OTHER],
        sa_policies=trusted(OTHER),
        assets=[on_account(OTHER, "roles/iam.serviceAccountUser")],
        project_policy=[
            binding("roles/cloudfunctions.developer", SA),
            binding("roles/editor", f"serviceAccount:{OTHER}"),
        ],
    )
    (finding,) = [f for f in _gcp002(case, tmp_path) if f.evidence["binding"]["role"] == "roles/iam.serviceAccountUser"]
    assert finding.severity is Severity.CRITICAL  # the account it runs code as holds Editor
    (reached,) = finding.evidence["reaches"]
    assert reached["identity"] == OTHER and reached["power"] == "admin"
    assert reached["path"][0]["via"].startswith(ACT_AS + " + ")
    # Without the deploy path the same actAs grant is nothing.
    case.project_policy = [binding("roles/editor", f"serviceAccount:{OTHER}")]
    assert _gcp002(case, tmp_path / "without") == []


def test_permissions_of_one_method_split_over_two_grants_are_one_finding(tmp_path: Path) -> None:
    roles = [
        {"name": "projects/fx-proj/roles/binder", "includedPermissions": ["container.clusterRoles.bind"]},
        {"name": "projects/fx-proj/roles/creator", "includedPermissions": ["container.clusterRoleBindings.create"]},
    ]
    case = Case(custom_roles=roles, project_policy=[binding(r["name"], SA) for r in roles])
    (finding,) = _gcp002(case, tmp_path)
    assert finding.evidence["grants"] == sorted(f"{r['name']}@projects/fx-proj" for r in roles)
    again = [
        f.fingerprint
        for f in _gcp002(Case(custom_roles=roles[::-1], project_policy=case.project_policy[::-1]), tmp_path / "b")
    ]
    assert again == [finding.fingerprint]


def test_kubeiam_reader_role_still_clean_with_the_larger_catalogue(tmp_path: Path) -> None:
    reader = gsa("reader")
    perms = ["container.clusters.get", "container.clusters.list", "iam.serviceAccounts.getIamPolicy"]
    role = {"name": "projects/fx-proj/roles/reader", "includedPermissions": perms}
    case = Case(
        ksas=[("ops", "reader", reader)],
        gsas=[reader],
        custom_roles=[role],
        project_policy=[binding(role["name"], f"serviceAccount:{reader}")],
    )
    assert [f for f in audit(Evidence(case.write(tmp_path))).findings if f.cloud == "gcp"] == []
