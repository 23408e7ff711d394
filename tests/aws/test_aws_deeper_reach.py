"""Issue 15, item 4: reach through other IAM roles. A PassRole or AssumeRole on a named role counts when that
role can do much (admin, IAMFullAccess, its own escalation path) or reaches such a role in turn, to any depth,
in the same account or another one in the evidence, cycles handled; the path is in the evidence hop by hop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_evidence import (
    ACCOUNT,
    allow,
    cluster,
    doc,
    iam,
    irsa_trust,
    managed_policies,
    policy,
    role,
    role_arn,
    service_account,
)

from kubeiam.pipeline.audit import audit, read_inventory
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers

OTHER = "444455556666"


def trusting(*arns: str) -> dict[str, Any]:
    """A trust policy letting these principals call sts:AssumeRole."""
    return doc({"Effect": "Allow", "Principal": {"AWS": list(arns)}, "Action": "sts:AssumeRole"})


def assume(*arns: str) -> dict[str, Any]:
    return doc(allow("sts:AssumeRole", list(arns)))


ADMIN = {"admin": doc(allow("*"))}


def _audit(root: Path, roles: list[dict[str, Any]], policies: list[dict[str, Any]] = (), **more: Any) -> list:
    iam(root, roles, list(policies))
    for account, others in more.items():
        iam(root, others, account=account.removeprefix("a"))
    cluster(root, [service_account("apps", "app", role_arn("app"))])
    return [f for f in audit(Evidence(root), providers=load_providers()).findings if f.service_account == "app"]


def _escalation(findings: list) -> Any:
    found = [f for f in findings if f.rule_id == "AWS-014"]
    assert len(found) == 1, [f.title for f in findings]
    return found[0]


def test_assume_role_into_iam_full_access_is_escalation(tmp_path):
    """Before: a named AssumeRole target counted only when it held `*` on `*`; IAMFullAccess is as good."""
    full = managed_policies()["IAMFullAccess"]
    arn = "arn:aws:iam::aws:policy/IAMFullAccess"
    found = _audit(
        tmp_path,
        [
            role("app", irsa_trust("apps", "app"), inline={"p": assume(role_arn("iam-admin"))}),
            role("iam-admin", trusting(role_arn("app")), attached=[arn]),
        ],
        [policy(arn, full["document"], full["version"])],
    )
    f = _escalation(found)
    assert f.evidence["path"] == "sts-001"
    assert f.evidence["reaches"]["identity"] == role_arn("iam-admin")
    assert f.evidence["reaches"]["power"].startswith("admin-equivalent")
    assert f.evidence["reaches"]["path"] == [
        {"identity": role_arn("iam-admin"), "via": "sts:AssumeRole", "path": "sts-001"}
    ]
    assert f.title.endswith("into role/iam-admin")


def test_a_chain_of_assumable_roles_is_followed_to_the_admin_at_its_end(tmp_path):
    chain = ["hop-1", "hop-2", "hop-3", "hop-4", "boss"]
    roles = [role("app", irsa_trust("apps", "app"), inline={"p": assume(role_arn(chain[0]))})]
    previous = "app"
    for name, nxt in zip(chain, [*chain[1:], None], strict=True):
        inline = {"p": assume(role_arn(nxt))} if nxt else ADMIN
        roles.append(role(name, trusting(role_arn(previous)), inline=inline))
        previous = name
    f = _escalation(_audit(tmp_path, roles))
    reaches = f.evidence["reaches"]
    assert reaches["identity"] == role_arn("boss") and reaches["power"] == "admin"
    assert [h["identity"] for h in reaches["path"]] == [role_arn(n) for n in chain]
    assert {h["via"] for h in reaches["path"]} == {"sts:AssumeRole"}


def test_a_cycle_ends_the_walk_and_a_way_out_of_it_is_found(tmp_path):
    """app -> a -> b -> a (a cycle); b -> boss (admin). Without the way out, nothing is reported."""
    loop = [
        role("app", irsa_trust("apps", "app"), inline={"p": assume(role_arn("a"))}),
        role("a", trusting(role_arn("app"), role_arn("b")), inline={"p": assume(role_arn("b"))}),
        role("b", trusting(role_arn("a")), inline={"p": assume(role_arn("a"))}),
    ]
    assert not [f for f in _audit(tmp_path / "closed", loop) if f.rule_id == "AWS-014"]
    out = [*loop[:2], role("b", trusting(role_arn("a")), inline={"p": assume(role_arn("a"), role_arn("boss"))})]
    out.append(role("boss", trusting(role_arn("b")), inline=ADMIN))
    f = _escalation(_audit(tmp_path / "open", out))
    assert [h["identity"] for h in f.evidence["reaches"]["path"]] == [role_arn("a"), role_arn("b"), role_arn("boss")]


def test_an_admin_role_whose_trust_does_not_admit_the_caller_is_not_reached(tmp_path):
    """False positive before: AssumeRole on a named admin role counted even when its trust names someone else."""
    found = _audit(
        tmp_path,
        [
            role("app", irsa_trust("apps", "app"), inline={"p": assume(role_arn("boss"))}),
            role("boss", trusting(role_arn("someone-else")), inline=ADMIN),
        ],
    )
    assert not [f for f in found if f.rule_id == "AWS-014"]


def test_passrole_to_a_role_with_its_own_escalation_path(tmp_path):
    """PassRole of one named role with ec2:RunInstances: that role passes any role to Lambda and invokes it."""
    lam = doc(allow(["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"]))
    found = _audit(
        tmp_path,
        [
            role(
                "app",
                irsa_trust("apps", "app"),
                inline={"p": doc(allow("iam:PassRole", role_arn("builder")), allow("ec2:RunInstances"))},
            ),
            role(
                "builder",
                doc({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}),
                inline={"p": lam},
            ),
        ],
    )
    f = _escalation(found)
    reached = [p for p in f.evidence["paths"] if p["path"] == "ec2-001"]
    assert reached and reached[0]["reaches"]["power"] == "escalation"
    assert reached[0]["reaches"]["path"][0]["via"] == "iam:PassRole + ec2:RunInstances"
    assert any("lambda:CreateFunction" in h for h in reached[0]["reaches"]["holds"])


def test_a_role_in_another_account_of_the_evidence_is_reached(tmp_path):
    boss = f"arn:aws:iam::{OTHER}:role/boss"
    found = _audit(
        tmp_path,
        [role("app", irsa_trust("apps", "app"), inline={"p": assume(boss)})],
        **{f"a{OTHER}": [role("boss", trusting(f"arn:aws:iam::{ACCOUNT}:root"), inline=ADMIN, account=OTHER)]},
    )
    assert _escalation(found).evidence["reaches"]["identity"] == boss


def test_a_target_in_an_account_not_in_the_evidence_is_named_in_the_coverage(tmp_path):
    boss = f"arn:aws:iam::{OTHER}:role/boss"
    iam(tmp_path, [role("app", irsa_trust("apps", "app"), inline={"p": assume(boss)})])
    cluster(tmp_path, [service_account("apps", "app", role_arn("app"))])
    errors = [e for e in read_inventory(Evidence(tmp_path), load_providers()).errors if "AWS-014" in e.rules]
    assert [(e.location, e.subject) for e in errors] == [(f"aws/{OTHER}/iam.json", role_arn("app"))]
    assert boss in errors[0].reason


def test_karpenter_passing_its_node_role_stays_quiet(tmp_path):
    """The node role has only the EKS worker policies: passing it to EC2 gains nothing (no finding)."""
    worker = "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"
    node_policy = managed_policies()["AmazonEKSWorkerNodePolicy"]
    found = _audit(
        tmp_path,
        [
            role(
                "app",
                irsa_trust("apps", "app"),
                inline={"p": doc(allow("iam:PassRole", role_arn("node")), allow("ec2:RunInstances"))},
            ),
            role("node", trusting(role_arn("app")), attached=[worker]),
        ],
        [policy(worker, node_policy["document"], node_policy["version"])],
    )
    assert not [f for f in found if f.rule_id == "AWS-014"]
