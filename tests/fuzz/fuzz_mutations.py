"""Mutations of an evidence directory, and whether each one leaves valid evidence.

A mutation names one file, one JSON path in it and what is done there. `classify` says whether the
result can still be a real state of the clouds (VALID: a finding may then rightly be resolved) or is
evidence the readers cannot take at face value (INVALID: a finding it held may only go
`not_rechecked`). test_fuzz_evidence.py's docstring gives the classification in prose; this module
is its one implementation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Path_ = tuple[str | int, ...]

# --- what a mutation is ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """JSON text written as is (a number Python's encoder cannot write, or nesting too deep for it)."""

    text: str

    def __repr__(self) -> str:
        return f"Raw({self.text[:40]!r}{'...' if len(self.text) > 40 else ''} {len(self.text)} chars)"


DELETE_FILE = "delete-file"
DELETE_KEY = "delete-key"
DELETE_ITEM = "delete-item"
RETYPE = "retype"  # a value of another JSON type (str, number, bool, object, null)
WRAP = "wrap"  # v -> [v]
SWAP = "swap"  # list -> {"0": ..}, object -> [its values]
UNICODE = "unicode"  # unicode / control characters in a string
NUMBER = "number"  # huge or non-finite number, as JSON text
NEST = "nest"  # v -> [[[...v...]]]

KINDS = (DELETE_FILE, DELETE_KEY, DELETE_ITEM, RETYPE, WRAP, SWAP, UNICODE, NUMBER, NEST)

NASTY_TEXT = (
    "\x00",
    "\x1b]0;pwned\x07",
    "\x1b[31mred\x1b[0m",
    "\u202e",
    "\u2028",
    "\ufeff",
    "\ud800",  # a lone surrogate (valid JSON as an escape, not encodable as UTF-8)
    "\r\n",
    "\t",
    "é",
    "日本語",
    "\U0001d518",
    "e\u0301",
    "",
    " ",
    "=cmd|' /C calc'!A0",
    "<script>alert(1)</script>",
    "x" * 20000,
)
HUGE_NUMBERS = ("1" + "0" * 400, "1e999", "-1e999", "1" + "0" * 5000, "-0", "1e-999")
NEST_DEPTHS = (2, 40, 400, 900, 3000, 100000)


@dataclass(frozen=True)
class Mutation:
    file: str
    path: Path_ = ()
    kind: str = DELETE_FILE
    value: Any = None
    """The replacement (RETYPE), the text (UNICODE: (where, text)), the JSON number text (NUMBER),
    the depth (NEST)."""

    def describe(self) -> str:
        where = f"{self.file} at {pointer(self.path)}" if self.kind != DELETE_FILE else self.file
        detail = "" if self.value is None and self.kind != RETYPE else f" {_short(self.value)}"
        return f"{self.kind}{detail}: {where}"


def pointer(path: Path_) -> str:
    """An RFC 6901 JSON pointer ("/RoleDetailList/1/RoleName")."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path) or "(the whole document)"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --- applying one ------------------------------------------------------------------------------------


def get(doc: Any, path: Path_) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def replaced(doc: Any, path: Path_, value: Any) -> Any:
    """`doc` with the value at `path` replaced (copies along the path only)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        return {k: (replaced(v, rest, value) if k == head else v) for k, v in doc.items()}
    return [replaced(v, rest, value) if i == head else v for i, v in enumerate(doc)]


def removed(doc: Any, path: Path_) -> Any:
    parent, last = path[:-1], path[-1]
    container = get(doc, parent)
    if isinstance(container, dict):
        new: Any = {k: v for k, v in container.items() if k != last}
    else:
        new = [v for i, v in enumerate(container) if i != last]
    return replaced(doc, parent, new)


def new_value(m: Mutation, old: Any) -> Any:
    """What a value-changing mutation puts at its path."""
    if m.kind == RETYPE:
        return m.value
    if m.kind == WRAP:
        return [old]
    if m.kind == SWAP:
        return {str(i): v for i, v in enumerate(old)} if isinstance(old, list) else list(old.values())
    if m.kind == UNICODE:
        where, text = m.value
        return {"prefix": text + old, "suffix": old + text, "replace": text}[where]
    if m.kind == NUMBER:
        return Raw(m.value)
    if m.kind == NEST:
        return Raw("[" * m.value + json.dumps(old) + "]" * m.value)
    raise ValueError(m.kind)


def mutated(doc: Any, m: Mutation) -> Any:
    if m.kind in (DELETE_KEY, DELETE_ITEM):
        return removed(doc, m.path)
    return replaced(doc, m.path, new_value(m, get(doc, m.path)))


def dumps(doc: Any) -> bytes:
    """JSON bytes, with Raw values written as their text. UTF-8 as the CLIs write it; escaped when a
    string holds what UTF-8 cannot (a lone surrogate: valid JSON as `\\ud800`)."""
    raws: list[str] = []

    def swap_raw(v: Any) -> Any:
        if isinstance(v, Raw):
            raws.append(v.text)
            return f"@@kubeiam-fuzz-raw-{len(raws) - 1}@@"
        if isinstance(v, dict):
            return {k: swap_raw(x) for k, x in v.items()}
        if isinstance(v, list):
            return [swap_raw(x) for x in v]
        return v

    plain = swap_raw(doc)
    try:
        text = json.dumps(plain, indent=2, ensure_ascii=False)
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(plain, indent=2, ensure_ascii=True)
    for i, raw in enumerate(raws):
        text = text.replace(f'"@@kubeiam-fuzz-raw-{i}@@"', raw, 1)
    return (text + "\n").encode("utf-8")


def apply(root: Path, m: Mutation, original: Any) -> None:
    """Write the mutated file into the evidence directory `root` (`original`: the file's content)."""
    target = root / m.file
    if m.kind == DELETE_FILE:
        target.unlink()
        return
    target.write_bytes(dumps(mutated(original, m)))


# --- valid or not ------------------------------------------------------------------------------------

VALID, INVALID = "valid", "invalid"


@dataclass(frozen=True)
class Verdict:
    kind: str  # VALID or INVALID
    why: str


def _keys(names: str) -> frozenset[str]:
    return frozenset(names.split())


# Keys every file of that name always holds (the command prints them) and that a reader needs: without
# one, the item cannot be understood. Any other key may be absent in a real state of the cloud.
REQUIRED_KEYS: dict[str, frozenset[str]] = {
    "iam.json": _keys(
        "RoleDetailList Policies RoleName Arn AssumeRolePolicyDocument RolePolicyList AttachedManagedPolicies "
        "InstanceProfileList Roles PolicyName PolicyDocument PolicyArn PolicyVersionList Document "
        "IsDefaultVersion DefaultVersionId Statement Effect Action NotAction Resource NotResource Principal "
        "NotPrincipal PermissionsBoundaryArn RoleLastUsed"
    ),
    "oidc-providers.json": _keys("OpenIDConnectProviderList Arn Url ClientIDList"),
    "ec2-instances.json": _keys(
        "Reservations Instances InstanceId MetadataOptions HttpTokens HttpPutResponseHopLimit HttpEndpoint Arn"
    ),
    "launch-template-versions.json": _keys(
        "LaunchTemplateVersions LaunchTemplateId LaunchTemplateData MetadataOptions HttpTokens "
        "HttpPutResponseHopLimit HttpEndpoint VersionNumber"
    ),
    "nodegroups.json": _keys("nodegroups nodegroupName nodeRole clusterName"),
    "pod-identity-associations.json": _keys("associations namespace serviceAccount roleArn clusterName"),
    "cluster.json": _keys("cluster name arn identity oidc issuer"),
    # (no `namespace`: an object without one is in "default", as kubectl reads a manifest)
    "resources.json": _keys("items kind metadata name spec containers providerID serviceAccountName"),
    "openid-configuration.json": frozenset({"issuer"}),
    "project.json": _keys("projectId projectNumber"),
    "project-iam-policy.json": _keys("role members"),
    "ancestors-iam-policies.json": _keys("id type policy role members"),
    "asset-iam-policies.json": _keys("resource policy role members"),
    "service-accounts.json": frozenset({"email"}),
    "service-account-iam-policies.json": _keys("role members"),
    "service-account-keys.json": _keys("name keyType"),
    "custom-roles.json": frozenset({"name"}),
    "node-pools.json": _keys("name config"),
    "role-assignments.json": _keys("principalId roleDefinitionId scope"),
    "role-definitions.json": _keys("name permissions actions dataActions notActions notDataActions"),
    "identities.json": _keys("clientId principalId id name"),
    "federated-credentials.json": _keys("issuer subject"),
}
# GKE's cluster.json and EKS's share a name: EKS's keys above; GKE's cluster.json needs `name` only.
REQUIRED_KEYS_GKE_CLUSTER = frozenset({"name"})
REQUIRED_KEYS_AKS = _keys("id name")

# Files that are objects keyed by what was asked about (an email, an identity id): removing an entry is
# "not collected", never "nothing there".
KEYED_FILES = frozenset(
    {"service-account-iam-policies.json", "service-account-keys.json", "federated-credentials.json"}
)

# Lists that others refer into: an entry removed leaves a reference to something not in the evidence
# (a role attaching a policy the file lacks, a node whose instance is not listed).
REFERENCED_LISTS: dict[str, frozenset[str | None]] = {
    "iam.json": frozenset({"Policies", "PolicyVersionList"}),
    "ec2-instances.json": frozenset({"Reservations", "Instances"}),
    "role-definitions.json": frozenset({None}),  # the top-level list
    "custom-roles.json": frozenset({None}),
}

# Keys whose values come from a closed vocabulary: a value outside it is unknown, never the safe one.
ENUM_KEYS = frozenset({"Effect", "HttpTokens", "HttpEndpoint", "keyType", "mode", "nodeMetadata"})

# IAM policy fields whose grammar is "a string or a list of strings" (Principal's values too).
SCALAR_OR_LIST = frozenset({"Action", "NotAction", "Resource", "NotResource"})


def _required(file: str, key: str) -> bool:
    name = file.rsplit("/", 1)[-1]
    if name == "cluster.json" and file.startswith("gcp/"):
        return key in REQUIRED_KEYS_GKE_CLUSTER
    if file.startswith("azure/") and "/aks/" in file:
        return key in REQUIRED_KEYS_AKS
    return key in REQUIRED_KEYS.get(name, frozenset())


def in_condition_values(path: Path_) -> bool:
    """Inside an IAM statement's Condition, at or below a condition key's value (`Condition/op/key[/i]`)."""
    return any(p == "Condition" and len(path) >= i + 3 for i, p in enumerate(path))


def _scalar_or_list_field(path: Path_) -> bool:
    """An IAM field that takes a string or a list of strings (or Principal's values, or Statement)."""
    if not path or not isinstance(path[-1], str):
        return False
    last = path[-1]
    in_principal = len(path) >= 2 and path[-2] in ("Principal", "NotPrincipal")
    return last in SCALAR_OR_LIST or last == "Statement" or in_principal


def _is_scalar(v: Any) -> bool:
    return isinstance(v, str | int | float | bool) or v is None


def classify(m: Mutation, original: Any) -> Verdict:
    """VALID: the mutated evidence can be a real state (findings may change either way). INVALID: a real
    cloud would not print it, so a finding it held may only become `not_rechecked`."""
    name = m.file.rsplit("/", 1)[-1]
    if m.kind == DELETE_FILE:
        return Verdict(INVALID, "a file removed: absent is not empty")
    old = get(original, m.path) if m.path else original
    key = m.path[-1] if m.path else None
    parent_key = next((p for p in reversed(m.path[:-1]) if isinstance(p, str)), None) if m.path else None
    if m.kind == DELETE_KEY:
        if len(m.path) == 1 and name in KEYED_FILES:
            return Verdict(INVALID, f"the entry of {key} removed from a file keyed by what was asked about")
        if isinstance(key, str) and _required(m.file, key):
            return Verdict(INVALID, f"'{key}' is always printed and needed")
        return Verdict(VALID, f"'{key}' may be absent")
    if m.kind == DELETE_ITEM:
        lists = REFERENCED_LISTS.get(name, frozenset())
        owner = m.path[-2] if len(m.path) >= 2 and isinstance(m.path[-2], str) else None
        if (len(m.path) == 1 and None in lists) or owner in lists:
            return Verdict(INVALID, f"an entry others refer to removed from {owner or 'the list'}")
        return Verdict(VALID, "a list item removed")
    if m.kind == RETYPE:
        if in_condition_values(m.path) and _is_scalar(old) and _is_scalar(m.value) and m.value is not None:
            return Verdict(VALID, "IAM condition values may be strings, numbers or booleans")
        # null where a key may be absent reads as absent (as Kubernetes and the clouds' SDKs read it)
        as_absent = Mutation(m.file, m.path, DELETE_KEY)
        if m.value is None and isinstance(key, str) and classify(as_absent, original).kind == VALID:
            return Verdict(VALID, f"null for the optional '{key}' (as absent)")
        return Verdict(INVALID, f"{type(old).__name__} -> {type(m.value).__name__}")
    if m.kind == WRAP:
        if (_scalar_or_list_field(m.path) and _is_scalar(old)) or (key == "Statement" and isinstance(old, dict)):
            return Verdict(VALID, "IAM takes a scalar or a list here")
        if in_condition_values(m.path) and _is_scalar(old) and isinstance(key, str):
            return Verdict(VALID, "IAM condition values may be a scalar or a list")
        return Verdict(INVALID, "a value wrapped in a list where the grammar takes none")
    if m.kind == UNICODE:
        if key in ENUM_KEYS or (parent_key in ENUM_KEYS and isinstance(key, int)):
            return Verdict(INVALID, f"'{key}' outside its vocabulary")
        return Verdict(VALID, "a string changed")
    if m.kind == NUMBER:
        if in_condition_values(m.path):
            return Verdict(VALID, "a number in IAM condition values")
        if m.value in ("-0", "1e-999") and isinstance(old, int | float) and not isinstance(old, bool):
            return Verdict(VALID, "a number changed to zero")
        return Verdict(INVALID, "a huge or non-finite number")
    if m.kind in (SWAP, NEST):
        return Verdict(INVALID, "list and object swapped" if m.kind == SWAP else "nested too deeply")
    raise ValueError(m.kind)


# --- which mutations fit a value ---------------------------------------------------------------------


def nodes(doc: Any, path: Path_ = ()) -> list[Path_]:
    """Every JSON path of a document, the root first (iterative: the demo's documents are shallow, but
    a corpus document need not be)."""
    out: list[Path_] = []
    stack: list[tuple[Path_, Any]] = [(path, doc)]
    while stack:
        p, v = stack.pop()
        out.append(p)
        if isinstance(v, dict):
            stack.extend(((*p, k), x) for k, x in reversed(list(v.items())))
        elif isinstance(v, list):
            stack.extend(((*p, i), x) for i, x in reversed(list(enumerate(v))))
    return out


def kinds_for(doc: Any, path: Path_) -> list[str]:
    """The mutation kinds that apply at `path` (DELETE_FILE is drawn separately)."""
    value = get(doc, path)
    parent = get(doc, path[:-1]) if path else None
    out = []
    if isinstance(parent, dict):
        out.append(DELETE_KEY)
    elif isinstance(parent, list):
        out.append(DELETE_ITEM)
    out += [RETYPE, WRAP]
    if isinstance(value, list | dict):
        out.append(SWAP)
    if isinstance(value, str):
        out.append(UNICODE)
    if _is_scalar(value):
        out.append(NUMBER)
    out.append(NEST)
    return out


def retype_targets(value: Any) -> list[Any]:
    """Replacements of another JSON type than `value`'s: a string, a number, a boolean, an object, null. The
    same value where the type allows it (`"42"` and `42`, `true` and `"true"`): what is tested is the type."""
    as_text = json.dumps(value) if isinstance(value, bool | int | float) else "fuzz"
    as_number = int(value) if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 20 else 1
    candidates: list[Any] = [as_text, as_number, True, {"fuzz": value}, None]
    same = {str: 0, int: 1, float: 1, bool: 2, dict: 3, type(None): 4}.get(type(value))
    return [c for i, c in enumerate(candidates) if i != same]
