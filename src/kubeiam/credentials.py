"""Environment variables through which cloud SDKs pick up long-lived credentials."""

from __future__ import annotations

from kubeiam.model import Cloud

# Why these: each SDK's default chain reads them before any workload identity, so a pod that sets
# them uses a static key even when its ServiceAccount is bound to a role.
STATIC_CREDENTIAL_VARIABLES: dict[str, Cloud] = {
    "AWS_ACCESS_KEY_ID": Cloud.AWS,
    "AWS_SECRET_ACCESS_KEY": Cloud.AWS,
    "AZURE_CLIENT_SECRET": Cloud.AZURE,
    "AZURE_CLIENT_CERTIFICATE_PASSWORD": Cloud.AZURE,
    # Only a credential when it points at a key file mounted from a Secret (the reader checks).
    "GOOGLE_APPLICATION_CREDENTIALS": Cloud.GCP,
}

# Keys of a Secret that hold the same material when a whole Secret is loaded with envFrom.
SECRET_KEY_NAMES = {name.lower() for name in STATIC_CREDENTIAL_VARIABLES} | {
    "aws_access_key_id",
    "aws_secret_access_key",
    "azure_client_secret",
}
