"""Every GCP predefined role of the public corpus, bound to a workload identity and audited.

fixtures/gcp/corpus/gcp_predefined_roles.json.xz: all 2,461 roles and their permissions from
iann0036/iam-dataset (MIT; see the README there). Each role is granted at project level to its own Google
service account, which its own Kubernetes ServiceAccount takes through Workload Identity; the audit
must read all of it (no coverage error, nothing unchecked) and give the known verdicts.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from gcp_builder import CLUSTER, Case, binding, ksa_member, policy
from gcp_corpus import corpus
from kubeiam_gcp.judge.catalogue import load_catalogue

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.report import Report
from kubeiam.vocabulary.findings import Severity


def _account(i: int) -> str:
    return f"corpus-{i:04d}@fx-proj.iam.gserviceaccount.com"


@cache
def _audit(root: Path) -> tuple[Report, dict[str, str]]:
    """The audit of the whole corpus, and ServiceAccount name -> the role its identity holds."""
    roles = sorted(corpus())
    ksas = [("corpus", f"r{i:04d}", _account(i)) for i in range(len(roles))]
    case = Case(
        ksas=ksas,
        gsas=[a for _, _, a in ksas],
        project_policy=[binding(role, f"serviceAccount:{_account(i)}") for i, role in enumerate(roles)],
        # One trust binding per account: its own ServiceAccount only (no GCP-006 noise).
        sa_policies={a: policy(binding("roles/iam.workloadIdentityUser", ksa_member(ns, n))) for ns, n, a in ksas},
        ancestors={"folders/200000000002": [], "organizations/300000000003": []},
        assets=[],
    )
    report = audit(Evidence(case.write(root)))
    return report, {f"r{i:04d}": role for i, role in enumerate(roles)}


def _verdicts(tmp_path_factory) -> tuple[Report, dict[str, Severity | None], dict[str, set[str]]]:
    report, role_of = _audit(tmp_path_factory.getbasetemp() / "gcp-corpus")
    worst: dict[str, Severity | None] = dict.fromkeys(role_of.values())
    rules: dict[str, set[str]] = {r: set() for r in role_of.values()}
    for f in report.findings:
        if f.namespace != "corpus" or f.cloud != "gcp":
            continue
        role = role_of[f.service_account or ""]
        rules[role].add(f.rule_id)
        current = worst[role]
        if current is None or f.severity.rank > current.rank:
            worst[role] = f.severity
    return report, worst, rules


def test_the_corpus_is_the_bundled_catalogue() -> None:
    roles = corpus()
    assert len(roles) == 2461
    catalogue = load_catalogue()
    assert {r: catalogue.permissions_of(r) for r in roles} == roles
    assert len(roles["roles/owner"]) == 13568 and len(roles["roles/editor"]) == 11979


def test_every_role_audits_with_nothing_left_unchecked(tmp_path_factory) -> None:
    report, worst, _ = _verdicts(tmp_path_factory)
    coverage = report.coverage
    # The one entry: the cluster's RBAC is not in the estate, so who else can act as its ServiceAccounts is a
    # note naming K8S-006 only (the usage files are written: no GCP-011 note).
    errors = [(e["source"], e["location"], e["subject"], e.get("rules")) for e in coverage["errors"]]
    assert errors == [("kubernetes", f"kubernetes/{CLUSTER}/rbac.json", CLUSTER, ["K8S-006"])]
    assert coverage["unchecked"] == []
    assert coverage["unreadable"] == []
    assert len(worst) == 2461


def test_known_verdicts(tmp_path_factory) -> None:
    _, worst, rules = _verdicts(tmp_path_factory)
    for role in ("roles/owner", "roles/editor"):
        assert worst[role] is Severity.CRITICAL and "GCP-001" in rules[role], role
    for role in ("roles/iam.securityAdmin", "roles/resourcemanager.projectIamAdmin"):
        assert worst[role] is not None and worst[role].rank >= Severity.HIGH.rank, role
        assert "GCP-002" in rules[role], role
    # Setting the project's own IAM policy without a condition is Owner in one step.
    assert worst["roles/resourcemanager.projectIamAdmin"] is Severity.CRITICAL
    assert worst["roles/iam.securityAdmin"] is Severity.CRITICAL
    viewers = [r for r in worst if r == "roles/viewer" or r.endswith(".viewer")]
    assert len(viewers) > 250
    loud = {r: worst[r] for r in viewers if worst[r] is not None and worst[r].rank > Severity.MEDIUM.rank}
    assert loud == {}


def test_only_owner_and_editor_are_admin_access(tmp_path_factory) -> None:
    _, _, rules = _verdicts(tmp_path_factory)
    assert sorted(r for r, ids in rules.items() if "GCP-001" in ids) == ["roles/editor", "roles/owner"]
    escalating = sum("GCP-002" in ids for ids in rules.values())
    assert 100 < escalating < 2461 / 2  # a few hundred roles escalate, most do not
