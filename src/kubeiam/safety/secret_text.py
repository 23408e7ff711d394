"""Credential-shaped values in free text: blanked wherever they appear, whatever names them.

Shapes that are credentials whatever their context (an AWS access key id, a JWT, a PEM block, a
password in a URL, a Google API key) and values named as secrets inside the text (`password=...`,
`--db-password VALUE`, `"private_key": "..."`). What is kept: everything around the value, the name
naming it and, for a key id, its kind (`AKIA`), so a reader still sees that a credential was there.
ARNs, e-mail addresses, GUIDs, paths and hex digests have none of these shapes.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from kubeiam.safety.secret_names import looks_like_permission, words

REDACTED = "<redacted by kubeiam>"

# A name ending in a secret term (secret_names.py says the same of names; here inside free text).
_TERM = (
    r"(?:pass(?:word|wd|phrase)|pwd|secret(?:[_-]?(?:key|text|string|value))?|token|credentials?|"
    r"api[_-]?key|access[_-]?key(?:[_-]?id)?|private[_-]?key(?:[_-]?data)?|client[_-]?key|account[_-]?key|"
    r"signing[_-]?key|connection[_-]?string|user[_-]?data|sig)"
)
_NAME = rf"[A-Za-z0-9_.-]*{_TERM}"
# An unquoted value ends at a blank, a quote or a separator of query strings and connection strings; it
# never starts with `<` (what REDACTED starts with: blanking twice changes nothing).
_BARE = r"[^\s\"'<>,;&][^\s\"'<>,;&]*"
_QUOTED = r"\"[^\"]*\"|'[^']*'"

TERM_ROOTS = ("pass", "pwd", "secret", "token", "credential", "key", "connection", "user", "sig")
"""What every name `_TERM` matches contains (lower case)."""

# Each group: a pattern, and what a string must contain for the pattern to have a chance (a cheap test:
# a report holds about 40,000 distinct strings at 20,000 ServiceAccounts, almost none with a secret).
_SHAPES: dict[str, str] = {
    # A PEM block (a private key, also one pasted with literal `\n`), or the start of one cut short.
    "pem": r"-----BEGIN (?P<label>[A-Z0-9 ]{1,40})-----(?:.*?-----END (?P=label)-----|[A-Za-z0-9+/=\s\\]*)",
    "jwt": r"(?<![\w-])eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",
    "aws_key_id": r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])",
    # Azure AD client secrets (the current format: three characters, a digit, `Q~`, then 31-34 more).
    "azure_secret": r"(?<![\w~.-])[\w~.-]{3}\dQ~[\w~.-]{31,34}(?![\w~.-])",
    # Google API keys and OAuth tokens, GitHub and Slack tokens.
    "vendor_token": r"(?<![\w-])(?:AIza[0-9A-Za-z_-]{35}(?![\w-])|ya29\.[0-9A-Za-z_-]{20,}|gh[pousr]_[A-Za-z0-9]{36,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,})",
    # `scheme://user:password@host`: the user stays, the password goes.
    "userinfo": r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^\s/:@?#]*):(?P<pw>[^\s/@?#<]+)@",
    "named": "|".join(
        (
            # `"private_key": "..."` (JSON, also JSON inside a JSON string: `\"password\": \"...\"`).
            rf"(?P<jkey>(?P<q>\\?[\"']){_NAME}(?P=q)\s*:\s*)(?P<jq>\\?[\"'])(?P<jval>(?:(?!(?P=jq)).)*)(?P=jq)",
            # `password=...`, `--db-password=...`, `Password=...;` (connection strings), `?token=...&`.
            rf"(?P<akey>(?<![A-Za-z0-9_.-]){_NAME})(?P<asep>\s*=\s*)(?P<aval>{_QUOTED}|{_BARE})",
            # `password: ...` as YAML writes it: at the start of a line (or after `{` or `,`), a blank after
            # the colon. Not prose ("other credentials: role does not exist"), not `secretsmanager:GetSecretValue`.
            rf"(?P<ckey>(?<![^\n{{,])[ \t]*{_NAME})(?P<csep>:[ \t]+)(?P<cval>{_QUOTED}|{_BARE})",
            # `--aws-secret-access-key VALUE` on a command line.
            rf"(?P<fkey>(?<![\w-])--?{_NAME})(?P<fsep>[ \t]+)(?P<fval>{_QUOTED}|(?!-){_BARE})",
        )
    ),
    # An AWS secret access key on its own: 40 characters of base64, not a name (see `_random_looking`).
    "aws_secret": r"(?<![A-Za-z0-9/+=._-])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=._-])",
}
_COMPILED = {
    name: re.compile(pattern, re.IGNORECASE | re.DOTALL if name in ("named", "jwt") else re.DOTALL)
    for name, pattern in _SHAPES.items()
}
# A secret term right before a separator, in lower case (a case-insensitive search is ten times slower):
# without one, no named pattern can match.
_TERM_THEN_SEPARATOR = re.compile(rf"{_TERM}\\?[\"']?(?:\s*[=:]|[ \t])")
_TOKENS = re.compile(r"AIza|ya29\.|gh[pousr]_|xox")
# Every shape but the 40-character key needs one of these (in lower case): one search rules them all out.
_ANY_TRIGGER = re.compile(r"-----begin|eyj|akia|asia|q~|aiza|ya29\.|gh[pousr]_|xox|://|" + "|".join(TERM_ROOTS))
# What any shape but the named ones and the 40-character key starts with.
_ANY_SHAPE = re.compile(r"-----BEGIN|eyJ|eyj|AKIA|ASIA|Q~|AIza|ya29\.|gh[pousr]_|xox|://")
_RUN_OF_40 = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}")  # tried at the start of each run only


def _named_gate(text: str) -> bool:
    lower = text.lower()
    return any(root in lower for root in TERM_ROOTS) and bool(_TERM_THEN_SEPARATOR.search(lower))


_GATES: dict[str, Callable[[str], object]] = {
    "pem": lambda t: "-----BEGIN" in t,
    "jwt": lambda t: "eyJ" in t or "eyj" in t,  # lower case too: some readers lower-case ids
    "aws_key_id": lambda t: "AKIA" in t or "ASIA" in t,
    "azure_secret": lambda t: "Q~" in t,
    "vendor_token": _TOKENS.search,
    "userinfo": lambda t: "://" in t and "@" in t,
    "named": _named_gate,
    "aws_secret": lambda t: len(t) >= 40 and _RUN_OF_40.search(t),
}
_PEM_LABEL = re.compile(r"[A-Z0-9 ]+")
_PUBLIC_PEM = ("CERTIFICATE", "PUBLIC KEY", "CRL", "CERTIFICATE REQUEST", "PKCS7")


def could_hold_a_shape(text: str) -> bool:
    """False when `redact_text` would surely change nothing (cheap: most strings are ruled out here)."""
    if len(text) >= 40 and _RUN_OF_40.search(text):
        return True
    lower = text.lower()
    if not _ANY_TRIGGER.search(lower):
        return False  # the common case: one search of the lower-cased text
    return bool(_ANY_SHAPE.search(text) or (any(r in lower for r in TERM_ROOTS) and _TERM_THEN_SEPARATOR.search(lower)))


def redact_text(text: str) -> str:
    """`text` with every credential-shaped value replaced by REDACTED (the same string when none)."""
    if not could_hold_a_shape(text):
        return text  # the common case, decided cheaply
    out = text
    for name, gate in _GATES.items():
        if gate(out):
            out = _COMPILED[name].sub(_BLANKERS[name], out)
    return text if out == text else out  # the same object: callers tell "changed" by identity


def _pem(m: re.Match[str]) -> str:
    label = m.group("label")
    if not _PEM_LABEL.fullmatch(label) or label.endswith(_PUBLIC_PEM):
        return m.group()  # a certificate or a public key: public, and a reader may need it
    return f"-----BEGIN {label}-----{REDACTED}-----END {label}-----"


def _named(m: re.Match[str]) -> str:
    if m.group("jkey") is not None:
        q = m.group("jq")
        return f"{m.group('jkey')}{q}{REDACTED}{q}" if m.group("jval") not in ("", REDACTED) else m.group()
    kind = next(k for k in "acf" if m.group(f"{k}key") is not None)
    key, sep, value = (m.group(f"{kind}{part}") for part in ("key", "sep", "val"))
    if _kept(key, value, colon=kind == "c"):
        return m.group()
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{key}{sep}{quote}{REDACTED}{quote}"


_BLANKERS: dict[str, Callable[[re.Match[str]], str]] = {
    "pem": _pem,
    "jwt": lambda m: REDACTED,
    "aws_key_id": lambda m: f"{m.group()[:4]}{REDACTED}",
    "azure_secret": lambda m: REDACTED,
    "vendor_token": lambda m: REDACTED,
    "userinfo": lambda m: f"{m.group('scheme')}{m.group('user')}:{REDACTED}@",
    "named": _named,
    "aws_secret": lambda m: REDACTED if _random_looking(m.group()) else m.group(),
}


def _random_looking(token: str) -> bool:
    """Base64 noise, not a 40-character name (`AmazonEBSCSIDriverEKSClusterScopedPolicy`) or a hex digest.

    Names are mostly words: in the 209 such tokens of every AWS managed policy, GCP and Azure role,
    at least 77% of the characters are in runs like `Policy` or `ebs`; in random base64 at most 70%
    (99.9th percentile of 50,000), and a hex digest has no capital."""
    chars = set(token)
    if not (chars & _UPPER and chars & _LOWER):
        return False
    in_words = sum(len(w) for w in _WORDLIKE.findall(token))
    return in_words < 0.7 * len(token)


def _kept(key: str, value: str, *, colon: bool) -> bool:
    """A path named by `...credentials` (what GOOGLE_APPLICATION_CREDENTIALS holds), an AWS error code
    (`ExpiredToken: The security token ...`)."""
    if looks_like_permission(key.strip(" \t'\"\\")):
        return True  # `container.serviceAccounts.createToken = create serviceaccounts/token` (prose)
    named = words(key)
    if named[-1:] in (("credentials",), ("credential",)) and _PATH.fullmatch(value.strip("'\"")):
        return True
    return colon and len(named) > 1 and named[-2] in _ERROR_WORDS


_ERROR_WORDS = frozenset({"expired", "invalid", "missing", "bad", "no"})
_PATH = re.compile(r"/[\w.@/-]+")
_UPPER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
_WORDLIKE = re.compile(r"[a-z]{3,}|[A-Z][a-z]{2,}")
