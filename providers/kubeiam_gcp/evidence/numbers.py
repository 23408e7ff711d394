"""Project id -> project number, from project.json or from the other files that say it.

Why not project.json alone: it is optional, and what hangs on the number must not change with it.
Cloud Asset names the project by number (`//cloudresourcemanager.googleapis.com/projects/NUMBER`),
node pools name the Compute Engine default account by number (`NUMBER-compute@...`); without the
number the same binding read twice (project policy and asset copy) would count twice, and a finding's
principal would change: every fingerprint "new" and "resolved" for a file left out. Every GCP estate
carries the number in other places too:
- the project's service account list holds `NUMBER-compute@developer.gserviceaccount.com` (and its
  resource name `projects/ID/serviceAccounts/...`);
- a project-scoped asset search names its results' project (`"project": "projects/NUMBER"`);
- Workload Identity Federation members name the pool's project both ways:
  `principal://iam.googleapis.com/projects/NUMBER/.../workloadIdentityPools/ID.svc.id.goog/...`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .project_folder import ProjectFiles

_COMPUTE_DEFAULT = re.compile(r"^(\d+)-compute@developer\.gserviceaccount\.com$")
_POOL_MEMBER = re.compile(
    r"^principal(?:Set)?://iam\.googleapis\.com/projects/(\d+)/locations/global/workloadIdentityPools/([^/]+)\.svc\.id\.goog/"
)
_PROJECT_RESOURCE = "//cloudresourcemanager.googleapis.com/projects/"


def project_numbers(folders: Mapping[str, ProjectFiles], members: Iterable[str]) -> dict[str, str]:
    """Project id -> number for every project some file names both ways; project.json wins."""
    found: dict[str, str] = {}
    for member in members:
        m = _POOL_MEMBER.match(member)
        if m:
            found.setdefault(m[2], m[1])
    for p in folders.values():
        for number in _from_accounts(p) or _from_assets(p):
            found.setdefault(p.project, number)
    for p in folders.values():
        if p.number:
            found[p.project] = p.number
    return found


def _from_accounts(p: ProjectFiles) -> list[str]:
    if p.service_accounts is None:
        return []
    numbers = set()
    for sa in p.service_accounts.accounts:
        m = _COMPUTE_DEFAULT.match(sa["email"])
        if m and sa.get("projectId") in (None, p.project):
            numbers.add(m[1])
    return sorted(numbers) if len(numbers) == 1 else []


def _from_assets(p: ProjectFiles) -> list[str]:
    """A project-scoped search names one project: its results' `project`, or the project's own policy."""
    if p.assets is None:
        return []
    numbers = {str(r["project"]).rpartition("/")[2] for r in p.assets.results if r.get("project")}
    numbers |= {
        r["resource"][len(_PROJECT_RESOURCE) :]
        for r in p.assets.results
        if r["resource"].startswith(_PROJECT_RESOURCE) and "/" not in r["resource"][len(_PROJECT_RESOURCE) :]
    }
    numbers = {n for n in numbers if n.isdigit()}
    return sorted(numbers) if len(numbers) == 1 else []
