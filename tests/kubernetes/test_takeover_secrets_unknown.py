"""Legacy token Secrets that are not known (kubeiam never reads Secrets): unknown is not safe.

Where the cluster's token Secrets were not listed whole (no `token-secrets.json`; every live collection), a
ServiceAccount may have one, so whoever may read Secrets in its namespace is a possible takeover: a K8S-006
finding one severity step lower than with a known Secret, its evidence saying the Secret is unknown. A whole
list (even empty) makes the answer exact again; a known Secret gives the full severity either way.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import takeover_evidence as te
from kubeiam_kubernetes.evidence.reader import read
from kubeiam_kubernetes.judge.rbac_model import Subject
from kubeiam_kubernetes.judge.takeover import TakeoverIndex
from kubeiam_kubernetes.judge.takeover_model import PodRef, Target
from kubeiam_kubernetes.rules.takeover_evidence import UNKNOWN_SECRET
from kubeiam_kubernetes.view import kubernetes_view
from test_rbac_fixtures import binding, cluster, role, rule

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import declarations_of, load_providers
from kubeiam.safety.redaction import redacted
from kubeiam.vocabulary.findings import Finding
from kubeiam.vocabulary.model import Inventory

ALICE = Subject("User", "alice")
POD = (PodRef("app-1", "node-1"),)


def _grant(*rules: dict[str, Any], namespace: str | None = "a") -> list[dict[str, Any]]:
    return [
        role("r", *rules, namespace=namespace),
        binding("b", "r", "User:alice", namespace=namespace, role_kind="Role" if namespace else "ClusterRole"),
    ]


def _alice(index: TakeoverIndex, target: Target) -> list[tuple[str, bool]]:
    found = index.who_can_become(target).findings
    return sorted((t.technique, t.secret_unknown) for t in found if t.subject == ALICE)


# -- the judge ---------------------------------------------------------------------------------------


def test_a_secret_reader_is_a_possible_takeover_only_while_the_secrets_are_unknown() -> None:
    index = TakeoverIndex(cluster(*_grant(rule("get", "secrets"))))
    assert _alice(index, Target("a", "app", POD, token_secrets_known=False)) == [("read-token-secret", True)]
    assert _alice(index, Target("a", "app", POD)) == []  # listed whole: it has none
    assert _alice(index, Target("a", "app", POD, ("app-token-x",))) == [("read-token-secret", False)]
    assert _alice(index, Target("a", "app", POD, ("app-token-x",), token_secrets_known=False)) == [
        ("read-token-secret", False)
    ]
    assert _alice(index, Target("b", "app", POD, token_secrets_known=False)) == []  # a RoleBinding stays in `a`


@pytest.mark.parametrize("verb", ["get", "list", "watch"])
def test_every_read_verb_counts_cluster_wide_too(verb: str) -> None:
    index = TakeoverIndex(cluster(*_grant(rule(verb, "secrets"), namespace=None)))
    for ns in ("a", "b"):
        assert _alice(index, Target(ns, "app", token_secrets_known=False)) == [("read-token-secret", True)]


def test_a_read_limited_by_resource_names_needs_the_secret_known_by_name() -> None:
    index = TakeoverIndex(cluster(*_grant(rule("get", "secrets", names="app-token-x"))))
    assert _alice(index, Target("a", "app", POD, token_secrets_known=False)) == []
    assert _alice(index, Target("a", "app", POD, ("app-token-x",), token_secrets_known=False)) == [
        ("read-token-secret", False)
    ]


def test_another_technique_stays_sure_and_the_secret_read_is_listed_besides() -> None:
    index = TakeoverIndex(cluster(*_grant(rule("create", "pods"), rule("get", "secrets"))))
    found = _alice(index, Target("a", "app", POD, token_secrets_known=False))
    assert found == [("create-pods", False), ("read-token-secret", True)]


def test_the_marked_copies_are_made_once_and_shared_by_the_namespace() -> None:
    index = TakeoverIndex(cluster(*_grant(rule("list", "secrets"), namespace=None)))
    one = index.who_can_become(Target("a", "one", token_secrets_known=False))
    two = index.who_can_become(Target("a", "two", token_secrets_known=False))
    other = index.who_can_become(Target("b", "three", token_secrets_known=False))
    assert one.findings and one.findings is two.findings  # one base per (namespace, facts)
    (mine,) = [t for t in one.findings if t.subject == ALICE]
    (theirs,) = [t for t in other.findings if t.subject == ALICE]
    assert mine is theirs  # the cluster-wide bucket is marked once for every namespace


# -- the audit: severity and evidence ----------------------------------------------------------------

SECRET_READER = [
    te.role("secret-reader", te.rule("get", "secrets"), namespace="team-a"),
    te.binding("alice-reads-secrets", "secret-reader", "User:alice", namespace="team-a", role_kind="Role"),
]


def _alice_findings(root: Path) -> list[Finding]:
    report = audit(Evidence(root), providers=load_providers())
    errors = report.coverage["errors"]
    assert not [e for e in errors if "K8S-006" in e.get("rules", [])], errors
    return [f for f in report.findings if f.rule_id == "K8S-006" and f.evidence["subject"] == "user:alice"]


def test_get_secrets_alone_is_a_lower_finding_saying_the_secret_is_unknown(tmp_path: Path) -> None:
    te.irsa_estate(tmp_path, [("team-a", "app")], rbac=SECRET_READER, secrets_listed=False)
    (found,) = _alice_findings(tmp_path)
    # AdministratorAccess-like identity: critical with a known Secret, one step lower as it may not exist.
    assert (found.evidence["power"], found.severity.value) == ("admin", "high")
    assert found.evidence["techniques"] == ["read-token-secret"]
    assert found.evidence["legacy_token_secret_exists"] == UNKNOWN_SECRET
    assert UNKNOWN_SECRET.startswith("unknown: kubeiam never reads Secrets")
    assert found.evidence["binding"] == "RoleBinding/team-a/alice-reads-secrets"
    assert [g["if"] for g in found.evidence["grants"]] == ["the ServiceAccount has a legacy token Secret (unknown)"]
    assert found.title.endswith(": read-token-secret (if it has a legacy token Secret)")
    assert redacted(found.evidence) is found.evidence  # no key or text of it taken for a secret and blanked


def test_no_finding_when_the_secrets_are_listed_and_it_has_none(tmp_path: Path) -> None:
    te.irsa_estate(tmp_path, [("team-a", "app")], rbac=SECRET_READER, secrets_listed=True)
    assert json.loads((tmp_path / "kubernetes/prod/token-secrets.json").read_text())["items"] == []
    assert _alice_findings(tmp_path) == []


@pytest.mark.parametrize("listed", [True, False])
def test_a_known_token_secret_gives_the_full_severity(tmp_path: Path, listed: bool) -> None:
    secret = te.token_secret("team-a", "app-token-x7k2p", "app")
    te.irsa_estate(tmp_path, [("team-a", "app")], rbac=SECRET_READER, secrets=[secret], secrets_listed=listed)
    (found,) = _alice_findings(tmp_path)
    assert found.severity.value == "critical" and found.evidence["techniques"] == ["read-token-secret"]
    assert "legacy_token_secret_exists" not in found.evidence
    assert not any("if" in g for g in found.evidence["grants"])


def test_with_another_technique_the_finding_is_as_before_plus_the_secret_read(tmp_path: Path) -> None:
    rbac = [te.binding("alice-edit", "edit", "User:alice", namespace="team-a")]  # pods and Secrets
    pods = [te.pod("team-a", "app-1", "app")]
    te.irsa_estate(tmp_path / "known", [("team-a", "app")], rbac=rbac, pods=pods)
    te.irsa_estate(tmp_path / "unknown", [("team-a", "app")], rbac=rbac, pods=pods, secrets_listed=False)
    (known,) = _alice_findings(tmp_path / "known")
    (unknown,) = _alice_findings(tmp_path / "unknown")
    assert known.fingerprint == unknown.fingerprint and known.severity == unknown.severity
    assert "read-token-secret" not in known.evidence["techniques"]
    assert unknown.evidence["techniques"] == [*known.evidence["techniques"], "read-token-secret"]
    assert unknown.evidence["binding"] == known.evidence["binding"] and unknown.remediation == known.remediation
    assert unknown.evidence["legacy_token_secret_exists"] == UNKNOWN_SECRET


# -- the reader: what "listed whole" means -----------------------------------------------------------


def _view(root: Path) -> Any:
    inv = read(Evidence(root), Inventory(declarations=declarations_of(load_providers())))
    return kubernetes_view(inv), inv.errors


def _token_list(root: Path, doc: dict[str, Any]) -> None:
    (root / "kubernetes/prod/token-secrets.json").write_text(json.dumps(doc))


def test_the_list_is_whole_only_when_token_secrets_json_says_so(tmp_path: Path) -> None:
    secret = te.token_secret("team-a", "app-token-x7k2p", "app")
    te.irsa_estate(tmp_path / "absent", [("team-a", "app")], secrets=[secret], secrets_listed=False)
    view, _ = _view(tmp_path / "absent")
    # A Secret in resources.json exists; it says nothing of the others.
    assert view.token_secrets == {("prod", "team-a", "app"): ("app-token-x7k2p",)}
    assert view.token_secrets_listed == frozenset()
    te.irsa_estate(tmp_path / "empty", [("team-a", "app")], secrets_listed=True)
    view, errors = _view(tmp_path / "empty")
    assert (view.token_secrets, view.token_secrets_listed, errors) == ({}, frozenset({"prod"}), ())


def test_token_secrets_json_adds_to_resources_json(tmp_path: Path) -> None:
    te.irsa_estate(tmp_path, [("team-a", "app")], secrets=[te.token_secret("team-a", "one", "app")])
    _token_list(tmp_path, te.rbac_document([te.token_secret("team-a", "two", "app")], defaults=False))
    view, _ = _view(tmp_path)
    assert view.token_secrets == {("prod", "team-a", "app"): ("one", "two")}
    assert view.token_secrets_listed == frozenset({"prod"})


@pytest.mark.parametrize(
    ("doc", "location"),
    [
        (
            {"kind": "List", "metadata": {"continue": "abc"}, "items": []},
            "kubernetes/prod/token-secrets.json: metadata.continue",
        ),
        (
            {"kind": "List", "items": [{"kind": "ServiceAccount", "metadata": {"name": "x", "namespace": "a"}}]},
            "kubernetes/prod/token-secrets.json: items[0]",
        ),
        ({"kind": "List", "items": [{"kind": "Secret", "metadata": {}}]}, "kubernetes/prod/token-secrets.json: "),
    ],
    ids=["one-page", "not-a-secret", "unreadable-item"],
)
def test_a_list_that_is_not_whole_is_named_and_read_as_not_listed(
    tmp_path: Path, doc: dict[str, Any], location: str
) -> None:
    te.irsa_estate(tmp_path, [("team-a", "app")], rbac=SECRET_READER)
    _token_list(tmp_path, doc)
    view, errors = _view(tmp_path)
    assert view.token_secrets_listed == frozenset()
    (error,) = [e for e in errors if "token-secrets.json" in e.location]
    assert error.location.startswith(location) and error.rules == ("K8S-006",) and error.subject == "prod"
    assert "not whole" in error.reason
    (found,) = _alice_findings_allowing_coverage(tmp_path)
    assert found.evidence["legacy_token_secret_exists"] == UNKNOWN_SECRET  # not whole: a Secret may exist


def _alice_findings_allowing_coverage(root: Path) -> list[Finding]:
    report = audit(Evidence(root), providers=load_providers())
    return [f for f in report.findings if f.rule_id == "K8S-006" and f.evidence["subject"] == "user:alice"]


# -- live: no note, the possible takeover reported, --strict passes -----------------------------------


def test_a_live_collection_reports_the_possible_takeover_and_no_coverage(
    kube_api: Any, kubeiam_cli: Any, tmp_path: Path
) -> None:
    served = te.irsa_estate(tmp_path / "served", [("team-a", "app")], rbac=SECRET_READER, secrets_listed=False)
    api = kube_api(served / "kubernetes" / "prod")
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", cluster="prod")
    collected = kubeiam_cli("collect", "--kubeconfig", str(kubeconfig), "--output", str(tmp_path / "ev"))
    assert collected.code == 0, collected.err
    assert not any("secrets" in p for p in api.paths())
    assert not (tmp_path / "ev/kubernetes/prod/token-secrets.json").exists()
    shutil.copytree(served / "aws", tmp_path / "ev" / "aws")  # the IRSA role, read offline
    report = audit(Evidence(tmp_path / "ev"), providers=load_providers())
    assert [e for e in report.coverage["errors"] if e["source"] == "kubernetes"] == []
    (found,) = [f for f in report.findings if f.rule_id == "K8S-006" and f.evidence["subject"] == "user:alice"]
    assert found.severity.value == "high" and found.evidence["legacy_token_secret_exists"] == UNKNOWN_SECRET
