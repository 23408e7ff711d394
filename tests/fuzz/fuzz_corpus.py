"""Evidence sets for the fuzz: the demo, and three built from the public corpus in fixtures/ (each one cloud
of the demo, its identities also granted real AWS managed policies, GCP predefined roles or Azure built-in
roles, as the corpus records them).

The corpus sets put real documents where a hand-written fixture would be tidy: managed policies with
`Bool`/`Null`/`ForAnyValue`/`...IfExists` conditions, `NotAction`, `NotResource` and policy variables;
custom roles carrying a predefined role's permission list; built-in role definitions as `az role
definition list` prints them.
"""

from __future__ import annotations

import copy
import gzip
import json
import lzma
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fuzz_runs import EvidenceSet

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
DEMO = FIXTURES / "demo"
ACCOUNT, SUBSCRIPTION = "111122223333", "8f3c2d1e-4b5a-4c6d-9e8f-0a1b2c3d4e5f"

# One role per grammar feature the readers must keep (the smallest managed policy that has it).
AWS_POLICIES = (
    "PowerUserAccess",  # NotAction
    "IAMFullAccess",
    "AmazonS3ReadOnlyAccess",
    "SecretsManagerReadWrite",
    "AWSBackupFullAccess",  # "Bool": {"kms:GrantIsForAWSResource": true}, a JSON boolean
    "AWSDeepRacerAccountAdminAccess",  # Null
    "AmazonMacieHandshakeRole",  # ForAnyValue:
    "IAMCreateRootUserPassword",  # NotResource
    "AmazonAugmentedAIFullAccess",  # ...IfExists
    "IAMUserChangePassword",  # ${aws:username}
)
# (custom role id, the predefined role whose permissions it copies, the demo account it is granted to)
GCP_CUSTOM = (
    ("corpusTokenCreator", "roles/iam.serviceAccountTokenCreator", "bq-loader"),
    ("corpusSecretAccessor", "roles/secretmanager.secretAccessor", "frontend"),
    ("corpusStorageAdmin", "roles/storage.admin", "gcs-sync"),
)
GCP_PREDEFINED = (
    ("roles/resourcemanager.projectIamAdmin", "frontend"),
    ("roles/iam.serviceAccountKeyAdmin", "gcs-sync"),
    ("roles/iam.securityReviewer", "bq-loader"),
)
AZURE_ROLES = (
    ("Owner", "rg"),
    ("Contributor", "subscription"),
    ("User Access Administrator", "rg"),
    ("Reader", "subscription"),
    ("Key Vault Secrets User", "rg"),
    ("Storage Blob Data Reader", "subscription"),
    ("Role Based Access Control Administrator", "rg"),
)


def demo() -> EvidenceSet:
    return EvidenceSet.load("demo", DEMO)


def corpus_sets(workdir: Path) -> list[EvidenceSet]:
    """The three corpus sets, written under `workdir`."""
    builders: dict[str, Callable[[Path], None]] = {
        "aws-managed-policies": _aws,
        "gcp-predefined-roles": _gcp,
        "azure-builtin-roles": _azure,
    }
    out = []
    for name, build in builders.items():
        root = workdir / name
        if root.exists():
            shutil.rmtree(root)
        build(root)
        out.append(EvidenceSet.load(name, root))
    return out


def all_sets(workdir: Path) -> list[EvidenceSet]:
    return [demo(), *corpus_sets(workdir)]


# --- AWS: a role per managed policy, each taken by an IRSA ServiceAccount of eks-prod ----------------------


def _aws(root: Path) -> None:
    _copy(root, "kubernetes/eks-prod", "aws")
    with gzip.open(FIXTURES / "aws" / "corpus" / "aws-managed-policies.json.gz") as f:
        corpus = json.load(f)["policies"]
    iam_path = root / "aws" / ACCOUNT / "iam.json"
    iam, resources = _read(iam_path), _read(root / "kubernetes/eks-prod/resources.json")
    template = next(r for r in iam["RoleDetailList"] if r["RoleName"] == "payments-api")
    resources["items"].append(_namespace("corpus"))
    for i, name in enumerate(AWS_POLICIES):
        policy, sa = corpus[name], f"mp-{i}"
        role = copy.deepcopy(template)
        role.update(
            RoleName=f"corpus-{sa}",
            RoleId=f"AROACORPUS{i:011d}",
            Arn=f"arn:aws:iam::{ACCOUNT}:role/corpus-{sa}",
            RolePolicyList=[],
            AttachedManagedPolicies=[{"PolicyName": name, "PolicyArn": policy["arn"]}],
        )
        condition = role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["StringEquals"]
        sub = next(k for k in condition if k.endswith(":sub"))
        condition[sub] = f"system:serviceaccount:corpus:{sa}"
        iam["RoleDetailList"].append(role)
        if not any(p["Arn"] == policy["arn"] for p in iam["Policies"]):
            iam["Policies"].append(_managed_policy(name, policy))
        resources["items"].append(_service_account("corpus", sa, {"eks.amazonaws.com/role-arn": role["Arn"]}))
    _write(iam_path, iam)
    _write(root / "kubernetes/eks-prod/resources.json", resources)


def _managed_policy(name: str, policy: dict[str, Any]) -> dict[str, Any]:
    """One `Policies` entry of get-account-authorization-details."""
    return {
        "PolicyName": name,
        "PolicyId": "ANPA" + name.upper()[:17].ljust(17, "0"),
        "Arn": policy["arn"],
        "Path": "/",
        "DefaultVersionId": policy["version"],
        "AttachmentCount": 1,
        "PermissionsBoundaryUsageCount": 0,
        "IsAttachable": True,
        "CreateDate": "2015-02-06T18:39:46Z",
        "UpdateDate": "2024-01-01T00:00:00Z",
        "PolicyVersionList": [
            {
                "Document": policy["document"],
                "VersionId": policy["version"],
                "IsDefaultVersion": True,
                "CreateDate": "2024-01-01T00:00:00Z",
            }
        ],
    }


# --- GCP: custom roles copying predefined ones, and predefined roles, granted to the demo's accounts ------


def _gcp(root: Path) -> None:
    _copy(root, "kubernetes/gke-data", "gcp")
    predefined = json.loads(
        lzma.decompress((FIXTURES / "gcp" / "corpus" / "gcp_predefined_roles.json.xz").read_bytes())
    )
    project = root / "gcp" / "acme-data"
    custom, policy = _read(project / "custom-roles.json"), _read(project / "project-iam-policy.json")
    for role_id, source, account in GCP_CUSTOM:
        name = f"projects/acme-data/roles/{role_id}"
        custom.append(
            {
                "description": f"A copy of {source}",
                "etag": "BwYdV9Qx3rA=",
                "includedPermissions": sorted(predefined["roles"][source]["permissions"]),
                "name": name,
                "stage": "GA",
                "title": role_id,
            }
        )
        policy["bindings"].append({"members": [_gsa(account)], "role": name})
    for role, account in GCP_PREDEFINED:
        policy["bindings"].append({"members": [_gsa(account)], "role": role})
    _write(project / "custom-roles.json", custom)
    _write(project / "project-iam-policy.json", policy)


def _gsa(account: str) -> str:
    return f"serviceAccount:{account}@acme-data.iam.gserviceaccount.com"


# --- Azure: built-in role definitions as az prints them, assigned to the demo's identities ---------------


def _azure(root: Path) -> None:
    _copy(root, "kubernetes/aks-apps", "azure")
    corpus = json.loads(
        gzip.decompress((FIXTURES / "azure" / "corpus" / "azure_builtin_roles_az-cli_iam-dataset.json.gz").read_bytes())
    )
    by_name = {r["roleName"]: r for r in corpus}
    sub = root / "azure" / SUBSCRIPTION
    definitions, assignments = _read(sub / "role-definitions.json"), _read(sub / "role-assignments.json")
    principals = [i["principalId"] for i in _read(sub / "identities.json")]
    template = assignments[0]
    scopes = {
        "subscription": f"/subscriptions/{SUBSCRIPTION}",
        "rg": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-apps",
    }
    for i, (role_name, scope) in enumerate(AZURE_ROLES):
        role = dict(by_name[role_name])
        role_id = f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{role['name']}"
        definitions.append({"id": role_id, **role})
        guid = f"c0c0c0c0-0000-4000-8000-{i:012d}"
        assignments.append(
            {
                **template,
                "id": f"{scopes[scope]}/providers/Microsoft.Authorization/roleAssignments/{guid}",
                "name": guid,
                "principalId": principals[i % len(principals)],
                "roleDefinitionId": role_id,
                "roleDefinitionName": role_name,
                "scope": scopes[scope],
                "resourceGroup": "rg-apps" if scope == "rg" else None,
            }
        )
    _write(sub / "role-definitions.json", definitions)
    _write(sub / "role-assignments.json", assignments)


# --- helpers --------------------------------------------------------------------------------------------


def _copy(root: Path, *parts: str) -> None:
    for part in parts:
        shutil.copytree(DEMO / part, root / part)


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _write(path: Path, doc: Any) -> None:
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def _namespace(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}, "uid": f"ns-{name}"},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def _service_account(namespace: str, name: str, annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": namespace, "uid": f"sa-{namespace}-{name}", "annotations": annotations},
    }
