"""Blank secret values in Kubernetes JSON before it is written anywhere (evidence, report folders).

EVIDENCE.md: a Secret is recorded by namespace, name, type and key names only, and no literal
credential value from a pod spec may reach an evidence file. Applied by live collection and when a
report folder copies a hand-made evidence directory.
"""

from __future__ import annotations

import json
import re
from typing import Any

REDACTED = "<redacted by kubeiam>"
# Names that by convention hold secrets (every cloud SDK's credential variables among them).
_SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE_?KEY|ACCESS_?KEY|API_?KEY|CREDENTIAL", re.IGNORECASE)
# A variable that names a credentials *file* (GOOGLE_APPLICATION_CREDENTIALS, AWS_SHARED_CREDENTIALS_FILE)
# holds a path, not a secret, and the reader needs the path to find the key mounted from a Secret.
_FILE_NAME = re.compile(r"(CREDENTIALS|_FILE|_PATH)$", re.IGNORECASE)
_PATH = re.compile(r"^/[\w.@/-]+$")
# Keys whose value is secret wherever they appear in the CLI outputs of EVIDENCE.md (no reader needs
# them): EC2 launch-template user data, a service account key's private key, GKE masterAuth, AKS profiles.
SECRET_KEYS = frozenset({"UserData", "privateKeyData", "password", "clientKey", "secret", "adminPassword"})


def is_secret_variable(name: str, value: str = "") -> bool:
    """Whether an environment variable's literal value must never be written anywhere."""
    if not _SECRET_NAME.search(name):
        return False
    return not (_FILE_NAME.search(name) and _PATH.match(value))


_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def redact(node: Any) -> bool:
    """Blank secret values in place, recursively; True when anything changed."""
    changed = False
    if isinstance(node, dict):
        if node.get("kind") == "Secret":
            for key in ("data", "stringData"):
                if isinstance(node.get(key), dict):
                    changed |= any(v != "" for v in node[key].values())
                    node[key] = dict.fromkeys(node[key], "")
        for key in SECRET_KEYS & node.keys():
            if isinstance(node[key], str) and node[key] not in ("", REDACTED):
                node[key] = REDACTED
                changed = True
        name = node.get("name")
        if (
            isinstance(name, str)
            and isinstance(node.get("value"), str)
            and node["value"]
            and is_secret_variable(name, node["value"])
        ):
            changed |= node["value"] != REDACTED
            node["value"] = REDACTED
        metadata = node.get("metadata")
        annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
        if isinstance(annotations, dict) and isinstance(annotations.get(_LAST_APPLIED), str):
            try:
                inner = json.loads(annotations[_LAST_APPLIED])
            except ValueError:
                inner = None
            if inner is not None and redact(inner):
                annotations[_LAST_APPLIED] = json.dumps(inner)
                changed = True
        for value in node.values():
            changed |= redact(value)
    elif isinstance(node, list):
        for value in node:
            changed |= redact(value)
    return changed
