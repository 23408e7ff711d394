"""K8S-006: subjects other than the workload can act as its ServiceAccount, and so hold its cloud identity.

For every ServiceAccount with a resolved cloud identity: who else may become it (the judge's takeover
index over the cluster's RBAC and what the clouds grant into it: EKS access entries and `aws-auth`, GKE
IAM, AKS Azure RBAC), one finding per (ServiceAccount, subject). Expected subjects (the bootstrap
controllers, `kubeiam.toml`'s `[takeover] expected`) are no findings, except where a cloud principal is
mapped onto one (an IAM role in `system:masters`): that mapping is a choice someone made.

Where the cluster's legacy token Secrets were not listed (live collection never reads Secrets), one may exist:
a reader of Secrets in the namespace is a finding one severity step lower whose evidence says the Secret is
unknown, unless it has another technique for the ServiceAccount (then the finding is as it would be, the
Secret read listed last). Unknown is not safe, and nothing is left unchecked for coverage to say.

ServiceAccounts without a cloud identity get no finding, hostNetwork ones included: a hostNetwork pod
reaches the node's credentials whatever its ServiceAccount, so the question there is who may create a
hostNetwork pod at all (Pod Security admission, not modelled), and K8S-004 plus the clouds' IMDS rules
already report the exposure itself (docs/kubernetes.md).
"""

from __future__ import annotations

from collections.abc import Iterator

from kubeiam.vocabulary.findings import Category, Severity
from kubeiam.vocabulary.model import IdentityLink, Inventory, LinkStatus, ServiceAccount
from kubeiam.vocabulary.rules import Match, rule
from kubeiam_kubernetes.judge.rbac_model import Subject
from kubeiam_kubernetes.judge.takeover_model import Takeover, TargetTakeover
from kubeiam_kubernetes.rules.takeover_evidence import Spec, power_of, spec
from kubeiam_kubernetes.rules.takeover_index import ClusterTakeover, cluster_takeover

Subjects = tuple[tuple[Subject, tuple[Takeover, ...], str | None], ...]
"""(subject, its takeovers, why it would be expected by default) for one ServiceAccount."""


@rule(
    "K8S-006",
    "Other subjects can act as this ServiceAccount and hold its cloud identity",
    Category.IDENTITY_TAKEOVER,
    Severity.MEDIUM,
    rationale=(
        "Whoever may create a pod or workload in the ServiceAccount's namespace, mint its tokens, impersonate "
        "it, exec or attach into its pods, read its legacy token Secret, or grant itself any of these, can run "
        "as the ServiceAccount and take its cloud identity; so can cloud principals mapped into the cluster "
        "(EKS access entries and aws-auth, GKE IAM, AKS Azure RBAC). Severity follows what the identity can do, "
        "raised when the subject is broad (system:authenticated, every ServiceAccount of a namespace)."
    ),
    remediation="Narrow the binding named in the evidence, or move the workload to a namespace of its own.",
    references=(
        "https://kubernetes.io/docs/concepts/security/rbac-good-practices/#privilege-escalation-risks",
        "https://kubernetes.io/docs/reference/access-authn-authz/rbac/#privilege-escalation-prevention-and-bootstrapping",
    ),
)
def identity_takeover(inv: Inventory) -> Iterator[Match]:
    groups: dict[tuple[object, ...], tuple[Spec, list[ServiceAccount], IdentityLink]] = {}
    clusters: dict[str, ClusterTakeover | None] = {}
    for sa in inv.service_accounts:
        links = inv.links_of(sa)
        if not links:
            continue
        if sa.cluster not in clusters:
            clusters[sa.cluster] = cluster_takeover(inv, sa.cluster)
        ct = clusters[sa.cluster]
        if ct is None:
            continue  # rbac.json not read: coverage names the cluster
        for link in links:
            if link.status is not LinkStatus.RESOLVED:
                continue
            power = power_of(inv, link)
            for subject, takeovers, by_default in _subjects(ct, ct.of(inv, sa)):
                # A subject a cloud principal stands behind gets a path naming this ServiceAccount.
                own = None
                if ct.cloud and subject.principal in ct.cloud:
                    if _its_own_identity(ct, subject, link):
                        continue  # the identity itself, mapped into the cluster: becoming it gains nothing
                    own = f"{sa.namespace}/{sa.name}"
                key = (link.principal, id(link.identity), subject.principal, id(takeovers), own)
                found = groups.get(key)
                if found is None:
                    groups[key] = (spec(ct, subject, takeovers, link, power, own, by_default), [sa], link)
                else:
                    found[1].append(sa)
    for spec_, sas, link in groups.values():
        # One Match per cluster: a key holds ServiceAccounts of one cluster only (takeovers are per cluster).
        yield Match.for_sas(
            sas[0].cluster,
            tuple(sas),
            spec_.item,
            cloud=link.cloud,
            principal=link.principal,
            detail=spec_.detail,
            evidence=spec_.evidence,
            severity=spec_.severity,
            remediation=spec_.remediation,
        )


def _its_own_identity(ct: ClusterTakeover, subject: Subject, link: IdentityLink) -> bool:
    """Every cloud principal behind `subject` is the ServiceAccount's own identity (a Google service account
    granted container.* on the project, taking over the ServiceAccount that takes it). Members are written
    `serviceAccount:EMAIL` where links say `EMAIL`: the part after the first colon is compared too."""
    behind = ct.cloud.get(subject.principal, ())
    return bool(behind) and all(link.principal in (c.principal, c.principal.split(":", 1)[-1]) for c in behind)


def _subjects(ct: ClusterTakeover, result: TargetTakeover) -> Subjects:
    """The findings by subject, plus expected takeovers of subjects a cloud principal is mapped onto.

    Memoised per findings tuple: the judge shares one tuple between the ServiceAccounts of a namespace
    that no named grant singles out, so the grouping (and the evidence) is made once for all of them."""
    memo = ct.grouped
    key = (id(result.findings), id(result.expected))
    hit = memo.get(key)
    if hit is not None and hit[0] is result.findings and hit[1] is result.expected:
        cached: Subjects = hit[2]
        return cached
    grouped: dict[Subject, list[Takeover]] = {}
    for t in result.findings:
        grouped.setdefault(t.subject, []).append(t)
    by_default: dict[Subject, str] = {}
    if ct.cloud:
        for t in result.expected:
            if t.subject.principal in ct.cloud and t.expected is not None:
                grouped.setdefault(t.subject, []).append(t)
                by_default.setdefault(t.subject, t.expected.why)
    out: Subjects = tuple(
        (s, tuple(ts), by_default.get(s) if all(t.expected is not None for t in ts) else None)
        for s, ts in sorted(grouped.items())
    )
    memo[key] = (result.findings, result.expected, out)
    return out


RULES = (identity_takeover,)
