"""Loading an evidence file as JSON and checking its shape, shared by the parsers of this package.

Two kinds of trouble, two answers (docs/evidence.md):
- a file that is not the command's shape at the top level (an object where gcloud prints a list) is an
  `InputError` naming the file and the field: exit 2;
- an item inside it that cannot be understood (one binding, one account, one key, one role, one node
  pool) is an `Unread`: the rest of the file is read, and the reader makes whoever depends on the item
  unchecked (a `Gap` on the identity, or a coverage entry naming its subject), never clean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubeiam.errors import InputError
from kubeiam.pipeline.evidence import Evidence

# What an `Unread` is about (how the reader routes it to the identities or subjects depending on it).
BINDING = "binding"
"""One binding (or a whole policy) of an IAM policy: `members` are who it grants to (None: unknown)."""
ACCOUNT = "account"
"""A field of one service account's entry (`account`): the account is audited on the rest."""
ACCOUNTS = "accounts"
"""An entry of service-accounts.json naming no account that can be read: any account may be that one."""
ACCOUNT_POLICY = "account-policy"
"""The whole IAM policy of one service account (`account`): its trust is unknown."""
ACCOUNT_KEYS = "account-keys"
"""The key list of one service account (`account`): its keys are unknown."""
KEY = "key"
"""One key of one service account (`account`)."""
ROLE = "role"
"""One custom role (`role`) whose permissions cannot be read."""
ROLES = "roles"
"""An entry of custom-roles.json naming no role that can be read: any unknown custom role may be that one."""
PAGES = "pages"
"""A list file holding one page of several (`nextPageToken`): what the later pages hold is missing."""
PROJECT = "project"
"""project.json: the project's number or parent."""
CLUSTER = "cluster"
"""A field of cluster.json (Workload Identity, the node pools it lists)."""
POOL = "pool"
"""One node pool (`pool`: its name, when it can be read)."""


@dataclass(frozen=True, slots=True)
class Unread:
    """An item of a file that could not be understood, named well enough to find it."""

    kind: str
    file: str
    item: str
    """Where in the file: `bindings[3].role`, `[12].email`, `EMAIL[0].name`, `nodePools[2].config`."""
    reason: str
    members: tuple[str, ...] | None = None
    """For a binding: the members it grants to, when they can be read (None: unknown who)."""
    account: str | None = None
    """The service account (email) the item belongs to."""
    role: str | None = None
    pool: str | None = None

    def describe(self) -> str:
        return f"{self.file}: {self.item}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ListFile:
    """A list file as read: its items, and the page token of its last page (None: nothing is missing)."""

    items: list[Any]
    next_page: str | None = None


def fail(file: str, what: str) -> InputError:
    return InputError(f"{file}: {what}")


def kind_of(value: Any) -> str:
    """`an object`, `a list`, `a string`, `a number`, ... for messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    names: dict[type, str] = {dict: "an object", list: "a list", str: "a string", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def load_list(evidence: Evidence, file: str, *keys: str, command: str, empty_object: bool) -> ListFile | None:
    """A bare list (gcloud), the list under the first of `keys` an object carries (one REST page), or a
    list of such pages (`jq -s` of the pages). `command` is what prints the file, for messages.

    `empty_object`: whether `{}` (the REST answer when there is nothing) is accepted as an empty list.
    Why not everywhere: where an empty list would clear findings (no accounts, no resource policies),
    `{}` is more likely a placeholder than an answer, and gcloud prints `[]`.
    """
    value = evidence.load(file)
    if value is None:
        return None
    if isinstance(value, list) and value and all(isinstance(v, dict) and _page_key(v, keys) for v in value):
        items: list[Any] = []
        token: str | None = None
        for i, page in enumerate(value):
            found = _page(page, keys, file, f"[{i}].")
            items += found.items
            token = found.next_page
        return ListFile(items, token)
    if isinstance(value, dict):
        if not value and empty_object:
            return ListFile([])
        if _page_key(value, keys) is None:
            what = "an empty object" if not value else "an object without " + " or ".join(f"'{k}'" for k in keys)
            raise fail(file, f"{what}: expected the JSON list `{command}` prints (`[]` when there is none)")
        return _page(value, keys, file, "")
    if not isinstance(value, list):
        raise fail(file, f"top level must be a list (what `{command}` prints), found {kind_of(value)}")
    return ListFile(value)


def _page_key(value: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    return next((k for k in keys if k in value), None) or ("nextPageToken" if "nextPageToken" in value else None)


def _page(value: dict[str, Any], keys: tuple[str, ...], file: str, at: str) -> ListFile:
    key = next((k for k in keys if k in value), None)
    items = value.get(key) if key else []
    if items is None:
        items = []
    if not isinstance(items, list):
        raise fail(file, f"field '{at}{key}' must be a list, found {kind_of(items)}")
    token = value.get("nextPageToken")
    return ListFile(items, str(token) if token not in (None, "") else None)


def load_object(evidence: Evidence, file: str, command: str) -> dict[str, Any] | None:
    value = evidence.load(file)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise fail(file, f"top level must be a JSON object (what `{command}` prints), found {kind_of(value)}")
    return value


def pages_missing(file: str, token: str) -> Unread:
    return Unread(
        PAGES,
        file,
        "nextPageToken",
        f"holds one page of several (nextPageToken {token[:40]!r}): the pages after it are missing",
    )
