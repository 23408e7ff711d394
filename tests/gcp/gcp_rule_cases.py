"""The GCP rule fixtures, as data: `python tests/gcp/gcp_builder.py` writes them to fixtures/rules/GCP-*/."""

from __future__ import annotations

from gcp_builder import (
    DEFAULT_COMPUTE,
    PROJECT,
    Case,
    binding,
    gsa,
    ksa_member,
    policy,
    pool,
    principal,
    principal_set,
    user_key,
    wiu,
)

API = gsa("api")
SA = f"serviceAccount:{API}"
OTHER = gsa("deployer")
SA_RESOURCE = f"//iam.googleapis.com/projects/{PROJECT}/serviceAccounts/{OTHER}"
COND = {"expression": "resource.name.startsWith('projects/fx-proj/secrets/api-')", "title": "api secrets only"}
CUSTOM_KEYS = {
    "name": f"projects/{PROJECT}/roles/keyMinter",
    "title": "Key minter",
    "stage": "GA",
    "includedPermissions": ["iam.serviceAccountKeys.create", "iam.serviceAccounts.get"],
    "etag": "BwYdV9Qx3rA=",
}


def _asset(resource: str, asset_type: str, *bindings: dict) -> dict:
    return {
        "assetType": asset_type,
        "organization": "organizations/300000000003",
        "policy": policy(*bindings),
        "project": "projects/100000000001",
        "resource": resource,
    }


CASES: dict[tuple[str, str], Case] = {
    # GCP-001 admin-access
    ("GCP-001", "fail-editor-on-project"): Case(
        project_policy=[binding("roles/editor", SA)], expect={"count": 1, "severity": "critical"}
    ),
    ("GCP-001", "fail-owner-on-folder"): Case(ancestors={"folders/200000000002": [binding("roles/owner", SA)]}),
    ("GCP-001", "fail-editor-via-principal"): Case(
        ksas=[("batch", "exporter", None)], project_policy=[binding("roles/editor", principal("batch", "exporter"))]
    ),
    ("GCP-001", "pass-viewer"): Case(project_policy=[binding("roles/viewer", SA), binding("roles/browser", SA)]),
    ("GCP-001", "pass-editor-but-binding-broken"): Case(
        project_policy=[binding("roles/editor", SA)], sa_policies={API: policy()}
    ),
    # GCP-002 privilege-escalation
    ("GCP-002", "fail-token-creator-on-project"): Case(
        project_policy=[binding("roles/iam.serviceAccountTokenCreator", SA)], expect={"count": 1, "severity": "high"}
    ),
    ("GCP-002", "fail-project-iam-admin"): Case(
        project_policy=[binding("roles/resourcemanager.projectIamAdmin", SA)],
        expect={"count": 1, "severity": "critical"},
    ),
    ("GCP-002", "fail-token-creator-on-other-sa"): Case(
        gsas=[API, OTHER],
        assets=[
            _asset(
                SA_RESOURCE, "iam.googleapis.com/ServiceAccount", binding("roles/iam.serviceAccountTokenCreator", SA)
            )
        ],
    ),
    ("GCP-002", "fail-custom-role-key-create"): Case(
        custom_roles=[CUSTOM_KEYS], project_policy=[binding(CUSTOM_KEYS["name"], SA)]
    ),
    ("GCP-002", "pass-token-creator-on-own-sa"): Case(
        sa_policies={
            API: policy(
                binding("roles/iam.workloadIdentityUser", ksa_member("app", "api")),
                binding("roles/iam.serviceAccountTokenCreator", SA),
            )
        },
    ),
    ("GCP-002", "pass-object-admin-on-bucket"): Case(
        assets=[
            _asset(
                "//storage.googleapis.com/fx-data",
                "storage.googleapis.com/Bucket",
                binding("roles/storage.objectAdmin", SA),
            )
        ],
    ),
    ("GCP-002", "pass-viewer"): Case(project_policy=[binding("roles/viewer", SA)]),
    # GCP-003 data-access
    ("GCP-003", "fail-secret-accessor-on-project"): Case(
        project_policy=[binding("roles/secretmanager.secretAccessor", SA)], expect={"count": 1, "severity": "medium"}
    ),
    ("GCP-003", "fail-kms-decrypt-on-folder"): Case(
        ancestors={"folders/200000000002": [binding("roles/cloudkms.cryptoKeyDecrypter", SA)]}
    ),
    ("GCP-003", "fail-object-viewer-via-namespace-set"): Case(
        ksas=[("batch", "exporter", None)],
        project_policy=[binding("roles/storage.objectViewer", principal_set("namespace/batch"))],
    ),
    ("GCP-003", "pass-secret-accessor-on-one-secret"): Case(
        assets=[
            _asset(
                "//secretmanager.googleapis.com/projects/100000000001/secrets/api-key",
                "secretmanager.googleapis.com/Secret",
                binding("roles/secretmanager.secretAccessor", SA),
            )
        ],
    ),
    ("GCP-003", "pass-conditional-on-project"): Case(
        project_policy=[binding("roles/secretmanager.secretAccessor", SA, condition=COND)]
    ),
    # GCP-004 broad-scope
    ("GCP-004", "fail-folder-binding"): Case(
        ancestors={"folders/200000000002": [binding("roles/pubsub.publisher", SA)]},
        expect={"count": 1, "severity": "medium"},
    ),
    ("GCP-004", "fail-organization-binding"): Case(
        ancestors={"organizations/300000000003": [binding("roles/logging.logWriter", SA)]}
    ),
    ("GCP-004", "pass-project-binding"): Case(project_policy=[binding("roles/pubsub.publisher", SA)]),
    # GCP-005 missing-condition
    ("GCP-005", "fail-secret-accessor-unconditional"): Case(
        project_policy=[binding("roles/secretmanager.secretAccessor", SA)], expect={"count": 1, "severity": "low"}
    ),
    ("GCP-005", "pass-conditional"): Case(
        project_policy=[binding("roles/secretmanager.secretAccessor", SA, condition=COND)]
    ),
    ("GCP-005", "pass-plain-role"): Case(project_policy=[binding("roles/pubsub.publisher", SA)]),
    # GCP-006 trust-unscoped
    ("GCP-006", "fail-namespace-wide-trust"): Case(
        sa_policies={API: policy(binding("roles/iam.workloadIdentityUser", principal_set("namespace/app")))},
        expect={"count": 1, "severity": "high"},
    ),
    ("GCP-006", "fail-pool-wide-direct-grant"): Case(
        ksas=[("batch", "exporter", None)], project_policy=[binding("roles/pubsub.publisher", principal_set("*"))]
    ),
    ("GCP-006", "fail-namespace-trust-on-editor"): Case(
        project_policy=[binding("roles/editor", SA)],
        sa_policies={API: policy(binding("roles/iam.workloadIdentityUser", principal_set("namespace/app")))},
        expect={"count": 1, "severity": "critical"},
    ),
    ("GCP-006", "fail-shared-gsa"): Case(
        ksas=[("app", "api", API), ("app", "worker", API)],
        sa_policies={
            API: policy(
                binding("roles/iam.workloadIdentityUser", ksa_member("app", "api"), ksa_member("app", "worker"))
            )
        },
        expect={"count": 2},
    ),
    ("GCP-006", "pass-one-member"): Case(project_policy=[binding("roles/pubsub.publisher", SA)]),
    ("GCP-006", "pass-principal-subject"): Case(
        ksas=[("batch", "exporter", None)],
        project_policy=[binding("roles/pubsub.publisher", principal("batch", "exporter"))],
    ),
    # GCP-007 binding-broken
    ("GCP-007", "fail-no-workload-identity-user"): Case(
        sa_policies={API: policy()}, expect={"count": 1, "severity": "medium"}
    ),
    ("GCP-007", "fail-other-ksa-trusted"): Case(sa_policies={API: wiu("app", "other")}),
    ("GCP-007", "fail-gsa-missing"): Case(gsas=[gsa("unrelated")]),
    ("GCP-007", "fail-gsa-disabled"): Case(disabled=(API,)),
    ("GCP-007", "fail-workload-identity-disabled"): Case(workload_pool=None),
    ("GCP-007", "pass-workload-identity-user"): Case(),
    ("GCP-007", "pass-trusted-by-principal"): Case(
        sa_policies={API: policy(binding("roles/iam.workloadIdentityUser", principal("app", "api")))}
    ),
    ("GCP-007", "pass-trusted-at-project"): Case(
        sa_policies={API: policy()},
        project_policy=[binding("roles/iam.workloadIdentityUser", ksa_member("app", "api"))],
    ),
    # GCP-008 static-credential
    ("GCP-008", "fail-user-managed-key"): Case(keys={API: [user_key(API)]}, expect={"count": 1, "severity": "high"}),
    ("GCP-008", "pass-system-managed-only"): Case(),
    ("GCP-008", "pass-disabled-user-key"): Case(keys={API: [user_key(API, disabled=True)]}),
    # Expired before the audit (every audit runs after 2026-01-06): it signs nothing Google accepts.
    ("GCP-008", "pass-expired-user-key"): Case(keys={API: [user_key(API, valid_before="2026-01-06T10:00:00Z")]}),
    ("GCP-008", "fail-expiring-user-key"): Case(
        keys={API: [user_key(API, valid_before="2999-01-01T00:00:00Z")]}, expect={"count": 1}
    ),
    # GCP-009 default compute account as a workload's GSA
    ("GCP-009", "fail-default-compute-account"): Case(
        ksas=[("app", "api", DEFAULT_COMPUTE)], gsas=[DEFAULT_COMPUTE], expect={"count": 1, "severity": "high"}
    ),
    ("GCP-009", "fail-default-compute-with-editor"): Case(
        ksas=[("app", "api", DEFAULT_COMPUTE)],
        gsas=[DEFAULT_COMPUTE],
        project_policy=[binding("roles/editor", f"serviceAccount:{DEFAULT_COMPUTE}")],
        expect={"count": 1, "severity": "critical"},
    ),
    ("GCP-009", "pass-dedicated-account"): Case(),
    # GCP-010 imds-exposure (nodes)
    ("GCP-010", "fail-gce-metadata-default-editor"): Case(
        pools=[pool("batch-pool", "default", "GCE_METADATA")],
        project_policy=[binding("roles/editor", f"serviceAccount:{DEFAULT_COMPUTE}")],
        expect={"count": 1, "severity": "critical"},
    ),
    ("GCP-010", "fail-workload-identity-disabled"): Case(
        workload_pool=None, pools=[pool("default-pool", gsa("nodes"))], expect={"count": 1, "severity": "medium"}
    ),
    ("GCP-010", "fail-mode-unset"): Case(pools=[pool("old-pool", gsa("nodes"), None)]),
    ("GCP-010", "pass-gke-metadata"): Case(pools=[pool("default-pool", "default", "GKE_METADATA")]),
    ("GCP-010", "pass-autopilot"): Case(autopilot=True, pools=[pool("pool-1", "default", None)]),
}
