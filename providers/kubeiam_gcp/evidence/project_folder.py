"""One `gcp/<project-id>/` folder of an evidence directory (EVIDENCE.md), each file checked by its parser.

A file that is not the command's shape at the top level raises `InputError` naming the file and the
field; an item inside it that cannot be read is an `Unread` (`unread`), the rest is read. Both the
gcloud `--format=json` shapes and the REST shapes the live collector writes (`{"accounts": [...]}`,
`{"results": [...]}`...) are accepted, and gcloud's `get-ancestors-iam-policy` list.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubeiam.pipeline.evidence import Evidence

from .gke import GkeClusterFile, read_clusters
from .guardrail_files import DenyFile, GroupsFile, read_deny_policies, read_group_memberships
from .json_checks import Unread, pages_missing
from .policies import (
    AccountPoliciesFile,
    AncestorsFile,
    AssetsFile,
    Bindings,
    PolicyFile,
    read_ancestors,
    read_assets,
    read_project_policy,
    read_service_account_policies,
)
from .projects import read_project
from .roles import RolesFile, read_custom_roles
from .service_accounts import AccountsFile, KeysFile, read_keys, read_service_accounts


@dataclass(frozen=True)
class ProjectFiles:
    """One `gcp/<project-id>/` folder, checked. `None` means the file is absent (never "empty")."""

    project: str
    number: str | None = None
    """From project.json; `EvidenceIndex.numbers` also knows it from the other files."""
    parent: str | None = None
    parent_known: bool = False
    """Whether the project's parent is known (project.json read, or the ancestors list names it)."""
    iam_policy: PolicyFile | None = None
    ancestors: AncestorsFile | None = None
    assets: AssetsFile | None = None
    service_accounts: AccountsFile | None = None
    sa_policies: AccountPoliciesFile | None = None
    sa_keys: KeysFile | None = None
    custom_roles: RolesFile | None = None
    clusters: tuple[GkeClusterFile, ...] = ()
    project_unread: tuple[Unread, ...] = ()
    """What project.json says that cannot be read (its number, its parent)."""
    deny: DenyFile | None = None
    """deny-policies.json: the deny policies of the project and its ancestors (None: not read)."""
    groups: GroupsFile | None = None
    """group-memberships.json: who is in the groups the policies name (None: not read)."""

    @property
    def project_bindings(self) -> Bindings | None:
        """The project's own bindings: its policy file, else the project entry of the ancestors list."""
        if self.iam_policy is not None:
            return self.iam_policy.bindings
        return self.ancestors.project if self.ancestors is not None else None

    @property
    def unread(self) -> tuple[Unread, ...]:
        """Every item of the folder's files that could not be read, and the pages missing."""
        out: list[Unread] = list(self.project_unread)
        parts = (self.iam_policy, self.ancestors, self.assets, self.service_accounts, self.sa_policies)
        for part in (*parts, self.sa_keys, self.custom_roles, self.deny):
            out += part.unread if part is not None else ()
        base = f"gcp/{self.project}"
        for name, paged in (
            ("asset-iam-policies.json", self.assets),
            ("service-accounts.json", self.service_accounts),
            ("custom-roles.json", self.custom_roles),
        ):
            if paged is not None and paged.next_page:
                out.append(pages_missing(f"{base}/{name}", paged.next_page))
        return tuple(out)


def load_project(evidence: Evidence, project: str) -> ProjectFiles:
    base = f"gcp/{project}"
    # Read in this order: with several malformed files, the first one named is always the same.
    record = read_project(evidence, base)
    iam_policy = read_project_policy(evidence, base)
    ancestors = read_ancestors(evidence, base)
    parent = record.parent if record else None
    parent_known = record is not None and record.parent_known
    if not parent_known and ancestors is not None and ancestors.chain is not None:
        # gcloud's ancestors list names the parent chain itself (empty: a project with no parent).
        parent, parent_known = (ancestors.chain[0] if ancestors.chain else None), True
    return ProjectFiles(
        project,
        number=record.number if record else None,
        parent=parent,
        parent_known=parent_known,
        iam_policy=iam_policy,
        ancestors=ancestors,
        assets=read_assets(evidence, base),
        service_accounts=read_service_accounts(evidence, base),
        sa_policies=read_service_account_policies(evidence, base),
        sa_keys=read_keys(evidence, base),
        custom_roles=read_custom_roles(evidence, base),
        clusters=read_clusters(evidence, base),
        project_unread=record.unread if record else (),
        deny=read_deny_policies(evidence, base),
        groups=read_group_memberships(evidence, base),
    )
