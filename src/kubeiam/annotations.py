"""The workload-identity annotation keys and value shapes each cloud documents.

Shared by the cloud-free rules (near-miss keys, malformed values, wrong cloud) and by the cloud
providers that resolve them, so the spelling lives in one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kubeiam.model import Cloud

AWS_ROLE_ARN = "eks.amazonaws.com/role-arn"
GKE_SERVICE_ACCOUNT = "iam.gke.io/gcp-service-account"
AZURE_CLIENT_ID = "azure.workload.identity/client-id"
AZURE_TENANT_ID = "azure.workload.identity/tenant-id"
AZURE_USE_LABEL = "azure.workload.identity/use"


@dataclass(frozen=True, slots=True)
class IdentityAnnotation:
    key: str
    cloud: Cloud
    value_pattern: re.Pattern[str]
    expected: str
    """What a valid value looks like, for the finding's text."""


_ARN = re.compile(r"^arn:aws(-cn|-us-gov|-iso|-iso-b)?:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
# Google service account emails are lower case: NAME@PROJECT.iam.gserviceaccount.com (PROJECT may
# be domain-scoped: my-proj.example.com), the default compute and App Engine accounts. Why strict:
# docs placeholders (`NAME@PROJECT_ID.iam...`, `<PROJECT_ID>`) must count as malformed, not valid.
_EMAIL = re.compile(
    r"^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9](\.[a-z0-9-]+)*\.iam\.gserviceaccount\.com$"
    r"|^[0-9]+-compute@developer\.gserviceaccount\.com$"
    r"|^[a-z][a-z0-9-]{4,28}[a-z0-9]@appspot\.gserviceaccount\.com$"
)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

IDENTITY_ANNOTATIONS: tuple[IdentityAnnotation, ...] = (
    IdentityAnnotation(AWS_ROLE_ARN, Cloud.AWS, _ARN, "an IAM role ARN (arn:aws:iam::123456789012:role/NAME)"),
    IdentityAnnotation(
        GKE_SERVICE_ACCOUNT, Cloud.GCP, _EMAIL, "a Google service account email (NAME@PROJECT.iam.gserviceaccount.com)"
    ),
    IdentityAnnotation(AZURE_CLIENT_ID, Cloud.AZURE, _GUID, "a client id GUID (00000000-0000-0000-0000-000000000000)"),
    IdentityAnnotation(AZURE_TENANT_ID, Cloud.AZURE, _GUID, "a tenant id GUID"),
)

BY_KEY = {a.key: a for a in IDENTITY_ANNOTATIONS}


def _squash(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


def near_miss(key: str) -> IdentityAnnotation | None:
    """The identity annotation `key` was probably meant to be, when it is not exactly one.

    Why: a typo'd key binds nothing, and the pod silently runs with the node's credentials.
    Catches separator and case slips (`role_arn`, `Role-Arn`) and one-letter edits
    (`gcp-service-acount`) within the same domain prefix.
    """
    if key in BY_KEY:
        return None
    squashed = _squash(key)
    for ann in IDENTITY_ANNOTATIONS:
        target = _squash(ann.key)
        if squashed == target or _edit_distance_le1(squashed, target):
            return ann
        prefix, _, name = ann.key.partition("/")
        kprefix, _, kname = key.partition("/")
        if kprefix.lower() == prefix and kname and _edit_distance_le(_squash(kname), _squash(name), 2):
            return ann
    return None


def _edit_distance_le1(a: str, b: str) -> bool:
    return _edit_distance_le(a, b, 1)


def _edit_distance_le(a: str, b: str, limit: int) -> bool:
    if abs(len(a) - len(b)) > limit:
        return False
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        if min(cur) > limit:
            return False
        prev = cur
    return prev[-1] <= limit


def identity_annotations(annotations: dict[str, str] | object) -> dict[str, str]:
    """The exact workload-identity annotations of a ServiceAccount."""
    return {k: v for k, v in dict(annotations).items() if k in BY_KEY}  # type: ignore[call-overload]
