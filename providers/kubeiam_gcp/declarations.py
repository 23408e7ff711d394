"""What Google Cloud declares to the core: its cloud name, the GKE annotation, the SDK's credential variable."""

from __future__ import annotations

import re
from typing import Any

from kubeiam.vocabulary.declarations import AccountPattern, CredentialVariable, Declarations, IdentityAnnotation

GCP = "gcp"
"""The cloud's name in findings."""

GKE_SERVICE_ACCOUNT = "iam.gke.io/gcp-service-account"

# Google service account emails are lower case: NAME@PROJECT.iam.gserviceaccount.com (PROJECT may
# be domain-scoped: my-proj.example.com), the default compute and App Engine accounts. Why strict:
# docs placeholders (`NAME@PROJECT_ID.iam...`, `<PROJECT_ID>`) must count as malformed, not valid.
_EMAIL = re.compile(
    r"^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9](\.[a-z0-9-]+)*\.iam\.gserviceaccount\.com$"
    r"|^[0-9]+-compute@developer\.gserviceaccount\.com$"
    r"|^[a-z][a-z0-9-]{4,28}[a-z0-9]@appspot\.gserviceaccount\.com$"
)

POWERS: dict[str, Any] = {}
"""How this provider judges one identity's power, filled by the package's __init__: the judge imports the
view, which imports this module, so the function cannot be named here."""

DECLARATIONS = Declarations(
    powers=POWERS,
    clouds=(GCP,),
    titles={GCP: "GCP"},
    annotations=(
        IdentityAnnotation(
            GKE_SERVICE_ACCOUNT,
            GCP,
            _EMAIL,
            "a Google service account email (NAME@PROJECT.iam.gserviceaccount.com)",
            platform_bound=True,
        ),
    ),
    # A path to a key file, not a secret: a credential only when a Secret-backed volume provides it.
    credential_variables=(
        CredentialVariable("GOOGLE_APPLICATION_CREDENTIALS", GCP, points_to_file=True),
        # gcloud's own: a credential file in place of the configured account, an access token or a file of one.
        CredentialVariable("CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE", GCP, points_to_file=True),
        CredentialVariable("CLOUDSDK_AUTH_ACCESS_TOKEN_FILE", GCP, points_to_file=True),
        CredentialVariable("CLOUDSDK_AUTH_ACCESS_TOKEN", GCP),
        # Terraform's Google provider (and older tools): a key's JSON content (or a path), an access token.
        CredentialVariable("GOOGLE_CREDENTIALS", GCP),
        CredentialVariable("GOOGLE_CLOUD_KEYFILE_JSON", GCP),
        CredentialVariable("GCLOUD_KEYFILE_JSON", GCP),
        CredentialVariable("GOOGLE_OAUTH_ACCESS_TOKEN", GCP),
    ),
    node_schemes={"gce": GCP},
    # The project a principal names (a workload identity pool, a service account email), else the GKE
    # cluster's. A number-only principal (NUMBER-compute@developer...) names no project id: its cluster's.
    accounts=(
        AccountPattern(
            GCP, "project", re.compile(r"workloadIdentityPools/([a-z][-a-z0-9]{4,28}[a-z0-9])\.svc\.id\.goog")
        ),
        AccountPattern(
            GCP, "project", re.compile(r"@([a-z][-a-z0-9]{4,28}[a-z0-9](?:\.[a-z0-9-]+)*)\.iam\.gserviceaccount\.com$")
        ),
        AccountPattern(
            GCP, "project", re.compile(r"^//container\.googleapis\.com/projects/([a-z][-a-z0-9]{4,28}[a-z0-9])/")
        ),
    ),
)
