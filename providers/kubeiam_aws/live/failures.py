"""What a failed AWS call means: one line for the report, and whether anything more can be read.

Why summarise: an error body is not a cause. AWS's own errors carry a code (`AccessDenied`), and that
code plus the operation is what a reader of the report can act on; a proxy's or a wrong endpoint's HTML
page, or a long policy-evaluation message, pasted into every coverage line, hides the cause.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedException",
}
CREDENTIALS_REFUSED = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "AuthFailure",
    "InvalidAccessKeyId",
    "InvalidSignatureException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
}
CREDENTIALS_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
THROTTLED = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"}
NOT_FOUND = {
    "NoSuchEntity",
    "NoSuchEntityException",
    "ResourceNotFoundException",
    "InvalidInstanceID.NotFound",
    "InvalidLaunchTemplateId.NotFound",
    "InvalidLaunchTemplateName.NotFoundException",
    "InvalidLaunchTemplateId.VersionNotFound",
}
# botocore errors meaning the endpoint cannot be reached at all (refused, no such host, TLS, timeouts).
UNREACHABLE = {
    "EndpointConnectionError",
    "ConnectionClosedError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ProxyConnectionError",
    "SSLError",
    "HTTPClientError",
}
# botocore errors meaning there are no usable credentials (nothing will be signed).
NO_CREDENTIALS = {
    "NoCredentialsError",
    "PartialCredentialsError",
    "CredentialRetrievalError",
    "SSOTokenLoadError",
    "UnauthorizedSSOTokenError",
    "TokenRetrievalError",
    "InvalidConfigError",
}
UNPARSABLE = "ResponseParserError"
"""botocore could not read the answer as the API's protocol: a web server's or emulator's error page (an
HTML 500 where XML was due), not an AWS answer."""
_MESSAGE_MAX = 160
_URL = re.compile(r"https?://[^\s\"']+")


class AwsCallFailed(Exception):
    """An AWS call that failed for good (denied, throttled past retries, unreachable, refused)."""

    def __init__(self, location: str, code: str, message: str = "", status: int | None = None) -> None:
        super().__init__(f"{location}: {code}")
        self.location = location
        self.code = code
        self.message = message
        """AWS's message as it came (kept for parsing, e.g. the instance ids of a NotFound); never reported."""
        self.status = status
        """The HTTP status, when there was an HTTP answer."""

    @property
    def operation(self) -> str:
        """`iam:GetRole` (every location starts with the operation)."""
        return self.location.split(" ", 1)[0]

    @property
    def not_found(self) -> bool:
        return self.code in NOT_FOUND

    @property
    def fatal(self) -> str | None:
        """`credentials` or `endpoint` when no later call with the same credentials (or to the same
        endpoint) can succeed either; None for a failure of this call only."""
        if self.code in CREDENTIALS_REFUSED | CREDENTIALS_EXPIRED | NO_CREDENTIALS:
            return "credentials"
        if self.code in UNREACHABLE:  # (not a foreign page: a proxy may refuse one route and pass others)
            return "endpoint"
        return None

    @property
    def foreign(self) -> bool:
        """An HTTP answer that is no AWS API answer (a proxy's or web server's page: no AWS error code)."""
        if self.code == UNPARSABLE:
            return True
        return self.status is not None and (not self.code or self.code.isdigit() or self.code == "Unknown")

    @property
    def answered(self) -> bool:
        """AWS answered (a real API error such as NotFound or InvalidParameter): the service is readable."""
        return not (self.fatal or self.code in DENIED or self.code in THROTTLED)

    @property
    def reason(self) -> str:
        """One line: the cause, never the error body."""
        op, code = self.operation, self.code
        if code in DENIED:
            return f"{code} ({op})"
        if code in CREDENTIALS_EXPIRED:
            return f"credentials expired ({code})"
        if code in CREDENTIALS_REFUSED:
            return f"credentials refused ({code})"
        if code in NO_CREDENTIALS:
            detail = _short(self.message)
            return f"no usable AWS credentials ({code}{f': {detail}' if detail else ''})"
        if code in THROTTLED:
            return f"throttled until retries ran out ({code}, {op})"
        if code in UNREACHABLE:
            return f"cannot reach AWS ({code}{_endpoint(self.message)})"
        if self.code == UNPARSABLE:
            return f"not an AWS API answer ({op}: the response could not be parsed)"
        if self.foreign:
            return f"HTTP {self.status} (not an AWS API answer)"
        detail = _short(self.message)
        return f"{code} ({op})" + (f": {detail}" if detail else "")

    def at(self, location: str) -> AwsCallFailed:
        """The same failure, for another call it also stops."""
        return AwsCallFailed(location, self.code, self.message, self.status)


def from_client_error(location: str, exc: Any) -> AwsCallFailed:
    """A botocore ClientError (an HTTP answer with an error status)."""
    response = getattr(exc, "response", None) or {}
    err = response.get("Error") or {}
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return AwsCallFailed(location, str(err.get("Code") or ""), str(err.get("Message") or ""), status)


def from_botocore_error(location: str, exc: Exception) -> AwsCallFailed:
    """Any other botocore error: no HTTP answer (unreachable, no credentials, bad configuration), or one that is not
    the API's (`ResponseParserError`: its body is never kept, it may be a whole page)."""
    name = type(exc).__name__
    return AwsCallFailed(location, name, "" if name == UNPARSABLE else str(exc))


def _short(message: str) -> str:
    """AWS's own message when it is a short sentence; nothing when it is a page, a document or long."""
    text = " ".join(message.split())
    if not text or text.startswith("<") or len(text) > _MESSAGE_MAX:
        return ""
    return text


def _endpoint(message: str) -> str:
    """`: http://host:port` of the endpoint named in a connection error (no path, no query)."""
    m = _URL.search(message)
    if not m:
        return ""
    url = urlsplit(m.group(0))
    return f": {url.scheme}://{url.netloc}"
