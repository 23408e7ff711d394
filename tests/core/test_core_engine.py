"""kubeiam.pipeline.engine (fingerprints, worst severity) and pipeline.narrow (`check`, `--namespace`)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from kubeiam.pipeline.audit import audit, narrow
from kubeiam.pipeline.engine import AnalysisConfig, analyse
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.findings import Category, Severity
from kubeiam.vocabulary.model import (
    Cluster,
    CoverageError,
    IdentityLink,
    Inventory,
    LinkStatus,
    Namespace,
    Node,
    ServiceAccount,
    Workload,
)
from kubeiam.vocabulary.rules import Match, rule

REPO = Path(__file__).resolve().parents[2]

SA = ServiceAccount("prod", "payments", "api")
INVENTORY = Inventory(clusters=(Cluster("prod", "aws"),), service_accounts=(SA,))


def make_rule(matches, *, title="Thing is wrong", remediation="Fix it.", severity=Severity.MEDIUM, rid="TST-001"):
    @rule(rid, title, Category.WILDCARD_ACTION, severity, rationale="because", remediation=remediation)
    def check(inv: Inventory):
        yield from matches

    return check


def m(item="s3:*", **kw) -> Match:
    kw.setdefault("source", "arn:aws:iam::111122223333:policy/app")
    kw.setdefault("principal", "arn:aws:iam::111122223333:role/api")
    return Match.for_sa(SA, item=item, cloud="aws", **kw)


def fps(findings) -> list[str]:
    return [f.fingerprint for f in findings]


def test_fingerprint_ignores_wording_severity_and_detail():
    base = analyse(INVENTORY, [make_rule([m(detail="one wording")])])
    reworded = analyse(
        INVENTORY,
        [make_rule([m(detail="another", evidence={"x": 1})], title="New title", remediation="Other.",
                   severity=Severity.HIGH)],
    )  # fmt: skip
    overridden = analyse(
        INVENTORY, [make_rule([m()])], AnalysisConfig(severity_overrides={"TST-001": Severity.CRITICAL})
    )
    assert fps(base) == fps(reworded) == fps(overridden)
    assert base[0].severity is Severity.MEDIUM and overridden[0].severity is Severity.CRITICAL
    assert base[0].title != reworded[0].title


def test_fingerprint_ignores_order():
    matches = [m("s3:*"), m("iam:*", source="arn:aws:iam::aws:policy/IAMFullAccess"), m("kms:*")]
    forward = analyse(INVENTORY, [make_rule(matches), make_rule([m("ec2:*")], rid="TST-002")])
    backward = analyse(INVENTORY, [make_rule([m("ec2:*")], rid="TST-002"), make_rule(matches[::-1])])
    assert fps(forward) == fps(backward)
    assert forward == backward  # same findings, same deterministic order


def test_fingerprint_changes_with_every_identity_field():
    base = fps(analyse(INVENTORY, [make_rule([m()])]))[0]
    variants = [
        m(item="s3:Get*"),
        m(source="arn:aws:iam::111122223333:policy/other"),
        m(principal="arn:aws:iam::111122223333:role/other"),
        replace(m(), namespace="billing"),
        replace(m(), service_account="worker"),
        replace(m(), cluster="staging"),
    ]
    others = [fps(analyse(INVENTORY, [make_rule([v])]))[0] for v in variants]
    assert base not in others and len(set(others)) == len(others)
    assert fps(analyse(INVENTORY, [make_rule([m()], rid="TST-009")])) != [base]


def test_cluster_identity_is_the_stable_id_when_known():
    stable = Inventory(clusters=(Cluster("prod", "aws", stable_id="arn:aws:eks:eu-west-1:1:cluster/prod"),))
    renamed = Inventory(clusters=(Cluster("prod-copy", "aws", stable_id="arn:aws:eks:eu-west-1:1:cluster/prod"),))
    a = analyse(stable, [make_rule([m()])])
    b = analyse(renamed, [make_rule([replace(m(), cluster="prod-copy")])])
    assert fps(a) == fps(b)
    assert a[0].cluster_id == "arn:aws:eks:eu-west-1:1:cluster/prod"
    assert fps(a) != fps(analyse(INVENTORY, [make_rule([m()])]))  # name-only identity differs


def test_same_problem_twice_keeps_the_worst_severity():
    findings = analyse(
        INVENTORY,
        [make_rule([m(detail="first"), m(detail="worse", severity=Severity.CRITICAL), m(severity=Severity.HIGH)])],
    )
    assert len(findings) == 1
    assert findings[0].severity is Severity.CRITICAL
    assert findings[0].title.endswith("worse")


def test_severity_never_below_the_category_floor_and_sorting():
    @rule("TST-010", "Key in env", Category.STATIC_CREDENTIAL, Severity.HIGH, rationale="r", remediation="x")
    def creds(inv):
        yield m("AWS_SECRET_ACCESS_KEY")

    findings = analyse(
        INVENTORY,
        [make_rule([m()]), creds],
        AnalysisConfig(severity_overrides={"TST-010": Severity.LOW}),
    )
    assert [(f.rule_id, f.severity) for f in findings] == [("TST-010", Severity.HIGH), ("TST-001", Severity.MEDIUM)]


def test_disabled_rules_do_not_run():
    assert analyse(INVENTORY, [make_rule([m()])], AnalysisConfig(disabled_rules=frozenset({"TST-001"}))) == ()


# -- narrow -------------------------------------------------------------------------------------

API, WORKER, OTHER = (
    ServiceAccount("prod", "payments", "api"),
    ServiceAccount("prod", "payments", "worker"),
    ServiceAccount("prod", "web", "api"),
)


def _wl(sa: ServiceAccount, pod: str, node: str) -> Workload:
    return Workload(sa.cluster, sa.namespace, pod, sa.name, node, "Deployment", sa.name)


def _link(sa: ServiceAccount) -> IdentityLink:
    return IdentityLink(sa.cluster, sa.namespace, sa.name, "aws", "irsa", f"role/{sa.name}", LinkStatus.RESOLVED)


BIG = Inventory(
    clusters=(Cluster("prod", "aws"),),
    namespaces=(Namespace("prod", "payments"), Namespace("prod", "web")),
    service_accounts=(API, WORKER, OTHER),
    workloads=(_wl(API, "api-1", "n1"), _wl(API, "api-2", "n2"), _wl(WORKER, "w-1", "n3"), _wl(OTHER, "o-1", "n4")),
    nodes=tuple(Node("prod", f"n{i}") for i in range(1, 6)),
    links=(_link(API), _link(WORKER), _link(OTHER)),
    errors=(
        CoverageError("aws", "iam.json", "denied", "prod/payments/api"),
        CoverageError("aws", "iam.json", "denied", "prod/web/api"),
        CoverageError("kubernetes", "list pods", "forbidden", "prod"),
        CoverageError("gcp", "project.json", "missing", None),
    ),
)


def test_narrow_to_one_service_account():
    inv = narrow(BIG, "payments", "api")
    assert inv.service_accounts == (API,)
    assert {w.pod for w in inv.workloads} == {"api-1", "api-2"}
    assert {n.name for n in inv.nodes} == {"n1", "n2"}  # the nodes its pods run on, no others
    assert inv.links == (_link(API),)
    assert inv.namespaces == (Namespace("prod", "payments"),)
    assert {e.subject for e in inv.errors} == {"prod/payments/api", "prod", None}
    assert inv.scope == "payments/api" and BIG.scope is None


def test_narrow_to_a_namespace():
    inv = narrow(BIG, "payments")
    assert inv.service_accounts == (API, WORKER)
    assert {n.name for n in inv.nodes} == {"n1", "n2", "n3"}
    assert {lk.service_account for lk in inv.links} == {"api", "worker"}
    assert inv.scope == "payments"


def test_no_narrowing_without_a_namespace():
    assert narrow(BIG, None) is BIG


DEMO = REPO / "fixtures" / "demo"


def test_check_on_the_demo_reports_only_that_service_account():
    whole = audit(Evidence(DEMO))
    one = audit(Evidence(DEMO), namespace="payments", service_account="legacy-worker", mode="check")
    mine = [f for f in one.findings if f.service_account is not None]
    assert {f.rule_id for f in mine} >= {"K8S-001"}
    assert {(f.cluster, f.namespace, f.service_account) for f in mine} == {("eks-prod", "payments", "legacy-worker")}
    expected = {
        f.fingerprint for f in whole.findings if (f.namespace, f.service_account) == ("payments", "legacy-worker")
    }
    assert {f.fingerprint for f in mine} == expected
    assert {f.fingerprint for f in one.findings} <= {f.fingerprint for f in whole.findings}


def test_check_reports_nothing_about_other_clusters():
    one = audit(Evidence(DEMO), namespace="platform", service_account="deployer", mode="check")
    assert one.findings
    assert {f.cluster for f in one.findings} == {"aks-apps"}


def test_a_match_for_several_service_accounts_is_one_finding_each_as_if_matched_one_by_one():
    other = ServiceAccount("prod", "shop", "web")
    inv = replace(INVENTORY, service_accounts=(SA, other))
    evidence = {"policy": "app", "statement": {"Action": "s3:*"}}
    kw = {"item": "s3:*", "cloud": "aws", "source": "arn:aws:iam::111122223333:policy/app", "evidence": evidence}
    one_by_one = analyse(inv, [make_rule([Match.for_sa(SA, **kw), Match.for_sa(other, **kw)])])
    fanned = analyse(inv, [make_rule([Match.for_sas("prod", (SA, other), **kw)])])
    assert [f.to_dict() for f in fanned] == [f.to_dict() for f in one_by_one]
    assert {(f.namespace, f.service_account) for f in fanned} == {("payments", "api"), ("shop", "web")}
    assert len(set(fps(fanned))) == 2
    # The subjects share one evidence mapping (with the source added once), never the rule's own dict.
    assert fanned[0].evidence is fanned[1].evidence
    assert fanned[0].evidence == {**evidence, "source": kw["source"]} and "source" not in evidence
