"""rbac.json and legacy token Secrets read into the Kubernetes view; what cannot be read named in coverage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import takeover_evidence as te
from kubeiam_kubernetes.evidence.rbac import load_rbac
from kubeiam_kubernetes.evidence.token_secrets import token_secrets
from kubeiam_kubernetes.view import kubernetes_view

from kubeiam.errors import InputError
from kubeiam.pipeline.audit import read_inventory
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers


def _inventory(root: Path):  # type: ignore[no-untyped-def]
    return read_inventory(Evidence(root), load_providers())


def _rbac(root: Path, doc: object) -> Path:
    path = root / "kubernetes" / "prod" / "rbac.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def test_rbac_json_is_read_into_the_view_with_the_defaults(tmp_path: Path) -> None:
    te.irsa_estate(
        tmp_path, [("team-a", "app")], rbac=[te.binding("alice-edit", "edit", "User:alice", namespace="team-a")]
    )
    objects = kubernetes_view(_inventory(tmp_path)).rbac["prod"]
    assert {b.ref for b in objects.bindings} >= {"RoleBinding/team-a/alice-edit", "ClusterRoleBinding/cluster-admin"}
    assert {r.name for r in objects.roles} >= {"admin", "edit", "view", "cluster-admin"}
    assert objects.problems == ()


def test_an_item_that_cannot_be_read_is_named_with_its_file_and_path(tmp_path: Path) -> None:
    bad = te.role("broken", {"apiGroups": [""], "resources": ["pods"], "verbs": "create"}, namespace="team-a")
    dangling = te.binding("to-nothing", "no-such-role", "User:bob", namespace="team-b")
    te.irsa_estate(tmp_path, [("team-a", "app")], rbac=[bad, dangling])
    errors = [e for e in _inventory(tmp_path).errors if "rbac.json" in e.location]
    by_location = {e.location: e for e in errors}
    n = len(te.default_items())
    verbs = by_location[f"kubernetes/prod/rbac.json: items[{n}].rules[0].verbs"]
    assert verbs.subject == "prod/team-a" and verbs.rules == ("K8S-006",)
    role_ref = by_location[f"kubernetes/prod/rbac.json: items[{n + 1}].roleRef"]
    assert "no-such-role" in role_ref.reason and role_ref.subject == "prod/team-b"


def test_one_page_of_a_longer_list_is_a_coverage_error(tmp_path: Path) -> None:
    doc = te.rbac_document([])
    doc["metadata"] = {"continue": "abc", "remainingItemCount": 12}
    _rbac(tmp_path, doc)
    _, errors = load_rbac(Evidence(tmp_path), "kubernetes/prod/rbac.json", "prod")
    assert [e.location for e in errors] == ["kubernetes/prod/rbac.json: metadata.continue"]
    assert errors[0].rules == ("K8S-006",) and errors[0].subject == "prod"


@pytest.mark.parametrize("doc", ["roles", 3, {"apiVersion": "v1"}, {"items": {"a": 1}}])
def test_a_file_that_is_not_a_list_is_bad_input_naming_it(tmp_path: Path, doc: object) -> None:
    _rbac(tmp_path, doc)
    with pytest.raises(InputError, match=r"^kubernetes/prod/rbac\.json: "):
        load_rbac(Evidence(tmp_path), "kubernetes/prod/rbac.json", "prod")


def test_other_kinds_in_the_file_are_skipped_without_a_coverage_error(tmp_path: Path) -> None:
    pod = te.pod("team-a", "p", "app")
    _rbac(tmp_path, te.rbac_document([pod]))
    objects, errors = load_rbac(Evidence(tmp_path), "kubernetes/prod/rbac.json", "prod")
    assert errors == [] and objects is not None and objects.roles


def test_absent_rbac_json_is_coverage_when_service_accounts_have_cloud_identities(tmp_path: Path) -> None:
    te.irsa_estate(tmp_path, [("team-a", "app")], rbac=None)
    errors = [e for e in _inventory(tmp_path).errors if e.location == "kubernetes/prod/rbac.json"]
    assert len(errors) == 1
    assert errors[0].subject == "prod" and errors[0].rules == ("K8S-006",) and not errors[0].whole
    assert "absent" in errors[0].reason and "kubectl get roles,rolebindings" in errors[0].reason


def test_absent_rbac_json_without_identities_is_no_coverage_error(tmp_path: Path) -> None:
    te.irsa_estate(tmp_path, [], rbac=None)
    assert not [e for e in _inventory(tmp_path).errors if "rbac.json" in e.location]


def test_legacy_token_secrets_are_known_by_their_metadata_only(tmp_path: Path) -> None:
    secret = te.token_secret("team-a", "app-token-x7k2p", "app")
    secret["data"] = {"token": "ZXlKaGJHY2lPaUpTVXpJMU5pSXNJbXRwWkNJNkluTmxZM0psZENKOS5leUp6ZFdJaU9pSjBaWE4wSW4w"}
    other = {**te.token_secret("team-a", "db", "app"), "type": "Opaque"}
    te.irsa_estate(tmp_path, [("team-a", "app")], secrets=[secret, other], rbac=[])
    view = kubernetes_view(_inventory(tmp_path))
    assert view.token_secrets == {("prod", "team-a", "app"): ("app-token-x7k2p",)}
    assert "ZXlKaGJH" not in repr(view)


def test_token_secrets_need_the_type_and_the_annotation() -> None:
    secrets = [
        te.token_secret("a", "one", "x"),
        {**te.token_secret("a", "two", "x"), "metadata": {"name": "two", "namespace": "a"}},
        {**te.token_secret("b", "three", "y"), "type": "kubernetes.io/dockerconfigjson"},
    ]
    assert token_secrets("c", secrets) == {("c", "a", "x"): ("one",)}
