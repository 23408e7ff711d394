"""Pages and neighbouring commands. A file holding one page of a paged command is a coverage error naming
the missing pages (roles not on the page are not checked, never "does not exist"); a `list-*` output where
the `describe-*` objects belong is refused in one line naming the command to run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_evidence import (
    ACCOUNT,
    REGION,
    allow,
    cluster,
    doc,
    instances,
    irsa_trust,
    node,
    oidc_providers,
    role,
    role_arn,
    service_account,
    write,
)

from kubeiam.cli import main
from kubeiam.errors import InputError
from kubeiam.pipeline.audit import audit, read_inventory
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers
from kubeiam.vocabulary.model import LinkStatus

IAM = f"aws/{ACCOUNT}/iam.json"
EKS = f"aws/{ACCOUNT}/{REGION}/eks/eks-test"


def _one_page(root: Path, **paging: Any) -> None:
    page = {
        "UserDetailList": [],
        "GroupDetailList": [],
        "RoleDetailList": [role("on-page", irsa_trust("apps", "a"))],
        "Policies": [],
        **paging,
    }
    write(root / IAM, page)
    oidc_providers(root)
    admin = role("admin-on-page-2", irsa_trust("apps", "b"), inline={"p": doc(allow("*"))})
    assert admin["Arn"] == role_arn("admin-on-page-2")
    cluster(root, [service_account("apps", "a", role_arn("on-page")), service_account("apps", "b", admin["Arn"])])


@pytest.mark.parametrize(
    "paging", [{"IsTruncated": True, "Marker": "AAEAAe8t"}, {"NextToken": "eyJNYXJrZXIiOiBudWxsfQ=="}]
)
def test_one_page_of_iam_is_a_coverage_error_and_absent_roles_are_unchecked(tmp_path, paging, capsys):
    _one_page(tmp_path, **paging)
    report = audit(Evidence(tmp_path), providers=load_providers())
    (error,) = [e for e in report.coverage["errors"] if e["location"] == IAM]
    assert error["subject"] == ACCOUNT
    assert "holds one page of aws iam get-account-authorization-details" in error["reason"]
    assert "AWS-004" not in {f.rule_id for f in report.findings}  # never "the role does not exist"
    links = {lk.service_account: lk for lk in read_inventory(Evidence(tmp_path), load_providers()).links}
    assert links["b"].status is LinkStatus.UNCHECKED and "one page" in links["b"].reason
    assert links["a"].status is LinkStatus.RESOLVED
    assert main(["audit", "--evidence", str(tmp_path), "--format", "json", "--strict", "--quiet"]) == 3
    capsys.readouterr()


def test_a_merged_iam_file_is_no_page(tmp_path):
    _one_page(tmp_path, IsTruncated=False)
    report = audit(Evidence(tmp_path), providers=load_providers())
    assert [e for e in report.coverage["errors"] if e["location"] == IAM] == []
    assert "AWS-004" in {f.rule_id for f in report.findings}  # then a role not in the file really is missing


def _eks(root: Path, **files: Any) -> None:
    cl = {"name": "eks-test", "arn": f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/eks-test"}
    write(root / EKS / "cluster.json", {"cluster": cl})
    defaults = {"nodegroups.json": {"nodegroups": []}, "pod-identity-associations.json": {"associations": []}}
    for name, content in {**defaults, **files}.items():
        write(root / EKS / name, content)


@pytest.mark.parametrize(
    ("relative", "content", "subject", "rule"),
    [
        (
            f"aws/{ACCOUNT}/{REGION}/ec2-instances.json",
            {"Reservations": [], "NextToken": "abc"},
            ACCOUNT,
            "AWS-020",
        ),
        (
            f"aws/{ACCOUNT}/{REGION}/launch-template-versions.json",
            {"LaunchTemplateVersions": [], "NextToken": "abc"},
            ACCOUNT,
            "AWS-022",
        ),
        (f"{EKS}/pod-identity-associations.json", {"associations": [], "nextToken": "abc"}, "eks-test", "AWS-007"),
        (f"{EKS}/nodegroups.json", {"nodegroups": [], "nextToken": "abc"}, "eks-test", "AWS-022"),
    ],
)
def test_every_other_paged_output_too(tmp_path, relative, content, subject, rule):
    cluster(tmp_path, [service_account("apps", "a")])
    _eks(tmp_path)
    write(tmp_path / relative, content)
    report = audit(Evidence(tmp_path), providers=load_providers())
    (error,) = [e for e in report.coverage["errors"] if e["location"] == relative]
    assert error["subject"] == subject and rule in error["rules"] and "one page" in error["reason"]


def test_instances_on_later_pages_leave_their_nodes_unchecked(tmp_path):
    cluster(tmp_path, [node("n1", "i-0000000000000000a"), node("n2", "i-0000000000000000b")])
    instances(tmp_path, [("i-0000000000000000a", "p", "required", 1)])
    path = tmp_path / f"aws/{ACCOUNT}/{REGION}/ec2-instances.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "NextToken": "abc"}))
    subjects = {e.subject for e in read_inventory(Evidence(tmp_path), load_providers()).errors}
    assert {ACCOUNT, "eks-test/node/n2"} <= subjects


@pytest.mark.parametrize(
    ("name", "content", "command"),
    [
        ("nodegroups.json", {"nodegroups": ["general", "gpu"]}, "aws eks describe-nodegroup --cluster-name eks-test"),
        (
            "pod-identity-associations.json",
            {
                "associations": [
                    {
                        "clusterName": "eks-test",
                        "namespace": "apps",
                        "serviceAccount": "a",
                        "associationArn": f"arn:aws:eks:{REGION}:{ACCOUNT}:podidentityassociation/eks-test/a-1",
                        "associationId": "a-1",
                    }
                ],
                "nextToken": None,
            },
            "aws eks describe-pod-identity-association --cluster-name eks-test",
        ),
        ("cluster.json", {"clusters": ["eks-test"]}, "aws eks describe-cluster --name eks-test"),
        ("nodegroups.json", {"nodegroup": {"nodegroupName": "general"}}, '{"nodegroups": [<.nodegroup of each>]}'),
        ("pod-identity-associations.json", {"association": {}}, '{"associations": [<.association of each>]}'),
    ],
)
def test_list_output_names_the_describe_command_to_run(tmp_path, capsys, name, content, command):
    cluster(tmp_path, [service_account("apps", "a")])
    _eks(tmp_path, **{name: content})
    with pytest.raises(InputError) as err:
        read_inventory(Evidence(tmp_path), load_providers())
    message = str(err.value)
    assert message.startswith(f"{EKS}/{name}: ") and command in message and "\n" not in message
    assert main(["audit", "--evidence", str(tmp_path), "--format", "json", "--quiet"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
