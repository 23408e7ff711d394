"""What the usage files leave unchecked (GCP-011): never "unused", always named.

- an identity in scope whose usage data is absent (its project's insights for its project bindings, its
  account's last-authentication file): one entry per identity, subject its principal;
- a usage entry that cannot be read: its member when it can be read, else every Kubernetes cluster the
  project's files decide (whoever it concerns is unknown);
- a usage file holding one page of several: the same clusters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from kubeiam.vocabulary.model import CoverageError, IdentityLink, LinkStatus
from kubeiam_gcp.declarations import GCP
from kubeiam_gcp.judge.usage import UsageData, project_of_account

from .index import EvidenceIndex
from .json_checks import Unread
from .usage import ACTIVITY, INSIGHTS

USAGE_RULES = ("GCP-011",)
"""What usage data decides: the unused-access rule."""
_JUDGED = (LinkStatus.RESOLVED, LinkStatus.UNCHECKED)
"""The links GCP-011 judges (as the role rules: an unchecked link whose account is known)."""


def usage_coverage(
    index: EvidenceIndex,
    usage: UsageData,
    unread: Iterable[Unread],
    links: Sequence[IdentityLink],
    reach: Mapping[str, tuple[str, ...]],
) -> list[CoverageError]:
    return _unread(unread, reach) + _absent(index, usage, links)


def _unread(unread: Iterable[Unread], reach: Mapping[str, tuple[str, ...]]) -> list[CoverageError]:
    out: list[CoverageError] = []
    for u in unread:
        reason = f"{u.item}: {u.reason}"
        if u.account:
            subject = u.account.removeprefix("serviceAccount:")
            out.append(CoverageError(GCP, u.file, reason, subject=subject, rules=USAGE_RULES))
            continue
        project = u.file.split("/")[1]
        out += [CoverageError(GCP, u.file, reason, subject=c, rules=USAGE_RULES) for c in reach.get(project, ())]
    return out


def _absent(index: EvidenceIndex, usage: UsageData, links: Sequence[IdentityLink]) -> list[CoverageError]:
    """One entry per identity in scope that the usage files present do not wholly cover (per principal)."""
    out: list[CoverageError] = []
    seen: set[str] = set()
    for lk in links:
        identity = lk.identity
        if lk.status not in _JUDGED or identity is None or not identity.grants or lk.principal in seen:
            continue
        seen.add(lk.principal)
        missing: list[str] = []
        present = False
        if "://" not in lk.principal:
            project = project_of_account(lk.principal) or index.project_of(lk.principal)
            if project is not None and project not in usage.activity_projects:
                missing.append(f"gcp/{project}/{ACTIVITY}")
            present = project in usage.activity_projects
        for g in identity.grants:
            project = (g.scope or "").removeprefix("projects/")
            if g.scope_level != "project":
                continue
            if project in usage.insight_projects:
                present = True
            else:
                missing.append(f"gcp/{project}/{INSIGHTS}")
        if missing:
            files = list(dict.fromkeys(missing))
            said = "checked on the rest only" if present else "not checked"
            reason = f"not in the evidence: {', '.join(files)}: unused access of {lk.principal} {said}"
            out.append(CoverageError(GCP, files[0], reason, subject=lk.principal, rules=USAGE_RULES))
    return out
