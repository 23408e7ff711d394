"""AWS-specific semantics: conditions, the action catalogue, resource judgements, trust reading."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from kubeiam_aws.judge.catalogue import PERMISSIONS_MANAGEMENT, _level, aws_catalog, expand_pattern
from kubeiam_aws.judge.conditions import ConditionOutcome, SessionContext, condition_outcome, prepare
from kubeiam_aws.judge.escalation import escalation_paths, passes_to, resource_abusable
from kubeiam_aws.judge.trust import issuer_host, provider_host, web_identity_grants

from kubeiam.vocabulary.policy import Condition, parse_document

CTX = SessionContext("arn:aws:iam::111122223333:role/app", "111122223333", datetime(2024, 5, 2, tzinfo=UTC))


@pytest.mark.parametrize(
    ("operator", "key", "values", "verdict"),
    [
        ("DateLessThan", "aws:TokenIssueTime", ("2020-01-01T00:00:01Z",), ConditionOutcome.NEVER),
        ("DateGreaterThan", "aws:TokenIssueTime", ("2020-01-01T00:00:01Z",), ConditionOutcome.ALWAYS),
        ("DateLessThan", "aws:CurrentTime", ("2030-01-01T00:00:00Z",), ConditionOutcome.MAYBE),
        ("StringEquals", "aws:PrincipalArn", ("arn:aws:iam::111122223333:role/other",), ConditionOutcome.NEVER),
        ("ArnLike", "aws:PrincipalArn", ("arn:aws:iam::111122223333:role/*",), ConditionOutcome.ALWAYS),
        ("StringNotEquals", "aws:PrincipalAccount", ("111122223333",), ConditionOutcome.NEVER),
        ("StringEquals", "aws:PrincipalType", ("User",), ConditionOutcome.NEVER),
        ("Bool", "aws:MultiFactorAuthPresent", ("true",), ConditionOutcome.NEVER),
        ("BoolIfExists", "aws:MultiFactorAuthPresent", ("true",), ConditionOutcome.MAYBE),
        ("Null", "aws:TokenIssueTime", ("true",), ConditionOutcome.NEVER),
        ("StringEquals", "aws:RequestTag/team", ("a",), ConditionOutcome.MAYBE),
        ("ForAnyValue:StringEquals", "aws:PrincipalArn", ("x",), ConditionOutcome.MAYBE),
        # Condition values are case-sensitive: another spelling of the role is another principal.
        ("StringEquals", "aws:PrincipalArn", ("arn:aws:iam::111122223333:role/APP",), ConditionOutcome.NEVER),
        ("ArnLike", "aws:PrincipalArn", ("arn:aws:iam::111122223333:role/A*",), ConditionOutcome.NEVER),
        ("StringNotEquals", "aws:PrincipalArn", ("arn:aws:iam::111122223333:role/App",), ConditionOutcome.ALWAYS),
        (
            "StringEqualsIgnoreCase",
            "aws:PrincipalArn",
            ("arn:aws:iam::111122223333:role/APP",),
            ConditionOutcome.ALWAYS,
        ),
    ],
)
def test_condition_verdicts(operator, key, values, verdict):
    assert condition_outcome(Condition(operator, key, values), CTX) is verdict


def test_unknown_role_age_decides_no_date():
    ctx = SessionContext(CTX.principal_arn, CTX.account, None)
    cond = Condition("DateLessThan", "aws:TokenIssueTime", ("2020-01-01T00:00:01Z",))
    assert condition_outcome(cond, ctx) is ConditionOutcome.MAYBE


def test_prepare_drops_never_and_strips_always():
    stmts = parse_document(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "a:B",
                    "Resource": "*",
                    "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
                },
                {
                    "Effect": "Allow",
                    "Action": "c:D",
                    "Resource": "*",
                    "Condition": {
                        "DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"},
                        "StringEquals": {"aws:RequestTag/x": "y"},
                    },
                },
            ]
        }
    )
    out = prepare(stmts, CTX)
    assert [s.actions for s in out] == [("c:D",)]
    assert [c.key for c in out[0].conditions] == ["aws:RequestTag/x"]


def test_combined_access_levels_keep_the_sensitive_one():
    assert _level("Permissions management, Write") == PERMISSIONS_MANAGEMENT
    assert _level("Tagging, Write") == "Write"
    assert aws_catalog().access_level("iam:PutRolePolicy") == PERMISSIONS_MANAGEMENT
    assert aws_catalog().access_level("S3:getobject") == "Read"


def test_catalogue_is_loaded_once_and_expands_per_service():
    assert aws_catalog() is aws_catalog()
    gets = expand_pattern("s3:Get*")
    assert "s3:GetObject" in gets and all(a.startswith("s3:") for a in gets)
    assert "iam:PassRole" in expand_pattern("*:PassRole")


@pytest.mark.parametrize(
    ("action", "resource", "abusable"),
    [
        ("iam:CreatePolicyVersion", "arn:aws:iam::aws:policy/fp4-*", False),
        ("iam:CreatePolicyVersion", "arn:aws:iam::*:policy/fn2-*", True),
        ("iam:PassRole", "arn:aws:iam::111122223333:role/KarpenterNodeRole", False),
        ("iam:PassRole", "arn:aws:iam::111122223333:role/ml-*", True),
        ("sts:AssumeRole", "*", True),
        ("iam:PutRolePolicy", "arn:aws:iam::111122223333:role/app", True),
        # PassRole / AssumeRole on resources that are no role pass or assume nothing.
        ("iam:PassRole", "arn:aws:s3:::bucket-584/*", False),
        ("iam:PassRole", "arn:aws:sqs:eu-west-1:111122223333:queue-1", False),
        ("sts:AssumeRole", "arn:aws:iam::111122223333:user/*", False),
        ("iam:PassRole", "arn:aws:iam::111122223333:*", True),
        ("iam:PassRole", "arn:aws:*:*:111122223333:role/*", True),
    ],
)
def test_resource_judgements(action, resource, abusable):
    assert resource_abusable(action, resource, lambda arn: False) is abusable


def test_passrole_to_a_named_admin_role_is_abusable():
    assert resource_abusable("iam:PassRole", "arn:aws:iam::1:role/admin", lambda arn: arn.endswith("/admin"))


def test_passed_to_service_limits_the_path():
    stmt = parse_document(
        {
            "Statement": {
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": "*",
                "Condition": {"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com"]}},
            }
        }
    )[0]
    assert passes_to(stmt, "ec2.amazonaws.com") and not passes_to(stmt, "lambda.amazonaws.com")


def test_catalogue_paths_are_known_actions():
    cat = aws_catalog()
    unknown = {a for p in escalation_paths() for a in p.requires if a.lower() not in cat.levels}
    assert unknown == set()
    assert len(escalation_paths()) >= 69


def test_issuer_and_provider_hosts():
    assert issuer_host("https://oidc.eks.eu-west-1.amazonaws.com/id/ABC/") == "oidc.eks.eu-west-1.amazonaws.com/id/abc"
    assert provider_host("arn:aws-cn:iam::1:oidc-provider/oidc.eks.cn-north-1.amazonaws.com.cn/id/X") == (
        "1",
        "oidc.eks.cn-north-1.amazonaws.com.cn/id/x",
    )
    trust = parse_document(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": "arn:aws:iam::1:oidc-provider/h/id/X"},
                    "Action": "sts:AssumeRole",
                },
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": "arn:aws:iam::1:oidc-provider/h/id/X"},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {"StringLike": {"h/id/X:sub": "system:serviceaccount:ns:*"}},
                },
            ]
        }
    )
    grants = web_identity_grants(trust)
    assert [g.problem() for g in grants] == ["wildcard-sub"]
    assert grants[0].admits("ns", "a") and not grants[0].admits("other", "a")


def test_trust_evidence_masks_external_ids():
    from kubeiam_aws.rules.trust import _shown

    raw = {"Effect": "Allow", "Condition": {"StringEquals": {"sts:ExternalId": "very-secret-string", "x:aud": "sts"}}}
    shown = _shown(raw)
    assert shown["Condition"]["StringEquals"] == {"sts:ExternalId": "***", "x:aud": "sts"}
    assert raw["Condition"]["StringEquals"]["sts:ExternalId"] == "very-secret-string"  # the model is untouched


def _irsa_grant(condition: dict) -> object:
    return web_identity_grants(
        parse_document(
            {
                "Statement": {
                    "Effect": "Allow",
                    "Principal": {"Federated": "arn:aws:iam::1:oidc-provider/h/id/X"},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": condition,
                }
            }
        )
    )[0]


@pytest.mark.parametrize(
    ("condition", "problem"),
    [
        ({"StringEquals": {"h/id/X:sub": "system:serviceaccount:ns:a", "h/id/X:aud": "sts.amazonaws.com"}}, None),
        ({"StringLike": {"h/id/X:sub": "system:serviceaccount:ns:a"}}, None),
        ({"StringEquals": {"h/id/X:aud": "sts.amazonaws.com"}}, "aud-without-sub"),
        # A `sub` key that pins nothing is no `sub` condition: Null only says the claim exists.
        ({"StringEquals": {"h/id/X:aud": "sts.amazonaws.com"}, "Null": {"h/id/X:sub": "false"}}, "aud-without-sub"),
        ({"Null": {"h/id/X:sub": "false"}}, "no-condition"),
        ({"StringNotEquals": {"h/id/X:sub": "system:serviceaccount:ns:x"}}, "wildcard-sub"),
        ({"StringLike": {"h/id/X:sub": "system:serviceaccount:ns:*"}}, "wildcard-sub"),
    ],
)
def test_irsa_sub_problems(condition, problem):
    assert _irsa_grant(condition).problem() == problem


def test_irsa_sub_is_case_sensitive():
    grant = _irsa_grant({"StringLike": {"h/id/X:sub": "system:serviceaccount:NS:*"}})
    assert grant.admits("NS", "a") and not grant.admits("ns", "a")
    grant = _irsa_grant({"StringNotLike": {"h/id/X:sub": "system:serviceaccount:NS:*"}})
    assert grant.admits("ns", "a") and not grant.admits("NS", "a")
    assert not _irsa_grant({"Null": {"h/id/X:sub": "true"}}).admits("ns", "a")
