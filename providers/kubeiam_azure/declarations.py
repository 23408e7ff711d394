"""What Azure declares to the core: its cloud name, the Workload Identity annotations and label, the SDK's
credential variables."""

from __future__ import annotations

import re

from kubeiam.vocabulary.declarations import AccountPattern, CredentialVariable, Declarations, IdentityAnnotation

AZURE = "azure"
"""The cloud's name in findings."""

AZURE_CLIENT_ID = "azure.workload.identity/client-id"
AZURE_TENANT_ID = "azure.workload.identity/tenant-id"
AZURE_USE_LABEL = "azure.workload.identity/use"

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

DECLARATIONS = Declarations(
    clouds=(AZURE,),
    titles={AZURE: "Azure"},
    annotations=(
        IdentityAnnotation(AZURE_CLIENT_ID, AZURE, _GUID, "a client id GUID (00000000-0000-0000-0000-000000000000)"),
        IdentityAnnotation(AZURE_TENANT_ID, AZURE, _GUID, "a tenant id GUID"),
    ),
    credential_variables=(
        CredentialVariable("AZURE_CLIENT_SECRET", AZURE),
        CredentialVariable("AZURE_CLIENT_CERTIFICATE_PASSWORD", AZURE),
    ),
    node_schemes={"azure": AZURE},
    labels=(AZURE_USE_LABEL,),
    # The subscription of a managed identity's or an AKS cluster's resource id (a principal id alone names none).
    accounts=(AccountPattern(AZURE, "subscription", re.compile(r"^/subscriptions/([0-9a-fA-F-]{36})(?:/|$)", re.I)),),
)
