"""Unknown is not safe: IMDS settings that are missing, unknown or out of range are never "protected"; a
launch template without MetadataOptions reports what the nodes will get when the account default
(instance-metadata-defaults.json) and the AMI (images.json) tell, and is a finding when they do not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_evidence import (
    ACCOUNT,
    ISSUER,
    NODE_TRUST,
    REGION,
    cluster,
    iam,
    node,
    pod,
    role,
    write,
)
from kubeiam_aws.evidence.imds import AccountDefaults, instance_imds, karpenter_imds, template_imds

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers
from kubeiam.vocabulary.findings import Severity

BASE = Path("aws") / ACCOUNT / REGION
IID = "i-0000000000000000a"


@pytest.mark.parametrize(
    ("options", "tokens", "hops", "unreadable"),
    [
        ({"HttpTokens": "required", "HttpPutResponseHopLimit": 1}, "required", 1, ()),
        ({"HttpTokens": "OPTIONAL", "HttpPutResponseHopLimit": 1}, "optional", 1, ()),
        ({"HttpTokens": " Optional ", "HttpPutResponseHopLimit": 2.0}, "optional", 2, ()),
        ({"HttpTokens": 1, "HttpPutResponseHopLimit": 1}, None, 1, ("HttpTokens=1",)),
        ({"HttpTokens": "v1", "HttpPutResponseHopLimit": 1}, None, 1, ('HttpTokens="v1"',)),
        ({"HttpPutResponseHopLimit": 1}, None, 1, ("HttpTokens missing",)),
        ({"HttpTokens": "required"}, "required", None, ("HttpPutResponseHopLimit missing",)),
        ({"HttpTokens": "required", "HttpPutResponseHopLimit": -1}, "required", None, ("HttpPutResponseHopLimit=-1",)),
        (None, None, None, ("MetadataOptions missing",)),
        ("optional", None, None, ('MetadataOptions is "optional"',)),
    ],
)
def test_instance_settings_are_read_never_guessed(options, tokens, hops, unreadable):
    imds = instance_imds(options)
    assert (imds.http_tokens, imds.hop_limit, imds.unreadable) == (tokens, hops, unreadable)


def test_a_disabled_endpoint_needs_nothing_else_and_an_unknown_one_counts_as_enabled():
    assert instance_imds({"HttpEndpoint": "DISABLED"}).unreadable == ()
    assert instance_imds({"HttpEndpoint": "DISABLED"}).disabled
    odd = instance_imds({"HttpEndpoint": "maybe", "HttpTokens": "optional", "HttpPutResponseHopLimit": 1})
    assert odd.endpoint == "enabled" and odd.v1_allowed


@pytest.mark.parametrize(
    ("defaults", "ami_v2", "tokens", "hops", "unset"),
    [
        (None, None, None, None, ("HttpTokens", "HttpPutResponseHopLimit")),  # nothing tells
        (AccountDefaults("required", 1), None, "required", 1, ()),  # the account default decides
        (AccountDefaults("optional"), None, "optional", None, ("HttpPutResponseHopLimit",)),
        (AccountDefaults(), True, "required", 2, ()),  # no preference: the AMI's ImdsSupport v2.0
        (AccountDefaults("optional"), True, "optional", 2, ()),  # the account default outranks the AMI
        (AccountDefaults(), False, "optional", 1, ()),  # neither: EC2's default
        (None, False, None, None, ("HttpTokens", "HttpPutResponseHopLimit")),  # the account default unknown
    ],
)
def test_a_template_without_metadata_options_gets_what_ec2_would_give(defaults, ami_v2, tokens, hops, unset):
    imds = template_imds(None, defaults, ami_v2)
    assert (imds.http_tokens, imds.hop_limit, imds.unset, imds.unreadable) == (tokens, hops, unset, ())


def test_the_template_own_settings_outrank_every_default():
    own = {"HttpTokens": "Required", "HttpPutResponseHopLimit": 1}
    imds = template_imds(own, AccountDefaults("optional", 3), False)
    assert (imds.http_tokens, imds.hop_limit, imds.inherited) == ("required", 1, ())


def test_karpenter_defaults_and_unknown_values():
    assert (karpenter_imds(None).http_tokens, karpenter_imds(None).hop_limit) == ("required", 1)
    assert karpenter_imds({"httpTokens": "Optional"}).v1_allowed
    assert karpenter_imds({"httpPutResponseHopLimit": -1}).unreadable == ("httpPutResponseHopLimit=-1",)


def _nodes_evidence(root: Path, metadata: Any) -> None:
    iam(root, [role("node", NODE_TRUST, profiles=["node-profile"])])
    cluster(root, [node("n1", IID), pod("apps", "p", "default", "n1")])
    inst: dict[str, Any] = {
        "InstanceId": IID,
        "IamInstanceProfile": {"Arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/node-profile"},
    }
    if metadata is not ...:
        inst["MetadataOptions"] = metadata
    write(root / BASE / "ec2-instances.json", {"Reservations": [{"Instances": [inst]}]})


def test_optional_in_any_case_is_imdsv1_allowed(tmp_path):
    _nodes_evidence(tmp_path, {"HttpTokens": "OPTIONAL", "HttpPutResponseHopLimit": 1, "HttpEndpoint": "enabled"})
    assert "AWS-020" in {f.rule_id for f in audit(Evidence(tmp_path), providers=load_providers()).findings}


@pytest.mark.parametrize(
    "metadata",
    [..., {"HttpTokens": 1, "HttpPutResponseHopLimit": 1}, {"HttpPutResponseHopLimit": 1}, {"HttpTokens": "optional"}],
)
def test_unknown_instance_settings_are_a_coverage_entry_naming_instance_and_node(tmp_path, metadata):
    _nodes_evidence(tmp_path, metadata)
    report = audit(Evidence(tmp_path), providers=load_providers())
    (error,) = [e for e in report.coverage["errors"] if e["location"] == str(BASE / "ec2-instances.json")]
    assert error["subject"] == "eks-test/node/n1" and IID in error["reason"]
    assert {"AWS-020", "AWS-021"} <= set(error["rules"])


def _template_evidence(root: Path, metadata: Any, defaults: Any = None, images: Any = None) -> list:
    iam(root, [role("node", NODE_TRUST, profiles=["node-profile"])])
    cluster(root, [node("n1", IID)])
    base = root / BASE
    eks = {"name": "eks-test", "arn": f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/eks-test"}
    write(base / "eks" / "eks-test" / "cluster.json", {"cluster": {**eks, "identity": {"oidc": {"issuer": ISSUER}}}})
    ng = {"nodegroupName": "general", "launchTemplate": {"id": "lt-0abc", "version": "1"}}
    write(base / "eks" / "eks-test" / "nodegroups.json", {"nodegroups": [ng]})
    write(base / "eks" / "eks-test" / "pod-identity-associations.json", {"associations": []})
    data: dict[str, Any] = {"ImageId": "ami-0123"}
    if metadata is not ...:
        data["MetadataOptions"] = metadata
    lt = {"LaunchTemplateId": "lt-0abc", "VersionNumber": 1, "DefaultVersion": True, "LaunchTemplateData": data}
    write(base / "launch-template-versions.json", {"LaunchTemplateVersions": [lt]})
    if defaults is not None:
        write(base / "instance-metadata-defaults.json", {"AccountLevel": defaults})
    if images is not None:
        write(base / "images.json", {"Images": images})
    report = audit(Evidence(root), providers=load_providers())
    assert [e for e in report.coverage["errors"] if e.get("rules") == ["AWS-022"]] == []
    return [f for f in report.findings if f.rule_id == "AWS-022"]


def test_a_template_without_metadata_options_and_nothing_to_tell_is_a_finding(tmp_path):
    (f,) = _template_evidence(tmp_path, ...)
    assert f.severity is Severity.MEDIUM and f.node == "nodegroup/general"
    assert f.evidence["not_set"] == ["HttpTokens", "HttpPutResponseHopLimit"]


def test_the_account_default_can_make_such_a_template_safe(tmp_path):
    assert _template_evidence(tmp_path, ..., {"HttpTokens": "required", "HttpPutResponseHopLimit": 1}) == []


def test_the_account_default_can_make_it_imdsv1(tmp_path):
    (f,) = _template_evidence(tmp_path, ..., {"HttpTokens": "optional", "HttpPutResponseHopLimit": 1})
    assert f.severity is Severity.HIGH and f.evidence["inherited"][0].startswith("HttpTokens=optional from the account")


def test_the_ami_v2_gives_imdsv2_with_hop_limit_two(tmp_path):
    (f,) = _template_evidence(tmp_path, ..., {}, [{"ImageId": "ami-0123", "ImdsSupport": "v2.0"}])
    assert (f.evidence["http_tokens"], f.evidence["hop_limit"], f.severity) == ("required", 2, Severity.MEDIUM)


def test_no_account_default_and_an_ami_without_v2_is_ec2s_default_imdsv1(tmp_path):
    (f,) = _template_evidence(tmp_path, ..., {"HttpPutResponseHopLimit": -1}, [{"ImageId": "ami-0123"}])
    assert (f.evidence["http_tokens"], f.severity) == ("optional", Severity.HIGH)


def test_an_unreadable_template_setting_is_a_coverage_entry_naming_the_template(tmp_path):
    iam(tmp_path, [])
    with pytest.raises(AssertionError):
        _template_evidence(tmp_path, {"HttpTokens": 1, "HttpPutResponseHopLimit": 1})
    report = audit(Evidence(tmp_path), providers=load_providers())
    (error,) = [e for e in report.coverage["errors"] if e.get("rules") == ["AWS-022"]]
    assert error["subject"] == "eks-test/node/nodegroup/general"
    assert "LaunchTemplateVersions[0] (lt-0abc v1) MetadataOptions: HttpTokens=1" in error["reason"]
