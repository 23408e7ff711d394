"""Evidence cases for issue 15 (deeper judgement) shared by tests/gcp/test_gcp_deeper_*.py, and the rule
fixtures they add (`python tests/gcp/gcp_deeper_cases.py` writes fixtures/rules/GCP-*/ for them)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from gcp_builder import CLUSTER, PROJECT, Case, binding, gsa, ksa_member, policy, pool

API = gsa("api")
SA = f"serviceAccount:{API}"
OTHER = gsa("deployer")
THIRD = gsa("admin")
NODES = gsa("nodes")


def sa_resource(email: str) -> str:
    return f"//iam.googleapis.com/projects/{PROJECT}/serviceAccounts/{email}"


def asset(resource: str, *bindings: dict[str, Any]) -> dict[str, Any]:
    return {
        "assetType": "iam.googleapis.com/ServiceAccount",
        "policy": policy(*bindings),
        "project": "projects/100000000001",
        "resource": resource,
    }


def on_account(email: str, role: str, member: str = SA) -> dict[str, Any]:
    """`role` granted to `member` on the service account `email` (its own IAM policy, via the asset search)."""
    return asset(sa_resource(email), binding(role, member))


def trusted(*extra: str) -> dict[str, dict[str, Any]]:
    """The api GSA trusts its KSA; the other accounts have empty policies."""
    out = {API: policy(binding("roles/iam.workloadIdentityUser", ksa_member("app", "api")))}
    out.update({e: policy() for e in extra})
    return out


def host_network(root: Path, name: str = "api") -> Path:
    """Make the pod of ServiceAccount `name` a hostNetwork pod."""
    resources = root / "kubernetes" / CLUSTER / "resources.json"
    doc = json.loads(resources.read_text())
    for item in doc["items"]:
        if item["kind"] == "Pod" and item["spec"]["serviceAccountName"] == name:
            item["spec"]["hostNetwork"] = True
    resources.write_text(json.dumps(doc, indent=2) + "\n")
    return root


EXPIRED = {"expression": "request.time < timestamp('2020-01-01T00:00:00Z')", "title": "until 2020"}
UNTIL_2999 = {"expression": "request.time < timestamp('2999-01-01T00:00:00Z')", "title": "for now"}
ALWAYS = {"expression": "resource.name.startsWith('')", "title": "everything"}

FIXTURES: dict[tuple[str, str], Case] = {
    ("GCP-001", "pass-editor-expired-condition"): Case(project_policy=[binding("roles/editor", SA, condition=EXPIRED)]),
    ("GCP-002", "pass-sa-user-without-deploy-path"): Case(project_policy=[binding("roles/iam.serviceAccountUser", SA)]),
    ("GCP-002", "fail-sa-user-with-cloud-run-developer"): Case(
        project_policy=[binding("roles/iam.serviceAccountUser", SA), binding("roles/run.developer", SA)],
        expect={"count": 1, "severity": "high"},
    ),
    ("GCP-002", "fail-token-creator-chain-to-owner"): Case(
        gsas=[API, OTHER, THIRD],
        sa_policies=trusted(OTHER, THIRD),
        assets=[
            on_account(OTHER, "roles/iam.serviceAccountTokenCreator"),
            on_account(THIRD, "roles/iam.serviceAccountTokenCreator", f"serviceAccount:{OTHER}"),
        ],
        project_policy=[binding("roles/owner", f"serviceAccount:{THIRD}")],
        expect={"count": 1, "severity": "critical"},
    ),
    ("GCP-003", "fail-time-limited-secret-access"): Case(
        project_policy=[binding("roles/secretmanager.secretAccessor", SA, condition=UNTIL_2999)]
    ),
    ("GCP-005", "fail-token-creator-unconditional"): Case(
        project_policy=[binding("roles/iam.serviceAccountTokenCreator", SA)]
    ),
    ("GCP-005", "fail-always-true-condition"): Case(
        project_policy=[binding("roles/iam.serviceAccountTokenCreator", SA, condition=ALWAYS)]
    ),
    ("GCP-012", "fail-host-network-on-protected-pool"): Case(
        pools=[pool("default-pool", NODES, "GKE_METADATA")],
        project_policy=[binding("roles/editor", f"serviceAccount:{NODES}")],
        expect={"count": 1, "severity": "high"},
    ),
    ("GCP-012", "pass-host-network-minimal-node-account"): Case(
        pools=[pool("default-pool", NODES, "GKE_METADATA")],
        project_policy=[binding("roles/container.defaultNodeServiceAccount", f"serviceAccount:{NODES}")],
    ),
}
HOST_NETWORK = {
    ("GCP-012", "fail-host-network-on-protected-pool"),
    ("GCP-012", "pass-host-network-minimal-node-account"),
}


def write_fixture(key: tuple[str, str], target: Path) -> Path:
    if target.exists():
        shutil.rmtree(target)
    root = FIXTURES[key].write(target)
    return host_network(root) if key in HOST_NETWORK else root


if __name__ == "__main__":
    base = Path(__file__).resolve().parents[2] / "fixtures" / "rules"
    for rule_id, name in FIXTURES:
        print(write_fixture((rule_id, name), base / rule_id / name).relative_to(base))
