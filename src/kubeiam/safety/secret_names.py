"""Which names hold a secret value: environment variables, map keys (labels, annotations, tags), flags.

A name is secret when it *ends* in a secret term (`DB_PASSWORD`, `clientSecret`, `example.com/api-token`,
`--aws-secret-access-key`): a name that merely mentions one names something else (`secretName`,
`secretKeyRef`, `eks.amazonaws.com/token-expiration`, `PasswordLastUsed`) and readers need its value.
Environment variables are judged more broadly (any secret term anywhere), as before: a variable is
read by a program, never by kubeiam, so blanking too much costs nothing.
"""

from __future__ import annotations

import re
from functools import lru_cache

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")

# Last words (lower case) that make a name secret, longest first where they overlap.
_ENDINGS: tuple[tuple[str, ...], ...] = (
    ("password",),
    ("passwd",),
    ("pwd",),
    ("passphrase",),
    ("secret",),
    ("token",),
    ("credential",),
    ("credentials",),
    ("apikey",),
    ("api", "key"),
    ("access", "key"),
    ("access", "key", "id"),
    ("private", "key"),
    ("private", "key", "data"),
    ("client", "key"),
    ("secret", "key"),
    ("account", "key"),
    ("signing", "key"),
    ("master", "key"),
    ("encryption", "key"),
    ("connection", "string"),
    ("user", "data"),
    ("secret", "text"),
    ("secret", "string"),
    ("secret", "value"),
    ("sas", "url"),
)
# A paging cursor is named like a token (`NextToken`, `nextPageToken`) and is no secret; readers use it.
_CURSORS = frozenset({"next", "page", "continue", "continuation"})

_ENV_SECRET = re.compile(
    r"SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE_?KEY|ACCESS_?KEY|API_?KEY|CREDENTIAL|CONNECTION_?STRING", re.IGNORECASE
)
# A variable that names a credentials *file* (GOOGLE_APPLICATION_CREDENTIALS, AWS_SHARED_CREDENTIALS_FILE)
# holds a path, not a secret, and the reader needs the path to find the key mounted from a Secret.
_FILE_NAME = re.compile(r"(CREDENTIALS|_FILE|_PATH|_DIR)$", re.IGNORECASE)
_PATH = re.compile(r"^/[\w.@/-]+$")


def words(name: str) -> tuple[str, ...]:
    """`AWS_SECRET_ACCESS_KEY`, `secretAccessKey` and `aws-secret-access-key` all give the same words."""
    return tuple(w.lower() for w in _WORDS.findall(name))


@lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Whether a key, label, tag or flag named `name` holds a secret value (judged by its last words)."""
    parts = words(name)
    for ending in _ENDINGS:
        n = len(ending)
        if parts[-n:] == ending:
            return not (ending == ("token",) and len(parts) > 1 and parts[-2] in _CURSORS)
    return False


# Names of permissions and condition keys: `iam.serviceAccounts.getAccessToken`, `aws:ResourceTag/token`,
# `kms:EncryptionContext:secret`. They name what may be done, never hold a value (a policy keeps them).
_PERMISSION = re.compile(r"[^:\s]*:\S*|[a-z][A-Za-z0-9]*(?:\.[A-Za-z0-9]+)+\.[a-z]+[A-Z][A-Za-z0-9]*")


def looks_like_permission(name: str) -> bool:
    return bool(_PERMISSION.fullmatch(name))


def is_secret_variable(name: str, value: str = "") -> bool:
    """Whether an environment variable's literal value must never be written anywhere."""
    if not (_ENV_SECRET.search(name) or is_secret_name(name)):
        return False
    return not (_FILE_NAME.search(name) and _PATH.match(value))
