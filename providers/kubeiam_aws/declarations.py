"""What AWS declares to the core: its cloud name, the IRSA annotation, the SDK's credential variables."""

from __future__ import annotations

import re
from typing import Any

from kubeiam.vocabulary.declarations import AccountPattern, CredentialVariable, Declarations, IdentityAnnotation

AWS = "aws"
"""The cloud's name in findings."""

AWS_ROLE_ARN = "eks.amazonaws.com/role-arn"

_ARN = re.compile(r"^arn:aws(-cn|-us-gov|-iso|-iso-b)?:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")

POWERS: dict[str, Any] = {}
"""How this provider judges one identity's power, filled by the package's __init__: the judge imports the
view, which imports this module, so the function cannot be named here."""

DECLARATIONS = Declarations(
    powers=POWERS,
    clouds=(AWS,),
    titles={AWS: "AWS"},
    annotations=(
        IdentityAnnotation(
            AWS_ROLE_ARN, AWS, _ARN, "an IAM role ARN (arn:aws:iam::123456789012:role/NAME)", platform_bound=True
        ),
    ),
    # Why these: the SDKs' default chain reads them before any workload identity, so a pod that sets
    # them uses a static key even when its ServiceAccount is bound to a role. The legacy names (AWS_ACCESS_KEY,
    # AWS_SECRET_KEY) are still read by the Java SDK; a session token travels with its key; the shared
    # credentials and config files (paths) hold keys or a credential_process when a Secret provides them.
    credential_variables=(
        CredentialVariable("AWS_ACCESS_KEY_ID", AWS),
        CredentialVariable("AWS_SECRET_ACCESS_KEY", AWS),
        CredentialVariable("AWS_SESSION_TOKEN", AWS),
        CredentialVariable("AWS_ACCESS_KEY", AWS),
        CredentialVariable("AWS_SECRET_KEY", AWS),
        CredentialVariable("AWS_SHARED_CREDENTIALS_FILE", AWS, points_to_file=True),
        CredentialVariable("AWS_CONFIG_FILE", AWS, points_to_file=True),
    ),
    node_schemes={"aws": AWS},
    # The account of a role ARN, or of an EKS cluster ARN (for findings without a principal).
    accounts=(AccountPattern(AWS, "account", re.compile(r"^arn:aws[\w-]*:[\w-]+:[\w-]*:(\d{12}):")),),
)
