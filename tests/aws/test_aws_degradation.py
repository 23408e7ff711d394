"""Item-level degradation in every AWS reader: a wrong type inside an item is a gap or a coverage entry
naming the file, the item and its subject, and the rest is audited. Exit 2 only for a file that is not
the command's shape at the top level, with the file and field named; never "internal error"."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_evidence import ACCOUNT, REGION, cluster, role_arn, service_account

from kubeiam.cli import main
from kubeiam.errors import InputError
from kubeiam.pipeline.audit import read_inventory
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
AWS = f"aws/{ACCOUNT}"
IAM = f"{AWS}/iam.json"
EC2 = f"{AWS}/{REGION}/ec2-instances.json"
LT = f"{AWS}/{REGION}/launch-template-versions.json"
EKS = f"{AWS}/{REGION}/eks/eks-prod"
NODE1 = "eks-prod/node/ip-10-0-1-10.eu-west-1.compute.internal"


def _demo(tmp_path: Path, relative: str, change: Callable[[Any], Any] | None = None, text: str | None = None) -> Path:
    root = tmp_path / "demo"
    shutil.copytree(DEMO, root)
    path = root / relative
    if change is not None:
        data = json.loads(path.read_text())
        data = change(data) or data
        path.write_text(json.dumps(data))
    if text is not None:
        path.write_text(text)
    return root


def _audit(capsys: pytest.CaptureFixture[str], root: Path) -> dict[str, Any]:
    out = root.parent / "report.json"
    rc = main(["audit", "--evidence", str(root), "--format", "json", "--output", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert rc in (0, 1), err
    assert "internal error" not in err and "kubeiam: error" not in err
    return json.loads(out.read_text())


def _gap_items(report: dict[str, Any], sa: str) -> set[str]:
    return {i["item"] for u in report["coverage"]["unchecked"] if u["service_account"] == sa for i in u["items"]}


def _errors(report: dict[str, Any], location: str) -> list[dict[str, Any]]:
    return [e for e in report["coverage"]["errors"] if e["location"] == location]


def _rules(report: dict[str, Any], sa: str) -> set[str]:
    return {f["rule_id"] for f in report["findings"] if f.get("service_account") == sa}


def _set(path: str, value: Any) -> Callable[[Any], None]:
    """Set (or, with value ..., delete) `a.b[2].c` in a JSON document."""

    def change(data: Any) -> None:
        *parents, last = _steps(path)
        node = data
        for step in parents:
            node = node[step]
        if value is ...:
            del node[last]
        else:
            node[last] = value

    return change


def _steps(path: str) -> list[str | int]:
    out: list[str | int] = []
    for part in path.split("."):
        name, _, rest = part.partition("[")
        out += [name] if name else []
        out += [int(i) for i in rest.replace("]", "").split("[") if i] if rest else []
    return out


def test_role_name_as_a_list_is_a_gap_and_the_role_still_judged(tmp_path, capsys):
    report = _audit(capsys, _demo(tmp_path, IAM, _set("RoleDetailList[1].RoleName", ["data-etl"])))
    assert _gap_items(report, "etl") == {"RoleDetailList[1].RoleName"}
    assert "AWS-010" in _rules(report, "etl")


def test_a_role_without_attached_managed_policies_is_partly_checked_never_clean(tmp_path, capsys):
    report = _audit(capsys, _demo(tmp_path, IAM, _set("RoleDetailList[1].AttachedManagedPolicies", ...)))
    assert _gap_items(report, "etl") == {"RoleDetailList[1].AttachedManagedPolicies"}
    assert _gap_items(report, "loader") == {"RoleDetailList[1].AttachedManagedPolicies"}


def test_an_inline_document_that_is_not_a_policy(tmp_path, capsys):
    report = _audit(capsys, _demo(tmp_path, IAM, _set("RoleDetailList[0].RolePolicyList[0].PolicyDocument", [1])))
    assert _gap_items(report, "api") == {"RoleDetailList[0].RolePolicyList[0].PolicyDocument"}


def test_a_managed_document_that_is_not_a_policy_reaches_its_roles(tmp_path, capsys):
    bad = _set("Policies[0].PolicyVersionList[0].Document", "not { json")  # AdministratorAccess
    report = _audit(capsys, _demo(tmp_path, IAM, bad))
    assert _gap_items(report, "etl") == {"Policies[0].PolicyVersionList[0].Document"}


def test_a_role_item_without_a_readable_arn_makes_absent_roles_unchecked_not_missing(tmp_path, capsys):
    report = _audit(capsys, _demo(tmp_path, IAM, _set("RoleDetailList[2]", "ci-runner")))
    (error,) = _errors(report, IAM)
    assert error["subject"] == ACCOUNT and error["reason"].startswith("RoleDetailList[2] ")
    assert "AWS-004" not in _rules(report, "ci-runner")
    (entry,) = [u for u in report["coverage"]["unchecked"] if u["service_account"] == "ci-runner"]
    assert "incomplete" in entry["reason"]


@pytest.mark.parametrize("hops", ["1" + "0" * 400, "1e999", "-1", "0", "65", "2.5", '"2"', "true", "null"])
def test_a_hop_limit_out_of_range_is_never_protected(tmp_path, capsys, hops):
    original = (DEMO / EC2).read_text()
    text = original.replace('"HttpPutResponseHopLimit": 2', f'"HttpPutResponseHopLimit": {hops}', 1)
    assert text != original
    report = _audit(capsys, _demo(tmp_path, EC2, text=text))
    (error,) = _errors(report, EC2)
    assert error["subject"] == NODE1 and set(error["rules"]) >= {"AWS-020", "AWS-021"}
    assert "Reservations[0].Instances[0] (i-0a1b2c3d4e5f60001" in error["reason"]
    assert "HttpPutResponseHopLimit=" in error["reason"]


def test_an_instance_profile_that_is_not_an_object(tmp_path, capsys):
    report = _audit(capsys, _demo(tmp_path, EC2, _set("Reservations[0].Instances[0].IamInstanceProfile", ["x"])))
    (error,) = _errors(report, EC2)
    assert error["subject"] == NODE1 and "IamInstanceProfile not readable" in error["reason"]


def test_an_instance_without_an_id_is_named_and_its_node_unchecked(tmp_path, capsys):
    report = _audit(capsys, _demo(tmp_path, EC2, _set("Reservations[0].Instances[0].InstanceId", ...)))
    assert [e["reason"].split(" has ")[0] for e in _errors(report, EC2)] == ["Reservations[0].Instances[0]"]
    assert any(e["subject"] == NODE1 for e in report["coverage"]["errors"])


def test_a_launch_template_version_that_is_not_readable(tmp_path, capsys):
    report = _audit(capsys, _demo(tmp_path, LT, _set("LaunchTemplateVersions[0].VersionNumber", "3")))
    reasons = {e["subject"]: e["reason"] for e in _errors(report, LT)}
    assert set(reasons) == {ACCOUNT, "eks-prod/node/nodegroup/general"}
    assert reasons[ACCOUNT].startswith("LaunchTemplateVersions[0] has no")
    assert "of node group general is not in the evidence" in reasons["eks-prod/node/nodegroup/general"]


def test_an_oidc_provider_that_is_not_readable_never_makes_a_binding_untrusted(tmp_path, capsys):
    relative = f"{AWS}/oidc-providers.json"
    report = _audit(capsys, _demo(tmp_path, relative, _set("OpenIDConnectProviderList[0]", 5)))
    errors = _errors(report, relative)
    assert {e["subject"] for e in errors} == {ACCOUNT, "eks-prod"}
    assert all(e["rules"] == ["AWS-004"] for e in errors)


def test_a_node_group_that_is_not_readable(tmp_path, capsys):
    relative = f"{EKS}/nodegroups.json"
    report = _audit(capsys, _demo(tmp_path, relative, _set("nodegroups[0].launchTemplate", "lt")))
    (error,) = _errors(report, relative)
    assert error["subject"] == "eks-prod" and error["rules"] == ["AWS-022"]
    assert error["reason"].startswith("nodegroups[0] ")


@pytest.mark.parametrize("value", [["x"], ...], ids=["list", "deleted"])
def test_an_association_without_a_role_names_its_service_account(tmp_path, capsys, value):
    relative = f"{EKS}/pod-identity-associations.json"
    report = _audit(capsys, _demo(tmp_path, relative, _set("associations[0].roleArn", value)))
    (error,) = _errors(report, relative)
    assert error["subject"] == "eks-prod/kube-system/karpenter" and "AWS-007" in error["rules"]


def test_a_cluster_arn_that_is_not_a_string_keeps_the_fingerprints(tmp_path, capsys):
    relative = f"{EKS}/cluster.json"
    before = {f["fingerprint"] for f in _audit(capsys, _demo(tmp_path / "a", relative))["findings"]}
    report = _audit(capsys, _demo(tmp_path / "b", relative, _set("cluster.arn", [])))
    assert [e["subject"] for e in _errors(report, relative)] == ["eks-prod"]
    assert {f["fingerprint"] for f in report["findings"]} == before


@pytest.mark.parametrize(
    ("relative", "content", "message"),
    [
        (IAM, "{not json", "not valid JSON"),
        (IAM, {"RoleDetailList": {}}, "field 'RoleDetailList' must be a list"),
        (IAM, {"Policies": []}, "missing field 'RoleDetailList'"),
        (IAM, {"RoleDetailList": [], "Policies": {}}, "field 'Policies' must be a list"),
        (EC2, {"Reservations": {}}, "field 'Reservations' must be a list"),
        (EC2, {"Instances": []}, "missing field 'Reservations'"),
        (f"{AWS}/oidc-providers.json", {"Providers": []}, "missing field 'OpenIDConnectProviderList'"),
        (f"{AWS}/{REGION}/eks/c/cluster.json", {"cluster": []}, "field 'cluster' must be an object"),
        (f"{AWS}/{REGION}/eks/c/nodegroups.json", {"nodegroups": {}}, "field 'nodegroups' must be a list"),
        (f"{AWS}/{REGION}/eks/c/pod-identity-associations.json", {"items": []}, "missing field 'associations'"),
        (LT, {"LaunchTemplateVersions": "x"}, "field 'LaunchTemplateVersions' must be a list"),
        (f"{AWS}/{REGION}/instance-metadata-defaults.json", {"HttpTokens": "required"}, "missing field 'AccountLevel'"),
        (f"{AWS}/{REGION}/images.json", {"Images": {}}, "field 'Images' must be a list"),
    ],
)
def test_top_level_wrong_shapes_name_the_file_and_field(tmp_path, relative, content, message):
    cluster(tmp_path, [service_account("apps", "app", role_arn("r"))])
    path = tmp_path / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(InputError) as err:
        read_inventory(Evidence(tmp_path), load_providers())
    assert str(err.value).startswith(relative) and message in str(err.value)
