"""The IAM policy grammar in full (IAM JSON policy reference), and what the AWS reader does with a
statement it cannot understand: a gap on the identity naming file and item, the rest judged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_evidence import (
    ACCOUNT,
    HOST,
    NODE_TRUST,
    allow,
    cluster,
    doc,
    iam,
    irsa_trust,
    oidc_providers,
    policy,
    policy_arn,
    role,
    role_arn,
    service_account,
)
from kubeiam_aws.judge.conditions import ConditionOutcome, SessionContext, condition_outcome

from kubeiam.cli import main
from kubeiam.pipeline.audit import audit, read_inventory
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers
from kubeiam.vocabulary.model import LinkStatus
from kubeiam.vocabulary.policy import Principal, read_document

CTX = SessionContext(role_arn("app"), ACCOUNT)


def _one(statement: dict[str, Any], version: str | None = "2012-10-17"):
    document: dict[str, Any] = {"Statement": [statement]}
    if version is not None:
        document["Version"] = version
    return read_document(document)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, ("true",)),
        (False, ("false",)),
        (3, ("3",)),
        (1.5, ("1.5",)),
        ("x", ("x",)),
        ([True, "x", 7], ("true", "x", "7")),
        ([], ()),
    ],
)
def test_condition_values_of_any_json_scalar_type_scalar_or_list(value, expected):
    d = _one({"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"k:v": value}}})
    assert d.problems == ()
    assert d.statements[0].conditions[0].values == expected


@pytest.mark.parametrize("value", [None, {"a": 1}, [["nested"]], [None]])
def test_a_condition_value_that_is_no_scalar_is_a_problem_naming_the_key(value):
    d = _one({"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"k:v": value}}})
    assert d.statements == ()
    assert [p.item for p in d.problems] == ["Statement[0].Condition.Bool.k:v"]


@pytest.mark.parametrize("version", ["2012-10-17", "2008-10-17", None])
def test_every_policy_language_version_is_read(version):
    d = _one({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}, version)
    assert d.problems == () and d.version == version and d.statements[0].actions == ("s3:GetObject",)


@pytest.mark.parametrize("version", ["2019-01-01", ["2012-10-17"], 2012])
def test_an_unknown_version_is_named_and_the_statements_still_read(version):
    d = _one({"Effect": "Allow", "Action": "*", "Resource": "*"}, version)
    assert [p.item for p in d.problems] == ["Version"] and len(d.statements) == 1


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        ("*", [Principal("*", "*")]),
        ({"AWS": "*"}, [Principal("AWS", "*")]),
        ({"AWS": "444455556666"}, [Principal("AWS", "444455556666")]),
        ({"AWS": 44455556666}, [Principal("AWS", "044455556666")]),  # a JSON number loses the leading zero
        (
            {"AWS": ["arn:aws:iam::444455556666:root", "arn:aws:iam::444455556666:role/r"]},
            [Principal("AWS", "arn:aws:iam::444455556666:root"), Principal("AWS", "arn:aws:iam::444455556666:role/r")],
        ),
        ({"Service": ["ec2.amazonaws.com"]}, [Principal("Service", "ec2.amazonaws.com")]),
        ({"Federated": "cognito-identity.amazonaws.com"}, [Principal("Federated", "cognito-identity.amazonaws.com")]),
        ({"CanonicalUser": "79a59df900b949e5"}, [Principal("CanonicalUser", "79a59df900b949e5")]),
    ],
)
def test_every_principal_form(principal, expected):
    d = _one({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"})
    assert d.problems == () and list(d.statements[0].principals) == expected


@pytest.mark.parametrize(
    ("statement", "item"),
    [
        ({"Effect": "Allow", "Principal": {"Robot": "x"}, "Action": "sts:AssumeRole"}, "Statement[0].Principal.Robot"),
        ({"Effect": "Allow", "Principal": ["*"], "Action": "sts:AssumeRole"}, "Statement[0].Principal"),
        ({"Effect": "Allow", "NotPrincipal": {"AWS": "*"}, "Action": "s3:*"}, "Statement[0].NotPrincipal"),
        ({"Effect": "Allow", "Action": 5, "Resource": "*"}, "Statement[0].Action"),
        ({"Effect": "Allow", "Action": ["s3:*", 5], "Resource": "*"}, "Statement[0].Action"),
        ({"Effect": "Allow", "Action": "s3:*", "Resource": {"arn": "x"}}, "Statement[0].Resource"),
        ({"Effect": "Allow", "Action": "s3:*", "NotAction": "iam:*", "Resource": "*"}, "Statement[0]"),
        ({"Effect": "Allow", "Actions": "s3:*", "Resource": "*"}, "Statement[0].Actions"),
        ({"Effect": "allow", "Action": "s3:*", "Resource": "*"}, "Statement[0].Effect"),
        ({"Effect": ["Allow"], "Action": "s3:*", "Resource": "*"}, "Statement[0].Effect"),
        (
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"Bool": ["x"]}},
            "Statement[0].Condition.Bool",
        ),
        ({"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"StringEqualz": {"a": "b"}}}, None),
        ("Allow everything", "Statement[0]"),
    ],
)
def test_what_is_not_the_grammar_is_named_never_raised(statement, item):
    d = read_document({"Version": "2012-10-17", "Statement": [statement, {"Effect": "Deny", "Action": "x:Y"}]})
    assert [s.actions for s in d.statements] == [("x:Y",)]  # the other statement is still read
    assert len(d.problems) == 1
    assert d.problems[0].item == (item or "Statement[0].Condition.StringEqualz")


def test_not_principal_with_deny_not_action_not_resource_and_operator_affixes():
    d = _one(
        {
            "Effect": "Deny",
            "NotPrincipal": {"AWS": ["arn:aws:iam::111122223333:root"]},
            "NotAction": "s3:GetObject",
            "NotResource": ["arn:aws:s3:::logs/*"],
            "Condition": {
                "StringEqualsIfExists": {"aws:RequestTag/team": "a"},
                "ForAllValues:StringLike": {"aws:TagKeys": ["team*"]},
                "ForAnyValue:StringEquals": {"aws:CalledVia": "cloudformation.amazonaws.com"},
            },
        }
    )
    (s,) = d.statements
    assert d.problems == ()
    assert s.not_principals == (Principal("AWS", "arn:aws:iam::111122223333:root"),)
    assert s.not_actions == ("s3:GetObject",) and s.not_resources == ("arn:aws:s3:::logs/*",)
    assert [c.base_operator for c in s.conditions] == ["StringEquals", "StringLike", "StringEquals"]


def test_statement_as_one_object_or_a_list():
    one = read_document({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}})
    many = read_document({"Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": ["*"]}]})
    assert one.statements == many.statements and one.problems == many.problems == ()


@pytest.mark.parametrize(("version", "variable"), [("2012-10-17", True), ("2008-10-17", False), (None, False)])
def test_policy_variables_are_kept_as_written_and_known_by_version(version, variable):
    d = _one(
        {
            "Effect": "Allow",
            "Action": "s3:*",
            "Resource": "arn:aws:s3:::home/${aws:username}/*",
            "Condition": {"StringEquals": {"aws:PrincipalTag/team": "${aws:PrincipalTag/team}"}},
        },
        version,
    )
    (s,) = d.statements
    assert s.resources == ("arn:aws:s3:::home/${aws:username}/*",)
    assert s.conditions[0].values == ("${aws:PrincipalTag/team}",) and s.conditions[0].variables is variable
    assert s.variable(s.resources[0]) is variable


def test_a_variable_is_never_decided_by_comparing_its_text():
    d = _one(
        {
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:PrincipalAccount": "${aws:ResourceAccount}"}},
        }
    )
    assert condition_outcome(d.statements[0].conditions[0], CTX) is ConditionOutcome.MAYBE


def _admin_with_deny(tmp_path: Path, version: str | None) -> set[str]:
    deny = {
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:PrincipalAccount": "${aws:ResourceAccount}"}},
    }
    document: dict[str, Any] = {"Statement": [allow("*"), deny]}
    if version:
        document["Version"] = version
    iam(tmp_path, [role("app", irsa_trust("apps", "app"), inline={"p": document})])
    oidc_providers(tmp_path)
    cluster(tmp_path, [service_account("apps", "app", role_arn("app"))])
    return {f.rule_id for f in audit(Evidence(tmp_path), providers=load_providers()).findings}


def test_a_deny_with_a_variable_does_not_hide_an_admin_grant(tmp_path):
    """In 2012-10-17 IAM fills the variable in (the Deny may not apply): the admin grant stands. Before, the
    literal text `${aws:ResourceAccount}` made the Deny "always" apply and the role looked harmless."""
    assert "AWS-010" in _admin_with_deny(tmp_path, "2012-10-17")


def test_in_2008_10_17_the_same_text_is_literal(tmp_path):
    # No substitution: the account is never the text "${aws:ResourceAccount}", so the Deny applies to all.
    assert "AWS-010" not in _admin_with_deny(tmp_path, "2008-10-17")


def _passrole_to(tmp_path: Path, resource: str, version: str) -> set[str]:
    document = {"Version": version, "Statement": [allow(["iam:PassRole", "ec2:RunInstances"], resource)]}
    iam(
        tmp_path,
        [role("app", irsa_trust("apps", "app"), inline={"p": document}), role("target", NODE_TRUST)],
    )
    oidc_providers(tmp_path)
    cluster(tmp_path, [service_account("apps", "app", role_arn("app"))])
    return {f.rule_id for f in audit(Evidence(tmp_path), providers=load_providers()).findings}


def test_a_resource_variable_is_judged_as_any_role(tmp_path):
    resource = f"arn:aws:iam::{ACCOUNT}:role/${{aws:PrincipalTag/team}}"
    assert "AWS-014" in _passrole_to(tmp_path, resource, "2012-10-17")  # IAM may fill in any role name
    assert "AWS-014" not in _passrole_to(tmp_path, resource, "2008-10-17")  # one role with that odd name


def test_a_trust_sub_with_a_variable_pins_nothing(tmp_path):
    trust = irsa_trust("apps", "app")
    trust["Statement"][0]["Condition"]["StringEquals"][f"{HOST}:sub"] = "system:serviceaccount:${aws:x}:app"
    iam(tmp_path, [role("app", trust)])
    oidc_providers(tmp_path)
    cluster(tmp_path, [service_account("apps", "app", role_arn("app"))])
    report = audit(Evidence(tmp_path), providers=load_providers())
    assert report.coverage["identities"]["aws"]["resolved"] == 1  # never "untrusted" on the variable's text
    assert "AWS-003" in {f.rule_id for f in report.findings}


def _gap_case(tmp_path: Path, grant: dict[str, Any]) -> None:
    bad = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"Bool": {"x": {"y": 1}}}}
    iam(tmp_path, [role("app", irsa_trust("apps", "app"), inline={"p": doc(grant, bad)})])
    oidc_providers(tmp_path)
    cluster(tmp_path, [service_account("apps", "app", role_arn("app"))])


def test_a_statement_not_understood_is_a_gap_on_the_identity_and_the_rest_is_judged(tmp_path):
    _gap_case(tmp_path, allow("*"))
    report = audit(Evidence(tmp_path), providers=load_providers())
    assert "AWS-010" in {f.rule_id for f in report.findings}
    (entry,) = report.coverage["unchecked"]
    assert entry["principal"] == role_arn("app") and entry["reason"].startswith("partly checked")
    assert entry["items"] == [
        {
            "location": f"aws/{ACCOUNT}/iam.json",
            "item": "RoleDetailList[0].RolePolicyList[0].PolicyDocument.Statement[1].Condition.Bool.x",
            "reason": "must be a string, number or boolean, or a list of them, not an object",
        }
    ]
    link = next(lk for lk in read_inventory(Evidence(tmp_path), load_providers()).links if lk.cloud == "aws")
    assert link.status is LinkStatus.RESOLVED


def test_a_gap_is_exit_3_under_strict_and_never_exit_2(tmp_path, capsys):
    _gap_case(tmp_path, allow("s3:GetObject", "arn:aws:s3:::bucket/*"))
    assert main(["audit", "--evidence", str(tmp_path), "--format", "json", "--quiet"]) == 0
    assert main(["audit", "--evidence", str(tmp_path), "--format", "json", "--strict", "--quiet"]) == 3
    assert "kubeiam: error" not in capsys.readouterr().err


def test_a_trust_policy_read_in_part_never_calls_a_binding_untrusted(tmp_path):
    good = irsa_trust("apps", "other")["Statement"][0]
    broken = {**irsa_trust("apps", "app")["Statement"][0], "Action": {"not": "a list"}}
    iam(tmp_path, [role("app", {"Version": "2012-10-17", "Statement": [good, broken]})])
    oidc_providers(tmp_path)
    cluster(tmp_path, [service_account("apps", "app", role_arn("app"))])
    report = audit(Evidence(tmp_path), providers=load_providers())
    assert report.coverage["identities"]["aws"]["untrusted"] == 0
    assert "AWS-004" not in {f.rule_id for f in report.findings}
    (entry,) = report.coverage["unchecked"]
    assert "RoleDetailList[0].AssumeRolePolicyDocument.Statement[1].Action" in entry["reason"]


def test_not_principal_in_a_trust_policy_is_a_gap(tmp_path):
    trust = irsa_trust("apps", "app")
    trust["Statement"].append({"Effect": "Deny", "NotPrincipal": {"AWS": "*"}, "Action": "sts:AssumeRole"})
    iam(tmp_path, [role("app", trust)])
    cluster(tmp_path, [service_account("apps", "app", role_arn("app"))])
    (r,) = read_inventory(Evidence(tmp_path), load_providers()).views["aws"].roles.values()
    assert [g.item for g in r.gaps] == ["RoleDetailList[0].AssumeRolePolicyDocument.Statement"]


def test_managed_policy_gap_reaches_every_role_attaching_it(tmp_path):
    arn = policy_arn("p")
    bad = json.loads(json.dumps(doc(allow("s3:*"), {"Effect": "Allow", "Action": [1], "Resource": "*"})))
    iam(
        tmp_path,
        [role(n, irsa_trust("apps", n), attached=[arn]) for n in ("a", "b")],
        [policy(arn, bad)],
    )
    oidc_providers(tmp_path)
    cluster(tmp_path, [service_account("apps", n, role_arn(n)) for n in ("a", "b")])
    report = audit(Evidence(tmp_path), providers=load_providers())
    items = {(u["service_account"], i["item"]) for u in report.coverage["unchecked"] for i in u["items"]}
    assert items == {(n, "Policies[0].PolicyVersionList[0].Document.Statement[1].Action") for n in ("a", "b")}
    assert {f.service_account for f in report.findings if f.rule_id == "AWS-012"} == {"a", "b"}
