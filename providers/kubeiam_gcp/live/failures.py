"""What a failed Google Cloud call says, in one line: never an error body pasted (an HTML 404 page, a
proxy's error page, a multi-line gRPC debug string), and which kind of failure it was.

Kinds: `unreachable` (no connection: DNS, refused, TLS), `credentials` (401, UNAUTHENTICATED, a token
that cannot be refreshed), `denied` (403, PERMISSION_DENIED), `other`. A collection in which every call
failed as unreachable, credentials or denied read nothing of Google Cloud: `Caller` then reports one
whole-cloud coverage entry.
"""

from __future__ import annotations

import re

UNREACHABLE, CREDENTIALS, DENIED, OTHER = "unreachable", "credentials", "denied", "other"

# gRPC and urllib3 words for "no connection was made" (a 503 from a live server is not one of them).
_NO_CONNECTION = re.compile(
    r"failed to connect|connection refused|name resolution|dns resolution|nodename nor servname|"
    r"no route to host|network is unreachable|failed to establish a new connection|certificate verify failed|"
    r"timed out|connection reset|connection aborted",
    re.IGNORECASE,
)
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")
_HOST = re.compile(r"host='([^']+)', port=(\d+)")
_REQUEST_PREFIX = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) \S+: ")
_LIMIT = 160


def no_connection(exc: BaseException) -> bool:
    """Whether the call never reached a server (worth no retry: the next attempt fails the same way)."""
    return bool(_NO_CONNECTION.search(str(getattr(exc, "message", None) or exc)))


def kind(exc: BaseException) -> str:
    from google.api_core import exceptions
    from google.auth.exceptions import GoogleAuthError

    if isinstance(exc, exceptions.RetryError) and exc.cause is not None:
        return kind(exc.cause)
    if isinstance(exc, (exceptions.Unauthenticated, exceptions.Unauthorized, GoogleAuthError)):
        return CREDENTIALS
    if isinstance(exc, (exceptions.Forbidden, exceptions.PermissionDenied)):
        return DENIED
    if isinstance(exc, OSError) or no_connection(exc):
        return UNREACHABLE
    return OTHER


def summary(exc: BaseException) -> str:
    """One line: the HTTP or gRPC status and the API's own message, or the network cause."""
    from google.api_core import exceptions

    if isinstance(exc, exceptions.RetryError) and exc.cause is not None:
        return summary(exc.cause)
    if isinstance(exc, exceptions.GoogleAPICallError):
        rest = getattr(exc.response, "status_code", None)  # a requests.Response: the REST transport
        grpc_status = getattr(exc.grpc_status_code, "name", None)
        status = f"HTTP {rest}" if isinstance(rest, int) else grpc_status or type(exc).__name__
        return f"{status} ({_message(str(exc.message or ''))})" if exc.message else status
    if isinstance(exc, OSError):
        text = str(exc)
        cause = _ERRNO.search(text)
        host = _HOST.search(text)
        where = f" to {host[1]}:{host[2]}" if host else ""
        if cause:
            return f"{type(exc).__name__}{where}: {cause[1].strip().lower()}"
        return f"{type(exc).__name__}{where}: {_message(text)}"
    return f"{type(exc).__name__}: {_message(str(exc))}"


def _message(text: str) -> str:
    text = _REQUEST_PREFIX.sub("", text.strip())
    if re.search(r"<\s*(!doctype|html|head|body)\b", text, re.IGNORECASE):
        return "an HTML page, not the API's answer"
    line = " ".join(text.split("\n", 1)[0].split())
    # gRPC debug strings trail the message: "...; last error: ... {created_time:...}".
    line = line.split(" {", 1)[0]
    return line if len(line) <= _LIMIT else line[: _LIMIT - 3] + "..."
