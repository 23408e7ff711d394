"""SDK responses -> the JSON gcloud prints (`--format=json`: Google REST JSON, camelCase, defaults omitted)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubeiam.pipeline.evidence import write_json_file


def rest_json(message: Any) -> dict[str, Any]:
    """A proto-plus or plain protobuf message as REST JSON (camelCase, enum names, bytes base64).

    Through protobuf's MessageToDict without its default-field options, whose names changed across
    protobuf versions: the defaults (omit unset fields) are what the REST API and gcloud print.
    """
    from google.protobuf.json_format import MessageToDict

    pb = type(message).pb(message) if hasattr(type(message), "pb") else message  # proto-plus wraps a pb
    out: dict[str, Any] = MessageToDict(pb, preserving_proto_field_name=False)
    return out


def iam_policy(policy: Any) -> dict[str, Any]:
    """`get-iam-policy` output: `bindings` (with `condition`), `etag`, `version`; gcloud always prints the etag."""
    return rest_json(policy)


def project_v1(project: Any) -> dict[str, Any]:
    """`gcloud projects describe` prints the v1 Project; the client library speaks v3: translate.

    v3 `name` is `projects/NUMBER`, v1 has `projectNumber` and uses `name` for the display name;
    v3 `parent` is `folders/N`, v1 `{"type": "folder", "id": "N"}`; v3 `state`, v1 `lifecycleState`.
    """
    v3 = rest_json(project)
    out: dict[str, Any] = {
        "projectId": v3.get("projectId", ""),
        "projectNumber": v3.get("name", "").rpartition("/")[2],
        "lifecycleState": v3.get("state", "LIFECYCLE_STATE_UNSPECIFIED"),
    }
    if v3.get("displayName"):
        out["name"] = v3["displayName"]
    if v3.get("createTime"):
        out["createTime"] = v3["createTime"]
    if v3.get("labels"):
        out["labels"] = v3["labels"]
    parent = v3.get("parent", "")
    if "/" in parent:
        kind, _, ident = parent.partition("/")
        out["parent"] = {"type": kind.rstrip("s"), "id": ident}
    return out


def service_account_key(key: Any) -> dict[str, Any]:
    """`keys list` output; key material is dropped (never written), whatever the server sent."""
    out = rest_json(key)
    out.pop("privateKeyData", None)
    out.pop("publicKeyData", None)
    return out


def cluster(message: Any) -> dict[str, Any]:
    """`clusters describe` output without the legacy basic-auth password and client key (secrets)."""
    out = rest_json(message)
    auth = out.get("masterAuth")
    if isinstance(auth, dict):
        for secret in ("password", "clientKey"):
            auth.pop(secret, None)
    return out


def write_json(path: Path, value: Any) -> None:
    """gcloud's JSON: sorted keys, two-space indent."""
    write_json_file(path, value, sort_keys=True)
