"""The right-sized grant never grants more than today, under kubeiam's own policy semantics
(`kubeiam.vocabulary.policy`): every Allow it writes is covered, action by action, by an Allow of the role with
the same Resource, NotResource and Condition; every Deny of the role is in it; it is a valid IAM document; and what
the usage data shows unused is gone. Checked on generated policies and usage, and on the real AWS managed
policies of the corpus (fixtures/aws/corpus)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_evidence import managed_policies
from kubeiam_aws.judge.catalogue import aws_catalog
from kubeiam_aws.judge.right_size import NOTHING_USED, right_size
from kubeiam_aws.judge.usage import RoleUse, granted_services, permission_statements, role_use
from kubeiam_aws.judge.usage_data import LastAccessed, ServiceRecord, UsageData
from kubeiam_aws.view import Role

from kubeiam.vocabulary.model import Grant
from kubeiam.vocabulary.policy import Statement, parse_document, read_document

NOW = datetime(2026, 1, 10, 12, tzinfo=UTC)
ARN = "arn:aws:iam::111122223333:role/app"
RECENT = NOW - timedelta(days=3)
OLD = NOW - timedelta(days=300)
POOL = [
    "s3:GetObject",
    "s3:Get*",
    "s3:*",
    "s3:Put*",
    "ec2:Describe*",
    "ec2:*",
    "iam:PassRole",
    "iam:*",
    "iam:Get*",
    "dynamodb:GetItem",
    "dynamodb:*",
    "sqs:SendMessage",
    "*",
    "s*:List*",
    "kms:Decrypt",
    "lambda:InvokeFunction",
    "glue:*",
    "ecs:RunTask",
]
SERVICES = ["s3", "ec2", "iam", "dynamodb", "sqs", "kms", "lambda", "glue", "ecs", "sns", "sts", "ssm"]
UNKNOWN_ACTIONS = ["s3:FutureAction", "newservice:DoThing", "iam:FutureWrite", "ec2:DescribeSomethingNew"]


def _role(*documents: dict[str, Any]) -> Role:
    grants = tuple(
        Grant(f"{ARN}:inline/p{i}", "inline-policy", parse_document(d), document=d) for i, d in enumerate(documents)
    )
    return Role(
        arn=ARN,
        account="111122223333",
        name="app",
        trust=(),
        trust_document={},
        grants=grants,
        created=NOW - timedelta(days=1000),
        last_used=RECENT,
        last_used_read=True,
        source="aws/111122223333/iam.json",
    )


def _use(role: Role, records: dict[str, ServiceRecord], *, complete: bool = True, window: int = 90) -> RoleUse:
    data = UsageData(reports={ARN: LastAccessed(ARN, "f", NOW, True, records, complete)})
    use = role_use(role, data, window_days=window, as_of=NOW + timedelta(days=30))
    assert use is not None
    return use


def _probes(role: Role, rng: random.Random) -> list[str]:
    """The catalogue actions of every service the role's policies reach, a sample of others, unknown ones."""
    literal, globbed = granted_services(permission_statements(role))
    names = set(literal) | {s for s in globbed if s in SERVICES}
    names |= set(rng.sample(sorted(globbed), min(15, len(globbed))))
    by_service = aws_catalog().by_service
    return [a for n in sorted(names) for a in by_service.get(n, ())] + UNKNOWN_ACTIONS


def _scope(s: Statement) -> tuple[Any, ...]:
    return (s.resources, s.not_resources, s.conditions)


def assert_grants_no_more(role: Role, document: dict[str, Any], probes: list[str]) -> None:
    parsed = read_document(document)
    assert parsed.problems == () and document["Version"] == "2012-10-17"  # valid, whole
    original = permission_statements(role)
    allows = [s for s in original if s.is_allow]
    for new in (s for s in parsed.statements if s.is_allow):
        twins = [o for o in allows if _scope(o) == _scope(new)]
        assert twins, f"an Allow with a Resource/Condition the role has nowhere: {dict(new.raw)}"
        more = [a for a in probes if new.allows(a) and not any(o.allows(a) for o in twins)]
        assert more == [], f"grants more than today: {more[:5]} by {dict(new.raw)}"
    kept = [dict(s.raw) for s in parsed.statements if not s.is_allow]
    for deny in (s for s in original if not s.is_allow):
        assert any(
            {k: v for k, v in d.items() if k != "Sid"} == {k: v for k, v in dict(deny.raw).items() if k != "Sid"}
            for d in kept
        )


def assert_unused_is_gone(use: RoleUse, document: dict[str, Any], probes: list[str]) -> None:
    allows = [s for s in read_document(document).statements if s.is_allow]
    for action in probes:
        service, _, name = action.partition(":")
        su = use.services.get(service)
        if su is None:
            continue
        gone = su.state == "unused" or name.lower() in {a.lower() for a in su.unused_actions} or use.idle
        if gone:
            assert not any(s.allows(action) for s in allows), f"{action} is unused but still granted"


def _random_document(rng: random.Random) -> dict[str, Any]:
    statements: list[dict[str, Any]] = []
    for i in range(rng.randint(1, 4)):
        s: dict[str, Any] = {"Sid": rng.choice(["A", "B", f"S{i}", "bad-sid!"]), "Effect": "Allow"}
        if rng.random() < 0.15:
            s["NotAction"] = rng.sample(["iam:*", "s3:Delete*", "kms:*", "ec2:Terminate*"], rng.randint(1, 2))
        else:
            s["Action"] = rng.sample(POOL, rng.randint(1, 4))
        s["Resource"] = rng.choice(["*", ["arn:aws:s3:::b/*", "arn:aws:sqs:eu-west-1:111122223333:q"]])
        if rng.random() < 0.3:
            s["Condition"] = {"StringEquals": {"aws:RequestedRegion": ["eu-west-1", "eu-central-1"]}}
        statements.append(s)
    for _ in range(rng.randint(0, 2)):
        statements.append({"Effect": "Deny", "Action": rng.sample(POOL[:10], 2), "Resource": "*"})
    return {"Version": "2012-10-17", "Statement": statements}


def _random_usage(rng: random.Random) -> dict[str, ServiceRecord]:
    records = {}
    for name in SERVICES:
        roll = rng.random()
        if roll < 0.2:
            continue  # not in the data
        last = rng.choice([RECENT, OLD, None])
        actions = None
        if rng.random() < 0.5:
            catalogue = list(aws_catalog().by_service.get(name, ()))
            tracked = rng.sample(catalogue, min(len(catalogue), rng.randint(1, 12)))
            actions = {a.split(":", 1)[1]: rng.choice([RECENT, OLD, None]) for a in tracked}
        records[name] = ServiceRecord(name, last, actions)
    return records


@pytest.mark.parametrize("seed", range(120))
def test_a_generated_grant_is_never_widened(seed):
    rng = random.Random(seed)
    role = _role(*[_random_document(rng) for _ in range(rng.randint(1, 2))])
    use = _use(role, _random_usage(rng), complete=rng.random() < 0.7)
    sized = right_size(role, use)
    probes = _probes(role, rng)
    assert_grants_no_more(role, sized.document, probes)
    assert_unused_is_gone(use, sized.document, probes)


CORPUS_SAMPLE = sorted(managed_policies())[::23]


@pytest.mark.parametrize("name", CORPUS_SAMPLE)
def test_every_sampled_aws_managed_policy_is_right_sized_within_itself(name):
    """Real documents (NotAction, Deny, conditions, thousands of actions): the same checks."""
    rng = random.Random(name)
    role = _role(managed_policies()[name]["document"])
    literal, globbed = granted_services(permission_statements(role))
    records = {}
    for service in sorted(set(literal) | set(globbed))[:40]:
        catalogue = list(aws_catalog().by_service.get(service, ()))
        tracked = rng.sample(catalogue, min(len(catalogue), 6)) if rng.random() < 0.5 else None
        actions = {a.split(":", 1)[1]: rng.choice([RECENT, None]) for a in tracked} if tracked else None
        records[service] = ServiceRecord(service, rng.choice([RECENT, OLD]), actions)
    use = _use(role, records, complete=False)
    sized = right_size(role, use)
    probes = _probes(role, rng)
    assert_grants_no_more(role, sized.document, probes)
    assert_unused_is_gone(use, sized.document, probes)


def test_conditions_resources_and_denies_are_kept_as_written():
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Data",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "dynamodb:Query"],
                "Resource": ["arn:aws:s3:::b/*", "arn:aws:dynamodb:eu-west-1:111122223333:table/t"],
                "Condition": {"Bool": {"aws:SecureTransport": True}},
            },
            {"Effect": "Deny", "NotAction": "s3:*", "NotResource": "arn:aws:s3:::b/*"},
        ],
    }
    role = _role(doc)
    use = _use(
        role,
        {
            "s3": ServiceRecord("s3", RECENT, {"GetObject": RECENT, "PutObject": None}),
            "dynamodb": ServiceRecord("dynamodb", RECENT),
        },
    )
    sized = right_size(role, use)
    assert sized.changed
    allow, deny = sized.document["Statement"]
    assert allow == {
        "Sid": "Data",
        "Effect": "Allow",
        "Action": ["s3:GetObject", "dynamodb:Query"],
        "Resource": doc["Statement"][0]["Resource"],
        "Condition": {"Bool": {"aws:SecureTransport": True}},
    }
    assert deny == doc["Statement"][1]


def test_a_wildcard_loses_only_the_unused_tracked_actions_and_folds_what_it_can():
    role = _role({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    use = _use(
        role, {"s3": ServiceRecord("s3", RECENT, {"GetObject": RECENT, "DeleteBucket": None, "PutBucketPolicy": OLD})}
    )
    (statement,) = right_size(role, use).document["Statement"]
    actions = statement["Action"]
    assert "s3:Get*" in actions and "s3:List*" in actions  # whole verbs with nothing unused
    assert not any(
        a.lower() in ("s3:deletebucket", "s3:putbucketpolicy", "s3:*", "s3:put*", "s3:delete*") for a in actions
    )
    assert "s3:PutObject" in actions and "s3:DeleteObject" in actions  # untracked: kept


def test_not_action_becomes_the_list_it_reaches_less_the_unused():
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": ["iam:*"], "Resource": "*"}]}
    role = _role(doc)
    use = _use(
        role, {"s3": ServiceRecord("s3", RECENT), "sqs": ServiceRecord("sqs", OLD), "iam": ServiceRecord("iam", RECENT)}
    )
    (statement,) = right_size(role, use).document["Statement"]
    assert statement["Action"] == "s3:*"  # sqs unused, iam excluded, the rest not granted in AWS's full report


def test_a_2008_policy_keeps_its_literal_variables():
    """In 2008-10-17 `${aws:username}` is text; the document is 2012-10-17, where `${$}` writes a `$`."""
    doc = {
        "Version": "2008-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "sqs:SendMessage"],
                "Resource": "arn:aws:s3:::b/${aws:username}",
            }
        ],
    }
    role = _role(doc)
    use = _use(role, {"s3": ServiceRecord("s3", RECENT), "sqs": ServiceRecord("sqs", None)})
    (statement,) = right_size(role, use).document["Statement"]
    assert statement["Resource"] == "arn:aws:s3:::b/${$}{aws:username}"


def test_an_idle_role_keeps_only_its_denies_or_denies_everything():
    allow_only = _role({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    idle = RoleUse(ARN, 90, NOW, "idle", None, {}, ("s3",), True)
    assert right_size(allow_only, idle).document["Statement"] == [NOTHING_USED]
    deny = {"Effect": "Deny", "Action": "iam:*", "Resource": "*"}
    with_deny = _role(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}, deny]}
    )
    assert right_size(with_deny, idle).document["Statement"] == [deny]


def test_sids_stay_unique_and_alphanumeric():
    a = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    b = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Read", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"},
            {"Sid": "my-sid", "Effect": "Deny", "Action": "kms:*", "Resource": "*"},
        ],
    }
    role = _role(a, b)
    use = _use(
        role,
        {"s3": ServiceRecord("s3", RECENT), "sqs": ServiceRecord("sqs", RECENT), "kms": ServiceRecord("kms", None)},
    )
    statements = right_size(role, use).document["Statement"]
    assert [s.get("Sid") for s in statements] == ["Read", None, None]
