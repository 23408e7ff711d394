"""What could not be checked is data: gaps, errors that hide findings, sources not read at all, rules
turned off. Each reaches the report, stderr and the exit code."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from kubeiam.pipeline.engine import AnalysisConfig
from kubeiam.pipeline.report import build_report, coverage
from kubeiam.quarterly.baseline import Rechecked
from kubeiam.vocabulary.model import (
    CloudIdentity,
    Cluster,
    CoverageError,
    Gap,
    IdentityLink,
    Inventory,
    LinkStatus,
    ServiceAccount,
)

SA = ServiceAccount("prod", "payments", "api")
GAP = Gap("aws/111122223333/iam.json", "Policies[3].PolicyVersionList[0].Document.Statement[1]", "unknown key")


def _inventory(gaps: tuple[Gap, ...]) -> Inventory:
    role = CloudIdentity("aws", "arn:aws:iam::111122223333:role/api", "iam-role", gaps=gaps)
    link = IdentityLink("prod", "payments", "api", "aws", "irsa", role.principal, LinkStatus.RESOLVED, role)
    return Inventory(clusters=(Cluster("prod"),), service_accounts=(SA,), links=(link,))


def test_an_identity_checked_on_part_of_its_evidence_is_listed_unchecked_with_the_item() -> None:
    assert coverage(_inventory(()), (), AnalysisConfig())["unchecked"] == []
    (entry,) = coverage(_inventory((GAP,)), (), AnalysisConfig())["unchecked"]
    assert entry["reason"].startswith("partly checked: aws/111122223333/iam.json: Policies[3]")
    assert entry["items"] == [{"location": GAP.location, "item": GAP.item, "reason": GAP.reason}]
    report = build_report(
        _inventory((GAP,)), (), rules=(), mode="audit", generated_at=__import__("datetime").datetime.now()
    )
    assert report.incomplete  # --strict exits 3 on it


def test_an_error_hides_only_the_findings_it_could_hide() -> None:
    clouds = {"AWS-007": "aws", "AWS-010": "aws", "K8S-001": "kubernetes"}
    cov = {
        "clusters": [{"name": "prod"}, {"name": "other"}],
        "errors": [
            {"source": "aws", "location": "aws/1/eu-west-1/eks/prod/pod-identity-associations.json",
             "reason": "absent", "subject": "prod", "rules": ["AWS-007"]},
        ],
    }  # fmt: skip
    seen = Rechecked(cov, clouds)
    finding = {"cluster": "prod", "namespace": "payments", "service_account": "api", "cloud": "aws"}
    assert not seen({**finding, "rule_id": "AWS-007"})  # hidden: not_rechecked, never resolved
    assert seen({**finding, "rule_id": "AWS-010"})  # the role was read: a fix shows as resolved
    assert seen({**finding, "rule_id": "K8S-001"})
    assert seen({**finding, "rule_id": "AWS-007", "cluster": "other"})
    # Without `rules`, an AWS error on the cluster hides every AWS finding there, and only those.
    cov["errors"][0].pop("rules")
    seen = Rechecked(cov, clouds)
    assert not seen({**finding, "rule_id": "AWS-010"}) and seen({**finding, "rule_id": "K8S-001"})
    # A Kubernetes error on the cluster hides everything of it: all findings rest on its objects.
    cov["errors"][0]["source"] = "kubernetes"
    assert not Rechecked(cov, clouds)({**finding, "rule_id": "K8S-001"})


def _demo_copy(tmp_path: Path) -> Path:
    from kubeiam.pipeline.audit import demo_dir

    root = tmp_path / "evidence"
    shutil.copytree(demo_dir(), root)
    return root


def test_a_source_not_read_at_all_never_passes(tmp_path: Path, run_cli) -> None:
    root = _demo_copy(tmp_path)
    whole = CoverageError("gcp", "cloudresourcemanager.googleapis.com", "credentials refused (HTTP 401)", whole=True)
    (root / "collection-errors.json").write_text(json.dumps({"errors": [whole.to_dict()]}))
    code, out, err = run_cli("audit", "--evidence", root, "--format", "json", "--fail-on", "critical")
    report = json.loads(out)
    assert report["coverage"]["unreadable"] == [
        {"source": "gcp", "subject": None, "reason": "credentials refused (HTTP 401)"}
    ]
    # Critical findings exist in the demo: exit 1 wins. With nothing at or above --fail-on, still not 0.
    assert code == 1 and "gcp could not be read at all" in err
    # A namespace with nothing critical: the unreadable source alone must make the run fail (exit 3).
    calm = sorted(
        {f["namespace"] for f in report["findings"] if f["namespace"]}
        - {f["namespace"] for f in report["findings"] if f["severity"] == "critical"}
    )[0]
    code, _, err = run_cli(
        "audit", "--evidence", root, "--format", "json", "--fail-on", "critical", "--namespace", calm
    )
    assert code == 3 and err.index("could not be read at all") >= 0


def test_disabled_and_relevelled_rules_are_visible(tmp_path: Path, run_cli) -> None:
    from kubeiam.pipeline.audit import demo_dir

    config = tmp_path / "kubeiam.toml"
    config.write_text('disabled_rules = ["AWS-010"]\n[severity_overrides]\n"K8S-004" = "high"\n')
    _, out, err = run_cli("audit", "--evidence", demo_dir(), "--format", "json", "--config", config)
    cov = json.loads(out)["coverage"]
    assert cov["rules_disabled"] == [{"rule": "AWS-010", "where": str(config)}]
    assert cov["rules_relevelled"] == [
        {"rule": "K8S-004", "severity": "high", "default": "medium", "where": str(config)}
    ]
    from kubeiam.pipeline.providers import all_rules, load_providers

    assert cov["rules"] == len(all_rules(load_providers())) - 1
    assert "1 rule(s) turned off by" in err and "AWS-010" in err
    _, table, _ = run_cli("audit", "--evidence", demo_dir(), "--format", "table", "--config", config)
    assert "turned off" in table and "K8S-004 set to high (default medium)" in table
    _, md, _ = run_cli("audit", "--evidence", demo_dir(), "--format", "markdown", "--config", config)
    assert "## Rules changed by configuration" in md and "AWS-010" in md.split("## Rules changed by configuration")[1]
    _, html, _ = run_cli("audit", "--evidence", demo_dir(), "--format", "html", "--config", config)
    assert "Rules changed by configuration" in html


def test_a_check_keeps_the_coverage_errors_that_concern_it_and_only_those() -> None:
    from kubeiam.pipeline.narrow import narrow
    from kubeiam.vocabulary.model import Node, Workload

    role = "arn:aws:iam::111122223333:role/team/api"  # a path: three slash-separated parts
    link = IdentityLink("prod", "payments", "api", "aws", "irsa", role, LinkStatus.RESOLVED)
    pod = Workload("prod", "payments", "api-1", "api", "n1", "Deployment", "api")
    subjects = {
        None: True,
        "prod": True,
        "prod/payments": True,
        "prod/payments/api": True,
        "prod/node/n1": True,
        role: True,
        "111122223333": True,  # an account: may concern it
        "arn:aws:iam::111122223333:role/other": False,  # only another ServiceAccount takes it
        "prod/web": False,
        "prod/payments/other": False,
        "prod/node/n2": False,
        "staging": False,
        "staging/payments/api": False,
    }
    errors = tuple(CoverageError("aws", "x", "why", s) for s in subjects)
    inv = Inventory(
        clusters=(Cluster("prod"), Cluster("staging")),
        service_accounts=(
            SA,
            ServiceAccount("prod", "payments", "other"),
            ServiceAccount("staging", "payments", "web"),
        ),
        workloads=(pod,),
        nodes=(Node("prod", "n1"), Node("prod", "n2")),
        links=(
            link,
            IdentityLink(
                "prod", "payments", "other", "aws", "irsa", "arn:aws:iam::111122223333:role/other", LinkStatus.RESOLVED
            ),
        ),
        errors=errors,
    )
    kept = {e.subject for e in narrow(inv, "payments", "api").errors}
    assert kept == {s for s, keep in subjects.items() if keep}
