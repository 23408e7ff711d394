"""The right-sized role never grants more than today (issue 14), proven two ways for every built-in role of
the bundled catalogue and for hand-made hard cases:

1. structurally (`within_role`: each pattern of the smaller role inside one of the original's, with that
   permission's exclusions kept);
2. by kubeiam's own policy semantics (`judge.profile.statements` + `Statement.allows`): every concrete
   action and data action of a large universe the smaller role allows, the original allows.

And it keeps what the workload needs: every operation used, every read, every data action.
"""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Iterable

import pytest
from kubeiam_azure.judge.catalogue import load
from kubeiam_azure.judge.profile import judge_assignment, statements
from kubeiam_azure.judge.right_size import (
    data_bound,
    dropped,
    glob_within,
    globs_meet,
    is_read,
    read_patterns,
    smaller_role,
    within_role,
)
from kubeiam_azure.view import Permission, RoleAssignment, RoleDefinition

from kubeiam.vocabulary.policy import matches

ROLES = sorted(load().roles.values(), key=lambda r: r.id)
OWNER = load().roles["8e3af657-a8ff-443c-a75c-2fe8c4bcb635"]
CONTRIBUTOR = load().roles["b24988ac-6180-42a0-ab88-20f7382dd24c"]
SUB = "/subscriptions/00000000-0000-4000-8000-000000000000"


def _concrete(patterns: Iterable[str]) -> set[str]:
    """Concrete actions a pattern set speaks of: the named ones, and each wildcard filled in several ways."""
    out = set()
    for p in patterns:
        if "*" not in p:
            out.add(p)
            continue
        for fill in ("x", "x/read", "x/write", "x/delete", "x/y/action", "read", "write", "listKeys/action"):
            out.add(p.replace("*", fill))
    return out


UNIVERSE = sorted(
    _concrete(a for r in ROLES for p in r.permissions for a in (*p.actions, *p.not_actions))
    | {
        "Microsoft.Authorization/roleAssignments/write",
        "Microsoft.Compute/virtualMachines/runCommand/action",
        "Microsoft.Storage/storageAccounts/listKeys/action",
    }
)
DATA_UNIVERSE = sorted(
    _concrete(d for r in ROLES for p in r.permissions for d in (*p.data_actions, *p.not_data_actions))
)


@functools.cache
def _statements(role: RoleDefinition, sid: str) -> tuple:
    # As judge.profile asks: a permission's exclusions without anything allowed allow nothing.
    return tuple(s for s in statements(role) if s.sid == sid and s.actions)


def _allows(role: RoleDefinition, sid: str, action: str) -> bool:
    return any(s.allows(action) for s in _statements(role, sid))


SAMPLE = random.Random(3).sample(UNIVERSE, 400)
DATA_SAMPLE = random.Random(3).sample(DATA_UNIVERSE, min(200, len(DATA_UNIVERSE)))


def _near(*roles: RoleDefinition) -> tuple[list[str], list[str]]:
    """The actions and data actions that can tell two roles apart: those their own patterns speak of, and a
    sample of every other (a pattern like `*/read` speaks of everything)."""
    ps = [p for r in roles for p in r.permissions]
    actions = _concrete(a for p in ps for a in (*p.actions, *p.not_actions)) | set(SAMPLE)
    data = _concrete(d for p in ps for d in (*p.data_actions, *p.not_data_actions)) | set(DATA_SAMPLE)
    return sorted(actions), sorted(data)


def _as_role(p: Permission) -> RoleDefinition:
    return RoleDefinition("right-sized", "right-sized", True, (p,))


def _used_sample(role: RoleDefinition, rng: random.Random, k: int) -> list[str]:
    allowed = [a for a in _near(role)[0] if not is_read(a) and _allows(role, "actions", a)]
    return rng.sample(allowed, min(k, len(allowed)))


def _check(role: RoleDefinition, used: list[str]) -> Permission:
    smaller = smaller_role(role, used)
    assert smaller is not None, role.name
    new = _as_role(smaller)
    # 1. structurally
    assert within_role(smaller, role), role.name
    # 2. by kubeiam's semantics, over the actions that could tell them apart
    actions, data = _near(role, new)
    wider = [a for a in actions if _allows(new, "actions", a) and not _allows(role, "actions", a)]
    assert wider == [], (role.name, wider[:5])
    wider_data = [d for d in data if _allows(new, "dataActions", d) and not _allows(role, "dataActions", d)]
    assert wider_data == [], (role.name, wider_data[:5])
    # What the workload needs is kept.
    assert all(_allows(new, "actions", u) for u in used), role.name
    return smaller


CONDITION_FREE = [r for r in ROLES if not any(p.condition for p in r.permissions)]


@pytest.mark.parametrize("seed", [0, 1])
def test_every_built_in_role_right_sized_is_within_the_original(seed: int) -> None:
    rng = random.Random(seed)
    for role in CONDITION_FREE:
        smaller = _check(role, _used_sample(role, rng, 4 if seed else 0))
        if len(role.permissions) == 1:
            # One permission: every read and every data action it allows stays allowed.
            p, new = role.permissions[0], _as_role(smaller)
            actions, data = _near(role)
            reads = [a for a in actions if is_read(a) and _allows(role, "actions", a)]
            assert all(_allows(new, "actions", a) for a in reads), role.name
            data = [d for d in data if _allows(role, "dataActions", d)]
            assert all(_allows(new, "dataActions", d) for d in data), role.name
            assert set(smaller.data_actions) == set(p.data_actions)


def test_roles_with_conditioned_permissions_are_not_right_sized() -> None:
    conditioned = [r for r in ROLES if any(p.condition for p in r.permissions)]
    assert conditioned, "the catalogue has constrained-delegation roles (Role Based Access Control Administrator)"
    assert all(smaller_role(r, []) is None for r in conditioned)


def test_owner_used_for_deployments_loses_admin_and_every_escalation_path() -> None:
    used = ["Microsoft.Resources/deployments/write", "Microsoft.ContainerService/managedClusters/write"]
    smaller = _check(OWNER, used)
    assert set(smaller.actions) == {"*/read", *used}
    assignment = RoleAssignment("ra", "p", OWNER.id, SUB)
    before = judge_assignment(assignment, OWNER)
    after = judge_assignment(RoleAssignment("ra2", "p", "right-sized", SUB), _as_role(smaller))
    assert before.admin and before.escalation
    assert not after.admin and after.escalation == ()
    assert dropped(OWNER, used) == ("*",)


def test_contributor_right_sized_keeps_no_exclusion_that_meets_nothing_kept() -> None:
    smaller = _check(CONTRIBUTOR, ["Microsoft.Web/sites/write"])
    assert set(smaller.actions) == {"*/read", "Microsoft.Web/sites/write"}
    # Its exclusions are all writes, deletes and actions: none meets `*/read` or the write kept.
    assert smaller.not_actions == ()
    assert not _allows(_as_role(smaller), "actions", "Microsoft.Authorization/roleAssignments/write")


def test_an_exclusion_that_would_take_a_used_operation_drops_its_permissions_wildcard_reads() -> None:
    """p1 allows everything but Compute; p2 allows writing VMs. Used: a VM write. Keeping p1's exclusion
    would take the used write away; dropping it would widen `*/read` to Compute reads p1 excluded. So the
    exclusion goes and so do p1's wildcard reads: never wider, the used write kept."""
    role = RoleDefinition(
        "c1",
        "Split",
        True,
        (
            Permission(actions=("*",), not_actions=("Microsoft.Compute/*",)),
            Permission(actions=("Microsoft.Compute/virtualMachines/write", "Microsoft.Network/*/read")),
        ),
    )
    smaller = _check(role, ["Microsoft.Compute/virtualMachines/write"])
    new = _as_role(smaller)
    assert _allows(new, "actions", "Microsoft.Compute/virtualMachines/write")
    assert not _allows(new, "actions", "Microsoft.Compute/disks/read")  # p1 excluded it, p2 never had it
    assert _allows(new, "actions", "Microsoft.Network/virtualNetworks/read")  # p2's own reads stay


HARD = [
    # Exclusions that fall on what is kept: `*/read` must keep "minus Key Vault".
    RoleDefinition("h1", "NoVault", True, (Permission(("*",), ("Microsoft.KeyVault/*",)),)),
    # Exclusions alone allow nothing (not "everything but").
    RoleDefinition(
        "h2", "OnlyExclusions", True, (Permission((), ("Microsoft.Compute/*",), (), ("Microsoft.Storage/*",)),)
    ),
    # Wildcard data actions with exclusions, and a data-bound wildcard action.
    RoleDefinition(
        "h3",
        "QueueAll",
        True,
        (
            Permission(
                ("Microsoft.ServiceBus/namespaces/queues/*",),
                (),
                ("Microsoft.ServiceBus/*",),
                ("Microsoft.ServiceBus/*/send/action",),
            ),
        ),
    ),
    # Two permissions whose exclusions differ.
    RoleDefinition(
        "h4",
        "TwoBlocks",
        True,
        (
            Permission(("Microsoft.Web/*",), ("Microsoft.Web/sites/config/*",)),
            Permission(("Microsoft.Web/sites/config/write", "Microsoft.Insights/*"), ("Microsoft.Insights/*/delete",)),
        ),
    ),
]


@pytest.mark.parametrize("role", HARD, ids=lambda r: r.name)
def test_hand_made_hard_roles_right_sized_are_within_the_original(role: RoleDefinition) -> None:
    rng = random.Random(role.id)
    for k in (0, 1, 3):
        _check(role, _used_sample(role, rng, k))
    _check(
        role,
        [
            a
            for a in ("Microsoft.Web/sites/config/write", "Microsoft.Insights/alertRules/write")
            if _allows(role, "actions", a)
        ],
    )


def test_data_bound_actions_are_kept_like_data_actions() -> None:
    blob = load().roles["ba92f5b4-2d11-453d-a403-e96b0029c9fe"]  # Storage Blob Data Contributor
    (p,) = blob.permissions
    assert set(data_bound(p)) == {
        "Microsoft.Storage/storageAccounts/blobServices/containers/delete",
        "Microsoft.Storage/storageAccounts/blobServices/containers/write",
        "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
    }
    assert dropped(blob, []) == ()  # its data plane creates and deletes containers: never called unused
    smaller = _check(blob, [])
    assert set(smaller.actions) >= set(data_bound(p))


def test_read_patterns_are_inside_the_wildcard_they_come_from() -> None:
    for pattern in ("*", "Microsoft.Storage/*", "Microsoft.Storage/storageAccounts/*", "Microsoft.Web/sites/config*"):
        reads = read_patterns(pattern)
        assert reads and all(glob_within(r, pattern) and is_read(r) for r in reads)
    assert read_patterns("Microsoft.Compute/*/write") == ()
    assert "Microsoft.Storage/storageAccounts/read" in read_patterns("Microsoft.Storage/storageAccounts/*")


# -- the glob algebra, against brute force ---------------------------------------------------------------

ALPHABET = "ab/"
WORDS = ["".join(w) for n in range(7) for w in itertools.product(ALPHABET, repeat=n)]


def _globs(rng: random.Random, n: int) -> list[str]:
    out = []
    while len(out) < n:
        size = rng.randint(0, 4)
        glob = "".join(rng.choice("ab/*") for _ in range(size))
        if sum(c != "*" for c in glob) <= 3:
            out.append(glob)
    return out


def test_glob_within_and_globs_meet_agree_with_brute_force() -> None:
    rng = random.Random(7)
    globs = _globs(rng, 60)
    language = {g: {w for w in WORDS if matches(g, w)} for g in globs}
    for a, b in itertools.product(globs, repeat=2):
        # A word of ≤ 6 letters witnesses any meeting of two globs with ≤ 3 letters each.
        assert globs_meet(a, b) == bool(language[a] & language[b]), (a, b)
        if glob_within(a, b):
            assert language[a] <= language[b], (a, b)
        else:
            # Not within: the word `a` spells with a fresh letter for its stars is in a, not in b.
            assert not matches(b, a.replace("*", "z")), (a, b)
