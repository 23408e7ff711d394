"""One `gcp/<project-id>/` folder of an evidence directory (EVIDENCE.md), each file checked by its parser.

A present but malformed file raises `InputError` naming the file and the field. Both the gcloud
`--format=json` shapes and the REST shapes the live collector writes (`{"accounts": [...]}`,
`{"results": [...]}`...) are accepted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubeiam.pipeline.evidence import Evidence

from .gke import GkeClusterFile, read_clusters
from .policies import Bindings, read_ancestors, read_assets, read_project_policy, read_service_account_policies
from .projects import read_project
from .roles import read_custom_roles
from .service_accounts import read_keys, read_service_accounts

Raw = Mapping[str, Any]


@dataclass(frozen=True)
class ProjectFiles:
    """One `gcp/<project-id>/` folder, checked. `None` means the file is absent (never "empty")."""

    project: str
    number: str | None = None
    parent: str | None = None
    iam_policy: Bindings | None = None
    ancestors: Mapping[str, Bindings] | None = None
    assets: Sequence[Raw] | None = None
    service_accounts: Sequence[Raw] | None = None
    sa_policies: Mapping[str, Bindings] | None = None
    sa_keys: Mapping[str, Sequence[Raw]] | None = None
    custom_roles: Sequence[Raw] | None = None
    clusters: tuple[GkeClusterFile, ...] = ()


def load_project(evidence: Evidence, project: str) -> ProjectFiles:
    base = f"gcp/{project}"
    # Read in this order: with several malformed files, the first one named is always the same.
    record = read_project(evidence, base)
    return ProjectFiles(
        project,
        number=record.number if record else None,
        parent=record.parent if record else None,
        iam_policy=read_project_policy(evidence, base),
        ancestors=read_ancestors(evidence, base),
        assets=read_assets(evidence, base),
        service_accounts=read_service_accounts(evidence, base),
        sa_policies=read_service_account_policies(evidence, base),
        sa_keys=read_keys(evidence, base),
        custom_roles=read_custom_roles(evidence, base),
        clusters=read_clusters(evidence, base),
    )
