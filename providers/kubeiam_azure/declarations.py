"""What Azure declares to the core: its cloud name, the Workload Identity annotations and label, the SDK's
credential variables."""

from __future__ import annotations

import re
from typing import Any

from kubeiam.vocabulary.declarations import AccountPattern, CredentialVariable, Declarations, IdentityAnnotation

AZURE = "azure"
"""The cloud's name in findings."""

AZURE_CLIENT_ID = "azure.workload.identity/client-id"
AZURE_TENANT_ID = "azure.workload.identity/tenant-id"
AZURE_USE_LABEL = "azure.workload.identity/use"

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

POWERS: dict[str, Any] = {}
"""How this provider judges one identity's power, filled by the package's __init__: the judge imports the
view, which imports this module, so the function cannot be named here."""

DECLARATIONS = Declarations(
    powers=POWERS,
    clouds=(AZURE,),
    titles={AZURE: "Azure"},
    annotations=(
        IdentityAnnotation(AZURE_CLIENT_ID, AZURE, _GUID, "a client id GUID (00000000-0000-0000-0000-000000000000)"),
        IdentityAnnotation(AZURE_TENANT_ID, AZURE, _GUID, "a tenant id GUID"),
    ),
    # What azure-identity's EnvironmentCredential (first in DefaultAzureCredential), the Azure CLI's storage
    # commands and Terraform's azurerm provider and backend read as long-lived credentials. The certificate
    # paths are paths: a credential only when a Secret-backed volume provides the file.
    # AZURE_STORAGE_CONNECTION_STRING is left out: a literal `UseDevelopmentStorage=true` (Azurite) is no key.
    credential_variables=(
        CredentialVariable("AZURE_CLIENT_SECRET", AZURE),
        CredentialVariable("AZURE_CLIENT_CERTIFICATE_PATH", AZURE, points_to_file=True),
        CredentialVariable("AZURE_CLIENT_CERTIFICATE_PASSWORD", AZURE),
        CredentialVariable("AZURE_PASSWORD", AZURE),
        CredentialVariable("AZURE_STORAGE_KEY", AZURE),
        CredentialVariable("ARM_CLIENT_SECRET", AZURE),
        CredentialVariable("ARM_CLIENT_CERTIFICATE_PATH", AZURE, points_to_file=True),
        CredentialVariable("ARM_CLIENT_CERTIFICATE_PASSWORD", AZURE),
        CredentialVariable("ARM_ACCESS_KEY", AZURE),
    ),
    node_schemes={"azure": AZURE},
    labels=(AZURE_USE_LABEL,),
    # The subscription of a managed identity's or an AKS cluster's resource id (a principal id alone names none).
    accounts=(AccountPattern(AZURE, "subscription", re.compile(r"^/subscriptions/([0-9a-fA-F-]{36})(?:/|$)", re.I)),),
)
