"""Rules on how workloads reach Azure identities: federation, the webhook's label, AKS workload identity."""

from __future__ import annotations

from collections.abc import Iterator

from kubeiam.vocabulary.findings import Category, Severity
from kubeiam.vocabulary.identity_groups import identity_groups
from kubeiam.vocabulary.model import Inventory, LinkStatus, Workload
from kubeiam.vocabulary.rules import Match, rule
from kubeiam_azure.declarations import AZURE, AZURE_CLIENT_ID, AZURE_USE_LABEL
from kubeiam_azure.judge.trust import AUDIENCE, subject_patterns, wildcard
from kubeiam_azure.rules.helpers import EVIDENCE_SAMPLE, verdicts, view_of
from kubeiam_azure.view import AzureView

WI_DOCS = "https://azure.github.io/azure-workload-identity/docs/"


@rule(
    "AZ-007",
    "Managed identity is federated to more than one ServiceAccount or cluster",
    Category.TRUST_UNSCOPED,
    Severity.HIGH,
    rationale=(
        "Each federated credential admits one issuer and subject. An identity with several (or a "
        "wildcard subject) can be taken by every one of those ServiceAccounts, so a compromise of the "
        "least trusted workload yields the identity."
    ),
    remediation="Give each ServiceAccount its own managed identity; delete the other federated credentials.",
    cloud=AZURE,
    references=("https://learn.microsoft.com/entra/workload-id/workload-identity-federation",),
)
def shared_identity(inv: Inventory) -> Iterator[Match]:
    view = view_of(inv)
    if view is None:
        return
    # Per identity, not per ServiceAccount: one Match for all the ServiceAccounts that take it.
    for group in identity_groups(inv, AZURE, (LinkStatus.RESOLVED,)):
        link = group.link
        subjects, wild = _federation(view, link.principal)
        if len(subjects) < 2 and not wild:
            continue
        # Severity rises with what the identity can do: a shared admin identity is critical.
        admin = any(v.admin for v in verdicts(inv, link.identity))
        yield Match.for_sas(
            link.cluster,
            group.service_accounts,
            item=link.principal,
            cloud=AZURE,
            principal=link.principal,
            source=link.principal,
            detail=f"{len(subjects)} subjects" + (f", wildcard in {', '.join(wild)}" if wild else ""),
            severity=Severity.CRITICAL if admin else None,
            evidence={
                # A sample keeps reports small when an identity is shared by hundreds.
                "federated_credentials": [{"issuer": i, "subject": s} for i, s in subjects[:EVIDENCE_SAMPLE]],
                "federated_credential_count": len(subjects),
                "wildcard_credentials": wild,
            },
        )


def _federation(view: AzureView, identity_id: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(issuer, subject) pairs an identity's credentials admit, and the names of its wildcard ones."""
    subjects: set[tuple[str, str]] = set()
    wild = []
    for c in view.federated.get(identity_id, ()):
        if AUDIENCE in c.audiences:
            subjects.update((c.issuer, p) for p in subject_patterns(c))
            if wildcard(c):
                wild.append(c.name)
    return sorted(subjects), sorted(wild)


@rule(
    "AZ-008",
    "Azure workload identity binding is broken",
    Category.BINDING_BROKEN,
    Severity.MEDIUM,
    rationale=(
        "Entra ID exchanges the ServiceAccount token only if a federated credential of the identity "
        "has exactly the cluster's issuer, the subject system:serviceaccount:NS:NAME and the audience "
        "api://AzureADTokenExchange (and the tenant matches). Otherwise the SDK's credential chain "
        "falls through to other credentials, often the node's."
    ),
    remediation=(
        "az identity federated-credential create --identity-name NAME --resource-group RG "
        "--issuer <cluster issuer> --subject system:serviceaccount:NS:SA --audiences api://AzureADTokenExchange"
    ),
    cloud=AZURE,
    references=(WI_DOCS,),
)
def broken_binding(inv: Inventory) -> Iterator[Match]:
    for sa, link in inv.links_in(AZURE):
        if link.status is LinkStatus.UNTRUSTED:
            cluster = inv.cluster(sa.cluster)
            yield Match.for_sa(
                sa,
                item=link.principal,
                cloud=AZURE,
                principal=link.principal,
                source=link.principal,
                detail=link.reason,
                evidence={
                    "client_id": sa.annotations.get(AZURE_CLIENT_ID),
                    "identity": link.principal,
                    "reason": link.reason,
                    "expected": {
                        "issuer": cluster.issuer if cluster else None,
                        "subject": f"system:serviceaccount:{sa.namespace}:{sa.name}",
                        "audience": AUDIENCE,
                    },
                },
            )


@rule(
    "AZ-009",
    "Pods of an Azure workload-identity ServiceAccount lack the use label",
    Category.BINDING_BROKEN,
    # FINDINGS.md puts binding-broken at medium at least, so this cannot be lower.
    Severity.MEDIUM,
    rationale=(
        "Since azure-workload-identity v1.0 the webhook injects the token and AZURE_* variables only "
        'into pods labelled azure.workload.identity/use: "true" (a label on the ServiceAccount is not '
        "enough). Unlabelled pods get no token and fall back to other credentials."
    ),
    remediation='Add the label azure.workload.identity/use: "true" to the pod template.',
    cloud=AZURE,
    references=(WI_DOCS + "topics/service-account-labels-and-annotations.html",),
)
def missing_use_label(inv: Inventory) -> Iterator[Match]:
    unlabelled = {(w.cluster, w.namespace, w.service_account) for w in inv.workloads if _unlabelled(w)}
    if not unlabelled:
        return  # every pod carries the label: no ServiceAccount to walk
    seen: set[tuple[str, str, str]] = set()
    for sa, _link in inv.links_in(AZURE):
        if sa.key not in unlabelled or sa.key in seen:
            continue
        seen.add(sa.key)
        owners = sorted({(w.owner_kind, w.owner_name) for w in inv.workloads_of(sa) if _unlabelled(w)})
        # The principal is the annotation's client id, not the identity it resolves to: the finding is
        # about the ServiceAccount and its pods, and its fingerprint must not change when identities.json
        # is absent or unreadable.
        principal = (sa.annotations.get(AZURE_CLIENT_ID) or "").strip().lower() or None
        for kind, name in owners:
            yield Match.for_sa(
                sa,
                item=f"{kind}/{name}",
                cloud=AZURE,
                principal=principal,
                source=f"{kind}/{name}",
                detail=f"{kind} {name}",
                evidence={"workload": f"{kind}/{name}", "label": AZURE_USE_LABEL, "expected": "true"},
            )


def _unlabelled(w: Workload) -> bool:
    return w.labels.get(AZURE_USE_LABEL) != "true"


def _self_managed_webhook(inv: Inventory) -> set[str]:
    """Clusters running the azure-workload-identity webhook installed with Helm (no AKS add-on needed)."""
    return {
        w.cluster
        for w in inv.workloads
        if w.namespace == "azure-workload-identity-system" or w.owner_name.startswith("azure-wi-")
    }


@rule(
    "AZ-010",
    "AKS cluster has no OIDC issuer or workload identity",
    Category.BINDING_BROKEN,
    Severity.MEDIUM,
    rationale=(
        "Without the OIDC issuer Entra ID cannot verify ServiceAccount tokens; without the workload "
        "identity webhook pods get no federated token. ServiceAccounts annotated with a client id "
        "then silently use other credentials."
    ),
    remediation="az aks update --resource-group RG --name CLUSTER --enable-oidc-issuer --enable-workload-identity",
    cloud=AZURE,
    references=("https://learn.microsoft.com/azure/aks/workload-identity-deploy-cluster",),
)
def cluster_without_workload_identity(inv: Inventory) -> Iterator[Match]:
    view = view_of(inv)
    if view is None:
        return
    missing = _missing_features(inv, view)
    if not missing:
        return  # every AKS cluster has both: no ServiceAccount to walk
    for sa in inv.service_accounts:
        aks = view.aks.get(sa.cluster)
        if aks is None or AZURE_CLIENT_ID not in sa.annotations:
            continue
        for what in missing.get(sa.cluster, ()):
            yield Match.for_sa(
                sa,
                item=what,
                cloud=AZURE,
                principal=sa.annotations.get(AZURE_CLIENT_ID),
                source=aks.id,
                detail=f"{what} not enabled on {aks.name}",
                evidence={"cluster": aks.id, "missing": what, "file": aks.source},
            )


def _missing_features(inv: Inventory, view: AzureView) -> dict[str, list[str]]:
    """Per Kubernetes cluster, what its AKS object lacks for workload identity (clusters lacking nothing left out)."""
    webhook = _self_managed_webhook(inv)
    found = {}
    for name, aks in view.aks.items():
        missing = []
        # None: the flag could not be read. Not reported as missing, not taken as enabled: the reader's
        # coverage error names the cluster and AZ-010.
        if aks.oidc_issuer_enabled is False:
            missing.append("oidc-issuer")
        if aks.workload_identity_enabled is False and name not in webhook:
            missing.append("workload-identity")
        if missing:
            found[name] = missing
    return found


RULES = (
    shared_identity,
    broken_binding,
    missing_use_label,
    cluster_without_workload_identity,
)
