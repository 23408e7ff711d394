"""Issue 15, item 1: every AWS escalation path of the public corpus is detected, or listed as deliberately not.

The corpus (fixtures/aws/corpus/privesc-catalogue, copied from the shared corpus with its sources): the
pathfinding.cloud paths (the 84dd65c snapshot, the newer commits of the compact projection, the six the
refresh only indexed, read upstream) and extra-paths.json (Prowler's combinations and the EKS access-entry
path that pathfinding.cloud lacks). Each is judged as kubeiam judges a role: a role granted exactly the
path's permissions on every resource must show that path (or the one the catalogue says covers it).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from aws_evidence import ACCOUNT, allow, doc, irsa_trust, role_arn
from kubeiam_aws.judge.escalation import escalation_paths
from kubeiam_aws.judge.profile import analyse_role
from kubeiam_aws.view import AwsView, Role

from kubeiam.vocabulary.model import Grant
from kubeiam.vocabulary.policy import parse_document

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "aws" / "corpus" / "privesc-catalogue"
DATA = Path(__file__).resolve().parents[2] / "providers" / "kubeiam_aws" / "data" / "privesc_paths.json"


def _load(name: str) -> Any:
    return json.loads((CORPUS / name).read_text())


@lru_cache(maxsize=1)
def corpus() -> dict[str, tuple[str, ...]]:
    """Every path of the corpus: id -> the permissions it requires."""
    out = {
        k: tuple(r["permission"] for r in v["permissions"]["required"])
        for k, v in _load("pathfinding_paths_compact.json")["paths"].items()
    }
    out |= {k: tuple(v["required"]) for k, v in _load("pathfinding-read-upstream.json")["paths"].items()}
    out |= {e["id"]: tuple(e["required_actions"]) for e in _load("extra-paths.json")["entries"]}
    return out


@lru_cache(maxsize=1)
def catalogue() -> dict[str, Any]:
    return json.loads(DATA.read_text())


def _judge(actions: tuple[str, ...], *, boundary: bool = False) -> Any:
    """The analysis of a role granted `actions` on every resource (and, if asked, a boundary that allows all)."""
    grant = Grant("arn:aws:iam::111122223333:policy/p", "managed-policy", parse_document(doc(allow(list(actions)))))
    allow_all = Grant("arn:aws:iam::111122223333:policy/b", "permissions-boundary", parse_document(doc(allow("*"))))
    role = Role(
        arn=role_arn("r"),
        account=ACCOUNT,
        name="r",
        trust=parse_document(irsa_trust("ns", "r")),
        trust_document={},
        grants=(grant,),
        boundary=allow_all if boundary else None,
        boundary_arn=allow_all.source if boundary else None,
    )
    return analyse_role(AwsView(roles={role.arn: role}, accounts=frozenset({ACCOUNT}), oidc_providers={}), role)


def test_every_manifest_path_is_in_the_corpus_read():
    """The upstream index lists 86 files; with the 6 read upstream, none is left unread (ec2-003/004 are listed
    once for both numberings)."""
    listed = set(_load("pathfinding-manifest.json")["paths"])
    assert len(listed) == 86
    assert listed - set(corpus()) == set()


@pytest.mark.parametrize("path_id", sorted(corpus()))
def test_corpus_path_is_detected_or_deliberately_not(path_id):
    data = catalogue()
    ours = {p["id"]: p for p in data["paths"]}
    required = corpus()[path_id]
    if path_id in ours:
        assert {a.lower() for a in ours[path_id]["requires"]} == {a.lower() for a in required}
        assert ours[path_id]["source"]
        found = _judge(required, boundary=bool(ours[path_id].get("needs_boundary")))
        assert path_id in {e.path_id for e in found.escalations}
    elif path_id in data["covered"]:
        entry = data["covered"][path_id]
        assert entry["reason"]
        found = _judge(required + tuple(entry.get("with", ())))
        if entry["covered_by"] == ["AWS-011"]:
            assert found.iam_admin or found.admin
        else:
            assert set(entry["covered_by"]) <= {e.path_id for e in found.escalations}
    else:
        assert data["not_detected"][path_id]
        assert _judge(required).escalations == ()


def test_every_catalogue_path_names_its_source_and_is_used():
    ids = [p.id for p in escalation_paths()]
    assert len(ids) == len(set(ids))
    from_corpus = set(corpus())
    rhino = {p.id for p in escalation_paths() if p.id.startswith("rhino-")}
    assert set(ids) - from_corpus == rhino  # the four classic methods pathfinding.cloud does not list
    assert all(p.source for p in escalation_paths())
    assert {p.source.split(" ", 1)[0] for p in escalation_paths()} >= {"pathfinding.cloud", "Prowler", "AWS", "Rhino"}


def test_a_passrole_path_is_limited_to_its_services():
    """A PassRole limited to another service does not open the path (the services now come as a list)."""
    paths = {p.id: p for p in escalation_paths()}
    assert paths["apprunner-001"].passed_to == ("apprunner.amazonaws.com", "tasks.apprunner.amazonaws.com")
    ec2_only = {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}
    grant = doc(allow("iam:PassRole", **ec2_only), allow(["apprunner:CreateService", "ec2:RunInstances"]))
    role = Role(
        arn=role_arn("r"),
        account=ACCOUNT,
        name="r",
        trust=(),
        trust_document={},
        grants=(Grant("p", "inline-policy", parse_document(grant)),),
    )
    found = analyse_role(AwsView(roles={role.arn: role}, accounts=frozenset({ACCOUNT}), oidc_providers={}), role)
    assert {e.path_id for e in found.escalations} == {"ec2-001"}
