"""Assumable chains for the AWS estate (`generate.py --assume-chains`): reach through other roles at scale.

A fraction of the estate's IRSA roles (10% by default) are strung into chains of up to `depth` roles (5): each
role of a chain may `sts:AssumeRole` the next, whose trust admits it. A third of the chains end on a role with
`*` on `*` (the walk reaches an admin), a third loop back to their first role (a cycle that reaches nothing),
and a third simply end (nothing of note at the end). The roles keep their ServiceAccounts and policies, so the
analysis judges every link as before, plus the walk. Deterministic for a seed.
"""

from __future__ import annotations

import random
from itertools import pairwise
from typing import Any

CHAIN_SID = "BenchAssumeNext"


def add_assume_chains(iam: dict[str, Any], fraction: float = 0.1, depth: int = 5, seed: int = 7) -> dict[str, int]:
    """Rewrite `iam` (get-account-authorization-details) in place; return what was added."""
    rng = random.Random(seed)
    roles = [r for r in iam["RoleDetailList"] if r["RolePolicyList"]]  # the IRSA roles (the node role has none)
    members = rng.sample(roles, k=min(len(roles), int(len(roles) * fraction)))
    chains = [members[i : i + depth] for i in range(0, len(members), depth)]
    counts = {"chain_roles": len(members), "chains": len(chains), "to_admin": 0, "cycles": 0}
    for n, chain in enumerate(chains):
        for here, nxt in pairwise(chain):
            _assume(here, nxt)
        if n % 3 == 0:
            _statement(chain[-1], {"Sid": "BenchAdmin", "Effect": "Allow", "Action": "*", "Resource": "*"})
            counts["to_admin"] += 1
        elif n % 3 == 1 and len(chain) > 1:
            _assume(chain[-1], chain[0])
            counts["cycles"] += 1
    return counts


def _assume(here: dict[str, Any], nxt: dict[str, Any]) -> None:
    _statement(here, {"Sid": CHAIN_SID, "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": nxt["Arn"]})
    trust = nxt["AssumeRolePolicyDocument"]
    trust["Statement"] = [
        *trust["Statement"],
        {"Effect": "Allow", "Principal": {"AWS": here["Arn"]}, "Action": "sts:AssumeRole"},
    ]


def _statement(role: dict[str, Any], statement: dict[str, Any]) -> None:
    inline = role["RolePolicyList"][0]["PolicyDocument"]
    inline["Statement"] = [*inline["Statement"], statement]
